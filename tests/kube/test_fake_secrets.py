"""The fake's Secrets and what the service relies on around them, through the real client:
a suspended Job makes no pod until a merge patch resumes it, and a Secret owned by a Job
goes with it (Background, Foreground), stays without its reference (Orphan), and is
collected when created for an owner that does not exist."""
from __future__ import annotations

import base64

import pytest
from kubernetes.client.exceptions import ApiException

from .conftest import NAMESPACE, RUN_ID, render


def _owned_secret(core, job, name=None, uid=None) -> None:
    core.create_namespaced_secret(NAMESPACE, {
        "metadata": {"name": name or job.metadata.name, "labels": {"run-id": RUN_ID},
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                          "name": job.metadata.name,
                                          "uid": uid or job.metadata.uid}]},
        "immutable": True, "stringData": {"PROMPT": "hello $(HOME)"}})


def _suspended(batch):
    body = render()
    body["spec"]["suspend"] = True
    return batch.create_namespaced_job(NAMESPACE, body)


def test_a_suspended_job_starts_its_pod_only_when_resumed(batch, fake_kube) -> None:
    job = _suspended(batch)
    name = job.metadata.name
    fake_kube.wait_for(lambda: any(c["type"] == "Suspended" for c in
                                   fake_kube.get("jobs", NAMESPACE, name)["status"]
                                   .get("conditions", [])))
    assert fake_kube.pods_of(name) == []
    assert "startTime" not in fake_kube.get("jobs", NAMESPACE, name)["status"]
    # A plain JSON body is not a patch type the API server takes for a Job.
    answer = batch.api_client.call_api(*batch.api_client.param_serialize(
        "PATCH", f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{name}",
        header_params={"Content-Type": "application/json"},
        body={"spec": {"suspend": False}}))
    assert answer.status == 415
    with pytest.raises(ApiException) as caught:  # the pod template is immutable
        batch.patch_namespaced_job(name, NAMESPACE, {"spec": {"template": {
            "spec": {"restartPolicy": "OnFailure"}}}})
    assert caught.value.status == 422
    batch.patch_namespaced_job(name, NAMESPACE, {"spec": {"suspend": False}})
    fake_kube.wait_for(lambda: fake_kube.pods_of(name), timeout=5)
    job = fake_kube.get("jobs", NAMESPACE, name)
    assert job["status"]["startTime"]
    assert [(c["status"], c["reason"]) for c in job["status"]["conditions"]
            if c["type"] == "Suspended"] == [("False", "Resumed")]


def test_secrets_by_label_and_by_name(core, batch) -> None:
    job = _suspended(batch)
    _owned_secret(core, job)
    listed = core.list_namespaced_secret(NAMESPACE, label_selector=f"run-id={RUN_ID}")
    assert [s.metadata.name for s in listed.items] == [job.metadata.name]
    secret = core.read_namespaced_secret(job.metadata.name, NAMESPACE)
    assert base64.b64decode(secret.data["PROMPT"]).decode() == "hello $(HOME)"
    assert secret.immutable is True
    with pytest.raises(ApiException) as caught:
        _owned_secret(core, job)
    assert caught.value.status == 409


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_a_jobs_secret_is_deleted_with_the_job(core, batch, fake_kube, policy) -> None:
    job = _suspended(batch)
    name = job.metadata.name
    _owned_secret(core, job)
    batch.patch_namespaced_job(name, NAMESPACE, {"spec": {"suspend": False}})
    fake_kube.wait_for(lambda: fake_kube.pods_of(name))
    batch.delete_namespaced_job(name, NAMESPACE, propagation_policy=policy)
    if policy == "Foreground":  # the dependents go first, the Job after them
        fake_kube.wait_for(lambda: fake_kube.get("secrets", NAMESPACE, name) is None)
    fake_kube.wait_for(lambda: fake_kube.get("jobs", NAMESPACE, name) is None
                       and fake_kube.get("secrets", NAMESPACE, name) is None, timeout=10)


def test_orphan_keeps_the_secret_without_its_owner(core, batch, fake_kube) -> None:
    job = _suspended(batch)
    _owned_secret(core, job)
    batch.delete_namespaced_job(job.metadata.name, NAMESPACE)  # the API default: Orphan
    fake_kube.wait_for(lambda: "ownerReferences" not in
                       fake_kube.get("secrets", NAMESPACE, job.metadata.name)["metadata"])


def test_a_secret_whose_owner_does_not_exist_is_collected(core, batch, fake_kube) -> None:
    job = _suspended(batch)
    _owned_secret(core, job, name="wrong-uid", uid="00000000-0000-0000-0000-000000000000")
    _owned_secret(core, job, name="right-uid")
    fake_kube.wait_for(lambda: fake_kube.get("secrets", NAMESPACE, "wrong-uid") is None)
    assert fake_kube.get("secrets", NAMESPACE, "right-uid") is not None


def test_a_secret_is_validated_like_the_api_server_does(core) -> None:
    for body in ({"metadata": {"name": "Bad_Name"}},
                 {"metadata": {"name": "ok"}, "stringData": {"bad key": "x"}},
                 {"metadata": {"name": "ok", "ownerReferences": [
                     {"apiVersion": "batch/v1", "kind": "Job", "name": "", "uid": ""}]}}):
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_secret(NAMESPACE, body)
        assert caught.value.status == 422
