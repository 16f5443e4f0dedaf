"""The chart's Role grants exactly what aideator/runtimes/kubernetes/rbac.py declares
(PRD §7): one source of truth, so a verb the runtime starts using without the chart (or the
reverse) fails here."""
from __future__ import annotations

import yaml

from aideator.runtimes.kubernetes.rbac import role_rules

from . import rbac_rules
from .conftest import CHART, NAMESPACE, PRODUCTION, find, render

RULES_FILE = CHART / "files" / "rbac-rules.yaml"


def test_the_chart_rules_file_equals_the_runtime_rules() -> None:
    assert yaml.safe_load(RULES_FILE.read_text()) == role_rules(), (
        "chart/files/rbac-rules.yaml differs from aideator/runtimes/kubernetes/rbac.py; "
        "regenerate it with `python -m tests.deploy.rbac_rules > chart/files/rbac-rules.yaml`")


def test_the_rules_file_is_exactly_what_the_generator_prints() -> None:
    assert RULES_FILE.read_text() == rbac_rules.render()


def test_the_rendered_role_equals_the_runtime_rules() -> None:
    for args in ((), PRODUCTION):
        role = find(render(*args), "Role")
        assert role["rules"] == role_rules()


def test_the_role_grants_no_wildcards_and_never_reads_secrets() -> None:
    rules = find(render(), "Role")["rules"]
    for rule in rules:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        if "secrets" in rule["resources"]:  # each Job's own, deleted with it by the GC
            assert rule["verbs"] == ["create"]


def test_the_binding_gives_the_role_to_the_api_service_account() -> None:
    for args, agents_ns in (((), NAMESPACE), (PRODUCTION, "aideator-agents")):
        objects = render(*args)
        role, binding = find(objects, "Role"), find(objects, "RoleBinding")
        account = find(objects, "ServiceAccount")
        pod = find(objects, "Deployment")["spec"]["template"]["spec"]
        assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == agents_ns
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": role["metadata"]["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount",
                                        "name": account["metadata"]["name"],
                                        "namespace": NAMESPACE}]
        assert pod["serviceAccountName"] == account["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is True
