"""The agent Job the service would create with the chart's settings: read the API pod's
environment from the rendered chart, load the service's settings from it, render the Job the
way the Kubernetes runtime does, and check it against the cluster-side objects of the chart
(schemas, security context, NetworkPolicy, Secret, LimitRange)."""
from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from aideator.runtimes.kubernetes import manifests
from aideator.runtimes.kubernetes.runtime import agent_resources
from aideator.runtimes.agent_env import BASE_PATCH_DIR, BASE_PATCH_KEY, agent_environment
from aideator.config import Settings, gateway_url, load_settings

from .conftest import KUBE_VERSIONS, PRODUCTION, VALUE_SETS, api_environment, find, render

WITH_KEY = ("--set", "anthropic.apiKey=sk-test", "--set", "agents.namespace=agents")
SANDBOXED = ("--set", "agents.namespace=agents", "--set", "agents.createNamespace=true",
             "--set", "agents.runtimeClassName=gvisor")
CASES = {**VALUE_SETS, "chart-secret": WITH_KEY, "runtime-class": SANDBOXED}


def settings_of(objects: list[dict[str, Any]]) -> Settings:
    env = api_environment(objects)
    return load_settings({k: v for k, v in env.items() if isinstance(v, str)})


def job_for(settings: Settings, variation_id: int = 0, child: bool = False) -> dict[str, Any]:
    """``child``: a variation of a run iterating on another (the parent's change is a file
    of the Job's Secret)."""
    env = agent_environment(run_id="run-k3x9m2p7q1", variation_id=variation_id,
                            repo_url="https://github.com/octocat/Hello-World",
                            prompt="Refactor main.py", config={"model": settings.default_model},
                            workspace=manifests.WORKSPACE, gateway_url=gateway_url(settings),
                            gateway_token="gateway-credential")
    return manifests.render_job(
        run_id="run-k3x9m2p7q1", variation_id=variation_id, env=env,
        image=settings.agent_image, image_pull_policy=settings.agent_image_pull_policy,
        namespace=settings.kube_namespace, ttl_seconds=settings.job_ttl_seconds,
        deadline_seconds=settings.job_deadline_seconds,
        runtime_class=settings.agent_runtime_class,
        secret_files=[BASE_PATCH_KEY] if child else [], files_dir=BASE_PATCH_DIR,
        resources=agent_resources(settings))


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are checked here"
    return selector.get("matchLabels", {}).items() <= labels.items()


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_job_validates_strictly(case: str, version: str) -> None:
    job = job_for(settings_of(render(*CASES[case])))
    kubernetes_validate.validate(job, version, strict=True)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_job_carries_the_chart_settings(case: str) -> None:
    objects = render(*CASES[case])
    env = api_environment(objects)
    job = job_for(settings_of(objects))
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == env["AIDEATOR_AGENT_IMAGE"]
    assert container["imagePullPolicy"] == env["AIDEATOR_AGENT_IMAGE_PULL_POLICY"]
    assert job["metadata"]["namespace"] == env["AIDEATOR_KUBE_NAMESPACE"]
    assert job["spec"]["ttlSecondsAfterFinished"] == int(env["AIDEATOR_JOB_TTL_SECONDS"])
    assert job["spec"]["activeDeadlineSeconds"] == int(env["AIDEATOR_JOB_DEADLINE_SECONDS"])
    # The caps of each agent pod, as the chart's values set them.
    assert container["resources"] == {
        "requests": {"cpu": env["AIDEATOR_AGENT_CPU_REQUEST"],
                     "memory": env["AIDEATOR_AGENT_MEMORY_REQUEST"],
                     "ephemeral-storage": env["AIDEATOR_AGENT_EPHEMERAL_STORAGE_REQUEST"]},
        "limits": {"cpu": env["AIDEATOR_AGENT_CPU_LIMIT"],
                   "memory": env["AIDEATOR_AGENT_MEMORY_LIMIT"],
                   "ephemeral-storage": env["AIDEATOR_AGENT_EPHEMERAL_STORAGE_LIMIT"]}}


def test_the_job_caps_follow_the_values_and_their_defaults() -> None:
    defaults = job_for(settings_of(render()))["spec"]["template"]["spec"]
    assert defaults["containers"][0]["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "10Gi"}}
    custom = job_for(settings_of(render(
        "--set", "agents.resources.limits.memory=3Gi",
        "--set", "agents.resources.limits.ephemeral-storage=20Gi")))
    limits = custom["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "1", "memory": "3Gi", "ephemeral-storage": "20Gi"}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_job_pod_is_locked_down(case: str) -> None:
    pod = job_for(settings_of(render(*CASES[case])))["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_network_policy_selects_the_job_pod(case: str) -> None:
    objects = render(*CASES[case])
    job = job_for(settings_of(objects), variation_id=3)
    policy = find(objects, "NetworkPolicy")
    assert policy["metadata"]["namespace"] == job["metadata"]["namespace"]
    assert matches(policy["spec"]["podSelector"], job["spec"]["template"]["metadata"]["labels"])
    # ... and not the API's own pod, which must reach the Kubernetes API.
    api_pod = find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not matches(policy["spec"]["podSelector"], api_pod)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_job_fits_the_limit_range_and_the_quota(case: str) -> None:
    objects = render(*CASES[case])
    job = job_for(settings_of(objects))
    limits = job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    limit_range = find(objects, "LimitRange")
    assert limit_range["metadata"]["namespace"] == job["metadata"]["namespace"]
    ceiling = limit_range["spec"]["limits"][0]["max"]
    quota = find(objects, "ResourceQuota")["spec"]["hard"]
    for resource in ("cpu", "memory"):
        assert quantity(limits[resource]) <= quantity(ceiling[resource]), resource
        # the quota leaves room for at least one full run of 5 variations
        assert 5 * quantity(limits[resource]) <= quantity(quota[f"limits.{resource}"]), resource


def test_the_job_holds_no_secret_only_the_gateway_and_its_own_credential() -> None:
    objects = render(*WITH_KEY)
    job = job_for(settings_of(objects))
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not any("valueFrom" in e for e in env.values())
    assert env["ANTHROPIC_API_KEY"]["value"] == "gateway-credential"
    assert env["ANTHROPIC_BASE_URL"]["value"].endswith("/gateway/anthropic")


def test_production_jobs_run_in_the_agents_namespace() -> None:
    job = job_for(settings_of(render(*PRODUCTION)))
    assert job["metadata"]["namespace"] == "aideator-agents"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.example.com/aideator/aideator-agent:2.0.0"
    assert "runtimeClassName" not in job["spec"]["template"]["spec"]


def test_the_runtime_class_value_reaches_the_job() -> None:
    job = job_for(settings_of(render(*SANDBOXED)))
    assert job["spec"]["template"]["spec"]["runtimeClassName"] == "gvisor"


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_network_policy_lets_the_job_reach_the_gateway_it_is_given(case: str) -> None:
    """The gateway URL the service gives agents leads to a pod and port the policy allows."""
    objects = render(*CASES[case])
    env = api_environment(objects)
    job = job_for(settings_of(objects))
    service = find(objects, "Service")
    host, port = env["AIDEATOR_GATEWAY_URL"].removeprefix("http://").split(":")
    name, namespace = host.removesuffix(".svc").split(".")
    assert (name, int(port)) == (service["metadata"]["name"], service["spec"]["ports"][0]["port"])
    api = find(objects, "Deployment")
    assert api["metadata"]["namespace"] == namespace
    assert matches({"matchLabels": service["spec"]["selector"]},
                   api["spec"]["template"]["metadata"]["labels"])
    target = {p["name"]: p["containerPort"] for p in
              api["spec"]["template"]["spec"]["containers"][0]["ports"]}[
        service["spec"]["ports"][0]["targetPort"]]
    policy = find(objects, "NetworkPolicy")["spec"]
    gateway = [rule for rule in policy["egress"]
               if any("podSelector" in peer and
                      matches(peer["podSelector"], api["spec"]["template"]["metadata"]["labels"])
                      for peer in rule["to"])]
    assert len(gateway) == 1 and gateway[0]["ports"] == [{"port": target, "protocol": "TCP"}]
    peer = gateway[0]["to"][0]
    if job["metadata"]["namespace"] != namespace:
        assert peer["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": namespace}}
    else:
        assert "namespaceSelector" not in peer


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
@pytest.mark.parametrize("child", [False, True], ids=["run", "child-run"])
def test_the_job_pod_meets_the_restricted_pod_security_standard(case: str, child: bool) -> None:
    """What the restricted profile checks, for the pod the service creates (a child run's
    pod also mounts its Secret: a volume type the profile allows)."""
    pod = job_for(settings_of(render(*CASES[case])), child=child)["spec"]["template"]["spec"]
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
    kinds = {next(iter(set(volume) - {"name"})) for volume in pod["volumes"]}
    assert kinds == ({"emptyDir", "secret"} if child else {"emptyDir"})
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"] and "add" not in context["capabilities"]
        assert "privileged" not in context and "ports" not in container
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"


SUFFIXES = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}


def quantity(value: Any) -> float:
    text = str(value)
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * SUFFIXES[suffix]
    return float(text)
