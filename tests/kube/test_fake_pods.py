"""Pod states the fake kubelet reproduces: image pull failures, OOM, Unschedulable, a
missing Secret; chosen per Job by name pattern, pod label or env value."""
from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .conftest import NAMESPACE, render
from .kubeutil import status_of
from .fakeapi import (BEHAVIOUR_LABEL, IMAGE_PULL_BACKOFF, OOM_KILLED, UNSCHEDULABLE,
                      FakeKubeAPI)


def _pod_where(fake_kube, job: str, predicate) -> dict:
    return fake_kube.wait_for(lambda: [p for p in fake_kube.pods_of(job) if predicate(p)])[0]


def _waiting_reason(pod: dict) -> str | None:
    statuses = pod["status"].get("containerStatuses") or [{}]
    return statuses[0].get("state", {}).get("waiting", {}).get("reason")


def test_image_pull_failure_stays_pending(batch, core, fake_kube) -> None:
    fake_kube.set_behaviour("*-1", IMAGE_PULL_BACKOFF)
    job = batch.create_namespaced_job(NAMESPACE, render(variation_id=1)).metadata.name
    first = _pod_where(fake_kube, job, lambda p: _waiting_reason(p) == "ErrImagePull")
    name = first["metadata"]["name"]
    _pod_where(fake_kube, job, lambda p: _waiting_reason(p) == "ImagePullBackOff")
    pod = core.read_namespaced_pod(name, NAMESPACE)
    waiting = pod.status.container_statuses[0].state.waiting
    assert pod.status.phase == "Pending"
    assert (waiting.reason, waiting.message) == (
        "ImagePullBackOff", 'Back-off pulling image "aideator-agent:test"')
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log(name, NAMESPACE)
    assert status_of(caught.value)["message"] == (
        f'container "agent" in pod "{name}" is waiting to start: image can\'t be pulled')
    job_status = batch.read_namespaced_job(job, NAMESPACE).status
    assert (job_status.active, job_status.ready, job_status.conditions) == (1, 0, None)


def test_oom_killed_after_first_output(batch, core, fake_kube) -> None:
    job = batch.create_namespaced_job(NAMESPACE, render(config={
        "fakekube_behaviour": OOM_KILLED, "fake_lines": 50, "fake_interval": 0.02})
    ).metadata.name
    pod = _pod_where(fake_kube, job, lambda p: p["status"]["phase"] == "Failed")
    state = core.read_namespaced_pod(pod["metadata"]["name"], NAMESPACE).status \
        .container_statuses[0].state.terminated
    assert (state.exit_code, state.reason) == (137, "OOMKilled")
    assert core.read_namespaced_pod_log(pod["metadata"]["name"], NAMESPACE).startswith("line 0\n")
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, job)["status"].get("failed"))


def test_unschedulable_by_pod_label(batch, core, fake_kube) -> None:
    job = render()
    job["spec"]["template"]["metadata"]["labels"][BEHAVIOUR_LABEL] = UNSCHEDULABLE
    name = batch.create_namespaced_job(NAMESPACE, job).metadata.name
    pod = _pod_where(fake_kube, name, lambda p: p["status"].get("conditions"))
    pod = core.read_namespaced_pod(pod["metadata"]["name"], NAMESPACE)
    (condition,) = pod.status.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "PodScheduled", "False", "Unschedulable")
    assert pod.status.phase == "Pending" and pod.spec.node_name is None


def test_missing_secret_is_create_container_config_error_until_it_exists(
        batch, core, fake_kube) -> None:
    manifest = render()   # (the agent's Job refers to no Secret: one is added here)
    manifest["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "SOME_KEY", "valueFrom": {"secretKeyRef": {"name": "not-yet",
                                                            "key": "api-key"}}})
    job = batch.create_namespaced_job(NAMESPACE, manifest).metadata.name
    pod = _pod_where(fake_kube, job,
                     lambda p: _waiting_reason(p) == "CreateContainerConfigError")
    message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert message == 'secret "not-yet" not found'
    core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "not-yet"},
                                              "stringData": {"api-key": "late"}})
    _pod_where(fake_kube, job, lambda p: p["status"]["phase"] == "Succeeded")


def test_without_a_kubelet_command_pods_fail_to_start() -> None:
    with FakeKubeAPI() as server:
        server.create_secret(NAMESPACE, "anthropic-secret", {"api-key": "k"})
        api = client.BatchV1Api(server.api_client())
        name = api.create_namespaced_job(NAMESPACE, render()).metadata.name
        pod = server.wait_for(lambda: [p for p in server.pods_of(name)
                                       if p["status"]["phase"] == "Failed"])[0]
        state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (state["exitCode"], state["reason"]) == (128, "StartError")
