"""Fault injection and the request recorder, seen through the real client."""
from __future__ import annotations

import time

import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from aideator.runtimes.kubernetes import manifests, rbac

from .conftest import NAMESPACE, RUN_ID, render
from .kubeutil import lines, status_of


def test_next_create_fails_with_500_then_succeeds(batch, fake_kube) -> None:
    fake_kube.fail_next("create", "jobs")
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job(NAMESPACE, render())
    assert caught.value.status == 500
    assert status_of(caught.value)["reason"] == "InternalError"
    assert fake_kube.get("jobs", NAMESPACE, f"agent-{RUN_ID}-0") is None
    assert batch.create_namespaced_job(NAMESPACE, render()).metadata.name


def test_failures_can_repeat(core, fake_kube) -> None:
    fake_kube.fail_next("list", "pods", times=2, code=503, reason="ServiceUnavailable")
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_pod(NAMESPACE)
        assert caught.value.status == 503
    core.list_namespaced_pod(NAMESPACE)


def test_the_client_silently_retries_when_told_retry_after(core, fake_kube) -> None:
    # urllib3's default Retry honours Retry-After on 413/429/503: the caller never sees
    # these failures, it just blocks for the advertised time (here 0 s).
    fake_kube.clear_requests()
    fake_kube.fail_next("list", "pods", times=2, code=429, reason="TooManyRequests",
                        retry_after=0)
    core.list_namespaced_pod(NAMESPACE)
    assert [r.code for r in fake_kube.requests] == [429, 429, 200]


def test_slow_responses(core, fake_kube) -> None:
    fake_kube.slow("get", "pods/log", 0.3, times=1)
    fake_kube.slow("list", "*", 0.2)
    started = time.monotonic()
    core.list_namespaced_pod(NAMESPACE)
    assert time.monotonic() - started >= 0.2
    with pytest.raises(ApiException):
        core.read_namespaced_pod_log("nope", NAMESPACE)
    assert time.monotonic() - started >= 0.5


def test_recorder_speaks_rbac_and_a_service_like_flow_stays_within_rbac(
        batch, core, fake_kube) -> None:
    selector = manifests.label_selector(RUN_ID)
    listed = batch.list_namespaced_job(NAMESPACE, label_selector=selector)
    name = batch.create_namespaced_job(NAMESPACE, render()).metadata.name
    for _ in watch.Watch().stream(core.list_namespaced_pod, NAMESPACE, label_selector=selector,
                                  timeout_seconds=1):
        pass
    pod = fake_kube.wait_for(lambda: [p for p in fake_kube.pods_of(name)
                                      if p["status"]["phase"] == "Succeeded"])[0]
    pod_name = pod["metadata"]["name"]
    core.read_namespaced_pod(pod_name, NAMESPACE)
    list(lines(core.read_namespaced_pod_log(pod_name, NAMESPACE, follow=True,
                                            _preload_content=False)))
    for _ in watch.Watch().stream(batch.list_namespaced_job, NAMESPACE, timeout_seconds=0,
                                  resource_version=listed.metadata.resource_version):
        pass
    batch.read_namespaced_job(name, NAMESPACE)
    batch.delete_namespaced_job(name, NAMESPACE, propagation_policy="Background")

    used = fake_kube.permissions_used()
    assert used == {("list", "jobs"), ("create", "jobs"), ("watch", "pods"), ("get", "pods"),
                    ("get", "pods/log"), ("watch", "jobs"), ("get", "jobs"),
                    ("delete", "jobs")}
    assert [p for p in used if not rbac.allowed(*p)] == []
    first = fake_kube.requests[0]
    assert (first.verb, first.resource, first.api_group, first.namespace, first.code) == (
        "list", "jobs", "batch", NAMESPACE, 200)
    assert first.query["labelSelector"] == selector


def test_recorder_sees_what_rbac_forbids(core, fake_kube) -> None:
    fake_kube.clear_requests()
    with pytest.raises(ApiException):
        core.delete_namespaced_pod("nope", NAMESPACE)
    assert fake_kube.permissions_used() == {("delete", "pods")}
    assert not rbac.allowed("delete", "pods")
    assert fake_kube.requests[0].code == 404

