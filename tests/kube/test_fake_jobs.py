"""The fake's Jobs, through the real client: admission, status, deadlines, TTL, deletion."""
from __future__ import annotations

import time

import pytest
from kubernetes.client.exceptions import ApiException

from aideator.runtimes.kubernetes import manifests

from .conftest import NAMESPACE, RUN_ID, render
from .kubeutil import status_of


def _job(batch, name):
    return batch.read_namespaced_job(name, NAMESPACE)


def _conditions(job) -> list[tuple[str, str | None]]:
    return [(c.type, c.reason) for c in job.status.conditions or []]


def test_create_defaults_and_labels_like_the_api_server(batch, fake_kube) -> None:
    job = batch.create_namespaced_job(NAMESPACE, render())
    assert job.metadata.name == f"agent-{RUN_ID}-0"
    assert job.metadata.uid and int(job.metadata.resource_version) > 0
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    labels = job.spec.template.metadata.labels
    assert labels["job-name"] == job.metadata.name and labels["controller-uid"] == uid
    pod = fake_kube.wait_for(lambda: fake_kube.pods_of(job.metadata.name))[0]
    assert pod["metadata"]["name"].startswith(job.metadata.name + "-")
    assert len(pod["metadata"]["name"]) == len(job.metadata.name) + 6
    assert pod["metadata"]["labels"]["run-id"] == RUN_ID
    assert pod["metadata"]["ownerReferences"][0]["uid"] == uid


def test_existing_name_is_409_already_exists(batch) -> None:
    batch.create_namespaced_job(NAMESPACE, render())
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job(NAMESPACE, render())
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"


@pytest.mark.parametrize("name, field", [
    ("agent-run_k8s_abc123-0", "metadata.name"),     # the PRD's example id
    ("Agent-Run-0", "metadata.name"),
    ("agent-" + "a" * 60, "spec.template.labels"),  # over 63: job-name label
])
def test_invalid_name_is_422_invalid(batch, name: str, field: str) -> None:
    job = render()
    job["metadata"]["name"] = name
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job(NAMESPACE, job)
    status = status_of(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == field


def test_list_by_run_label_selector_carries_a_resource_version(batch) -> None:
    for run_id, variation in (("run-aaaaaaaaaa", 0), ("run-aaaaaaaaaa", 1),
                              ("run-bbbbbbbbbb", 0)):
        batch.create_namespaced_job(NAMESPACE, render(run_id=run_id, variation_id=variation))
    jobs = batch.list_namespaced_job(NAMESPACE,
                                     label_selector=manifests.label_selector("run-aaaaaaaaaa"))
    assert [j.metadata.name for j in jobs.items] == ["agent-run-aaaaaaaaaa-0",
                                                     "agent-run-aaaaaaaaaa-1"]
    assert int(jobs.metadata.resource_version) >= max(
        int(j.metadata.resource_version) for j in jobs.items)
    one = batch.list_namespaced_job(
        NAMESPACE, label_selector=manifests.label_selector("run-aaaaaaaaaa", 1))
    assert [j.metadata.name for j in one.items] == ["agent-run-aaaaaaaaaa-1"]


def test_success_counts_and_complete_condition(batch, fake_kube) -> None:
    name = batch.create_namespaced_job(NAMESPACE, render()).metadata.name
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, name)["status"].get("succeeded"))
    job = _job(batch, name)
    assert (job.status.active, job.status.succeeded, job.status.failed) == (None, 1, None)
    assert _conditions(job) == [("SuccessCriteriaMet", "CompletionsReached"),
                                ("Complete", "CompletionsReached")]
    assert job.status.completion_time is not None


def test_failure_counts_and_failed_condition(batch, fake_kube) -> None:
    name = batch.create_namespaced_job(NAMESPACE,
                                       render(config={"fake_exit": 3})).metadata.name
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, name)["status"].get("failed"))
    job = _job(batch, name)
    assert (job.status.active, job.status.succeeded, job.status.failed) == (None, None, 1)
    assert _conditions(job) == [("FailureTarget", "BackoffLimitExceeded"),
                                ("Failed", "BackoffLimitExceeded")]
    (pod,) = fake_kube.pods_of(name)  # backoffLimit 0: never retried
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (state["exitCode"], state["reason"]) == (3, "Error")


def test_active_while_running(batch, fake_kube) -> None:
    name = batch.create_namespaced_job(NAMESPACE, render(
        config={"fake_lines": 30, "fake_interval": 0.05})).metadata.name
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, name)["status"].get("ready"))
    job = _job(batch, name)
    assert (job.status.active, job.status.ready, job.status.conditions) == (1, 1, None)


def test_deadline_kills_the_pod_and_fails_the_job(batch, fake_kube) -> None:
    name = batch.create_namespaced_job(NAMESPACE, render(
        deadline_seconds=1, config={"fake_lines": 100, "fake_interval": 0.05})).metadata.name
    fake_kube.wait_for(lambda: ("Failed" in [c["type"] for c in fake_kube.get(
        "jobs", NAMESPACE, name)["status"].get("conditions", [])]), timeout=5)
    job = _job(batch, name)
    assert ("Failed", "DeadlineExceeded") in _conditions(job)
    assert job.status.failed == 1 and job.status.active is None
    # The controller deletes the running pod; it is gone shortly after the Job failed.
    fake_kube.wait_for(lambda: fake_kube.pods_of(name) == [], timeout=3)


def test_ttl_deletes_job_pods_and_logs(batch, core, fake_kube) -> None:
    name = batch.create_namespaced_job(NAMESPACE, render(ttl_seconds=1)).metadata.name
    pod = fake_kube.wait_for(lambda: fake_kube.pods_of(name))[0]["metadata"]["name"]
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, name)["status"].get("succeeded"))
    assert core.read_namespaced_pod_log(pod, NAMESPACE) == "line 0\n"
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, name) is None, timeout=5)
    assert fake_kube.pods_of(name) == []
    for call in (lambda: _job(batch, name), lambda: core.read_namespaced_pod_log(pod, NAMESPACE)):
        with pytest.raises(ApiException) as caught:
            call()
        assert caught.value.status == 404


def _running_job(batch, fake_kube) -> tuple[str, str]:
    name = batch.create_namespaced_job(NAMESPACE, render(
        config={"fake_lines": 200, "fake_interval": 0.05})).metadata.name
    pod = fake_kube.wait_for(lambda: [p for p in fake_kube.pods_of(name)
                                      if p["status"]["phase"] == "Running"])[0]
    return name, pod["metadata"]["name"]


def test_foreground_delete_removes_pods_before_the_job(batch, fake_kube) -> None:
    name, pod = _running_job(batch, fake_kube)
    batch.delete_namespaced_job(name, NAMESPACE, propagation_policy="Foreground")
    job = _job(batch, name)  # still there, finalizer pending, until its pods are gone
    assert job.metadata.deletion_timestamp is not None
    assert job.metadata.finalizers == ["foregroundDeletion"]
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, name) is None, timeout=5)
    assert fake_kube.get("pods", NAMESPACE, pod) is None


def test_background_delete_removes_the_job_then_pods(batch, fake_kube) -> None:
    name, pod = _running_job(batch, fake_kube)
    batch.delete_namespaced_job(name, NAMESPACE, propagation_policy="Background")
    assert fake_kube.get("jobs", NAMESPACE, name) is None
    fake_kube.wait_for(lambda: fake_kube.get("pods", NAMESPACE, pod) is None, timeout=5)


def test_default_delete_orphans_running_pods(batch, fake_kube) -> None:
    # batch/v1 keeps the old default: without propagationPolicy the pods live on.
    name, pod = _running_job(batch, fake_kube)
    batch.delete_namespaced_job(name, NAMESPACE)
    assert fake_kube.get("jobs", NAMESPACE, name) is None
    time.sleep(0.3)
    orphan = fake_kube.get("pods", NAMESPACE, pod)
    assert orphan["status"]["phase"] == "Running"
    assert "ownerReferences" not in orphan["metadata"]
