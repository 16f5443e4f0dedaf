"""aideator.runtimes.kubernetes.rbac is the PRD's permission list, as data the chart and
the tests share."""
from __future__ import annotations

import json

from aideator.runtimes.kubernetes import rbac


def test_prd_permissions() -> None:
    for verb in ("create", "get", "list", "watch", "delete"):
        assert rbac.allowed(verb, "jobs", api_group="batch")
    # Issue 20: a Job is created suspended, its Secret (prompt, credential) created owned
    # by it, then the Job resumed.
    assert rbac.allowed("patch", "jobs", api_group="batch")
    assert rbac.allowed("create", "secrets", api_group="")
    for verb in ("get", "list", "watch"):
        assert rbac.allowed(verb, "pods", api_group="")
    assert rbac.allowed("get", "pods/log")
    # Issue 10: Warning events of the agents' Jobs and pods (one watch, lists by object).
    for verb in ("list", "watch"):
        assert rbac.allowed(verb, "events", api_group="")


def test_nothing_more() -> None:
    assert not rbac.allowed("update", "jobs")
    # Secrets are written once and deleted by the garbage collector: never read back.
    for verb in ("get", "list", "watch", "update", "patch", "delete", "deletecollection"):
        assert not rbac.allowed(verb, "secrets")
    assert not rbac.allowed("deletecollection", "jobs")
    assert not rbac.allowed("delete", "pods")
    assert not rbac.allowed("create", "pods")
    assert not rbac.allowed("create", "pods/exec")
    assert not rbac.allowed("list", "pods/log")
    assert not rbac.allowed("get", "jobs", api_group="")
    for verb in ("get", "create", "update", "patch", "delete"):
        assert not rbac.allowed(verb, "events")


def test_role_rules_are_plain_json() -> None:
    rules = rbac.role_rules()
    assert json.loads(json.dumps(rules)) == rules
    assert rules[0] == {"apiGroups": ["batch"], "resources": ["jobs"],
                        "verbs": ["create", "get", "list", "watch", "delete", "patch"]}
    rules[0]["verbs"].append("update")
    assert not rbac.allowed("update", "jobs")
