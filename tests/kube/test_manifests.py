"""render_job is pure: a Job dict from plain arguments, compared to a literal (no cluster)."""
from __future__ import annotations

import copy

import pytest

from aideator.runtimes.kubernetes import manifests

from .conftest import render

EXPECTED = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "agent-run-k3x9m2p7q1-2",
        "namespace": "aideator",
        "labels": {"app": "aideator-agent", "run-id": "run-k3x9m2p7q1", "variation-id": "2"},
    },
    "spec": {
        "ttlSecondsAfterFinished": 600,
        "activeDeadlineSeconds": 900,
        "backoffLimit": 0,
        "template": {
            "metadata": {"labels": {"app": "aideator-agent", "run-id": "run-k3x9m2p7q1",
                                    "variation-id": "2"}},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                    "runAsGroup": 10001, "fsGroup": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "agent",
                    "image": "localhost:5005/aideator-agent:dev",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [
                        {"name": "HOME", "value": "/home/agent"},
                        {"name": "RUN_ID", "value": "run-k3x9m2p7q1"},
                        {"name": "VARIATION_ID", "value": "2"},
                        {"name": "REPO_URL", "value": "https://github.com/octocat/Hello-World"},
                        # "$" doubled: the kubelet turns "$$" back into "$".
                        {"name": "PROMPT", "value": "Rename $$(FOO) to $${BAR}"},
                        {"name": "WORKSPACE", "value": "/workspace"},
                        {"name": "MODEL", "value": "claude-sonnet-4-5"},
                        {"name": "TEMPERATURE", "value": "0.7"},
                        # No Secret: the model key stays with the service's gateway; the
                        # agent gets the gateway's URL and its variation's own credential.
                        {"name": "ANTHROPIC_BASE_URL",
                         "value": "http://aideator.aideator:8000/gateway/anthropic"},
                        {"name": "ANTHROPIC_API_KEY", "value": "gateway-credential"},
                    ],
                    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                                  "limits": {"cpu": "2", "memory": "4Gi"}},
                    "securityContext": {"allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"},
                                     {"name": "home", "mountPath": "/home/agent"},
                                     {"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "workspace", "emptyDir": {"sizeLimit": "2Gi"}},
                            {"name": "home", "emptyDir": {"sizeLimit": "256Mi"}},
                            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
            },
        },
    },
}

SAMPLE = dict(
    run_id="run-k3x9m2p7q1", variation_id=2,
    env={"RUN_ID": "run-k3x9m2p7q1", "VARIATION_ID": "2",
         "REPO_URL": "https://github.com/octocat/Hello-World",
         "PROMPT": "Rename $(FOO) to ${BAR}", "WORKSPACE": "/workspace",
         "MODEL": "claude-sonnet-4-5", "TEMPERATURE": "0.7",
         "ANTHROPIC_BASE_URL": "http://aideator.aideator:8000/gateway/anthropic",
         "ANTHROPIC_API_KEY": "gateway-credential"},
    image="localhost:5005/aideator-agent:dev", namespace="aideator",
    ttl_seconds=600, deadline_seconds=900,
    resources={"requests": {"cpu": "250m", "memory": "512Mi"},
               "limits": {"cpu": "2", "memory": "4Gi"}},
    image_pull_policy="IfNotPresent")


def test_render_job_matches_the_literal_job() -> None:
    assert manifests.render_job(**SAMPLE) == EXPECTED


def test_renders_do_not_share_or_mutate_the_template() -> None:
    first = manifests.render_job(**SAMPLE)
    pristine = manifests.load_template()
    first["spec"]["template"]["spec"]["containers"][0]["env"].clear()
    first["metadata"]["labels"]["x"] = "y"
    assert manifests.load_template() == pristine
    assert manifests.render_job(**SAMPLE) == EXPECTED


def test_pull_policy_and_pull_secrets_are_optional() -> None:
    job = manifests.render_job(**{**SAMPLE, "image_pull_policy": None},
                               image_pull_secrets=["registry-creds"])
    pod = job["spec"]["template"]["spec"]
    assert "imagePullPolicy" not in pod["containers"][0]
    assert pod["imagePullSecrets"] == [{"name": "registry-creds"}]


def test_runtime_class_is_set_only_when_given() -> None:
    assert "runtimeClassName" not in manifests.render_job(**SAMPLE)["spec"]["template"]["spec"]
    job = manifests.render_job(**SAMPLE, runtime_class="gvisor")
    assert job["spec"]["template"]["spec"]["runtimeClassName"] == "gvisor"


def test_workspace_constant_is_the_templates_mount() -> None:
    mounts = manifests.load_template()["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "workspace", "mountPath": manifests.WORKSPACE} in mounts


def test_helpers() -> None:
    assert manifests.job_name("run-k3x9m2p7q1", 4) == "agent-run-k3x9m2p7q1-4"
    assert manifests.label_selector("run-k3x9m2p7q1") == "app=aideator-agent,run-id=run-k3x9m2p7q1"
    assert (manifests.label_selector("run-k3x9m2p7q1", 1)
            == "app=aideator-agent,run-id=run-k3x9m2p7q1,variation-id=1")
    assert manifests.escape_env_value("a $(B) $$ c$") == "a $$(B) $$$$ c$$"


@pytest.mark.parametrize("override", [
    {"run_id": "run_k8s_abc123"},            # the PRD's example id: not DNS-1123
    {"run_id": "Run-K3X9M2P7Q1"},
    {"run_id": "run-" + "a" * 60},           # agent-<id>-<n> longer than 63
    {"run_id": "run-x\ny"},
    {"variation_id": -1},
    {"variation_id": True},
    {"variation_id": "1"},
    {"namespace": "Not_A_Namespace"},
    {"image": ""},
    {"image": "agent:latest\n  privileged: true"},
    {"image_pull_policy": "Sometimes"},
    {"runtime_class": "gVisor runsc"},
    {"ttl_seconds": -1},
    {"deadline_seconds": 0},
    {"resources": {"requests": {}, "claims": []}},
    {"env": {"BAD NAME": "x"}},
    {"env": {"HOME": "/root"}},
    {"env": {"PROMPT": "nul \x00 byte"}},
    {"env": {"N": 3}},
])
def test_invalid_input_raises_value_error(override: dict) -> None:
    with pytest.raises(ValueError):
        manifests.render_job(**{**SAMPLE, **override})


def test_user_text_only_lands_in_env_values() -> None:
    nasty = "x\n---\nkind: Pod\nmetadata: {name: evil}\n"
    job = render(prompt=nasty, config={"model": nasty})
    flat = copy.deepcopy(job)
    env = flat["spec"]["template"]["spec"]["containers"][0].pop("env")
    assert nasty not in repr(flat)
    assert {"name": "PROMPT", "value": nasty} in env
    assert {"name": "MODEL", "value": nasty} in env


def test_secret_variables_are_references_to_the_jobs_secret_and_the_job_waits() -> None:
    from aideator.runtimes.agent_env import SECRET_VARIABLES
    checks = [{"name": "unit", "command": "pytest -q tests/secret_feature",
               "timeout_seconds": 60}]
    # A Claude Code variation of a run without a setup carries these of them.
    carried = {"PROMPT", "CHECKS", "ANTHROPIC_API_KEY", "GIT_CONFIG_VALUE_1"}
    assert carried <= SECRET_VARIABLES
    job = render(prompt="Refactor main.py", checks=checks, secret_env=carried)
    name = job["metadata"]["name"]
    assert job["spec"]["suspend"] is True  # no pod before its Secret exists
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    for variable in ("PROMPT", "CHECKS", "ANTHROPIC_API_KEY", "GIT_CONFIG_VALUE_1"):
        assert env[variable] == {"name": variable, "valueFrom": {"secretKeyRef": {
            "name": name, "key": variable}}}
    text = str(job)
    assert "Refactor main.py" not in text and "aidg_test-credential" not in text
    assert "secret_feature" not in text
    assert env["REPO_URL"]["value"] == "https://github.com/octocat/Hello-World"


def test_render_secret_is_owned_by_the_created_job() -> None:
    from .conftest import GATEWAY_TOKEN
    job = render(secret_env={"PROMPT", "ANTHROPIC_API_KEY"})
    with pytest.raises(ValueError):  # an uncreated Job has no uid to own anything
        manifests.render_secret(job=job, env={"PROMPT": "p", "ANTHROPIC_API_KEY": "k"},
                                secret_env={"PROMPT"})
    job["metadata"]["uid"] = "0b8c8a4e-1f55-4a5f-9d53-5d3b1c0e7d11"
    secret = manifests.render_secret(
        job=job, env={"PROMPT": "cost $(HOME) $$5 ☃", "ANTHROPIC_API_KEY": GATEWAY_TOKEN,
                      "RUN_ID": "run-k3x9m2p7q1"},
        secret_env={"PROMPT", "ANTHROPIC_API_KEY"})
    assert secret == {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "immutable": True,
        "metadata": {"name": "agent-run-k3x9m2p7q1-0", "namespace": "default",
                     "labels": {"app": "aideator-agent", "run-id": "run-k3x9m2p7q1",
                                "variation-id": "0"},
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                          "name": "agent-run-k3x9m2p7q1-0",
                                          "uid": "0b8c8a4e-1f55-4a5f-9d53-5d3b1c0e7d11"}]},
        # Not "$"-escaped: the kubelet does not expand values from a Secret.
        "data": {"ANTHROPIC_API_KEY": "YWlkZ190ZXN0LWNyZWRlbnRpYWw=",
                 "PROMPT": "Y29zdCAkKEhPTUUpICQkNSDimIM="}}
    with pytest.raises(ValueError):
        render(secret_env={"NOT_IN_ENV"})
