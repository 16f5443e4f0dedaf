"""Events on the fake, through the official client: the scheduler and the kubelet record
the Warnings a cluster's would, repeats update the same Event, and events can be listed
and watched by field selector like on the real API server (410 included)."""
from __future__ import annotations

import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from helpers import wait_for

from .conftest import NAMESPACE, render
from .fakeapi import FakeKubeAPI
from .fakeapi.kubelet import FAILED_MOUNT, UNSCHEDULABLE_MESSAGE


def _pod(fake: FakeKubeAPI, job: str) -> dict:
    return fake.wait_for(lambda: fake.pods_of(job))[0]


def _warnings(core, name: str) -> list:
    return core.list_namespaced_event(
        NAMESPACE, field_selector=f"involvedObject.name={name},type=Warning").items


def test_an_unschedulable_pod_gets_one_failed_scheduling_event_that_repeats(
        batch, core, fake_kube: FakeKubeAPI) -> None:
    fake_kube.set_behaviour("agent-*", "Unschedulable")
    name = batch.create_namespaced_job(NAMESPACE, render()).metadata.name
    pod = _pod(fake_kube, name)["metadata"]["name"]
    # The scheduler keeps trying: the same Event, its series count growing.
    (event,) = wait_for(lambda: [e for e in _warnings(core, pod)
                                 if e.series and e.series.count >= 2], timeout=10)
    assert len(_warnings(core, pod)) == 1
    assert (event.reason, event.message) == ("FailedScheduling", UNSCHEDULABLE_MESSAGE)
    assert event.involved_object.kind == "Pod" and event.involved_object.name == pod
    # Recorded through events.k8s.io, read through core/v1: eventTime, no count.
    assert event.reporting_component == "default-scheduler" and event.event_time
    assert event.count is None and event.first_timestamp is None
    # The Job's own events are Normal: a Warning selector leaves them out.
    assert _warnings(core, name) == []
    everything = core.list_namespaced_event(
        NAMESPACE, field_selector=f"involvedObject.name={name}").items
    assert [e.reason for e in everything] == ["SuccessfulCreate"]


def test_a_failing_mount_repeats_while_held_then_the_pod_runs(batch, core,
                                                              fake_kube: FakeKubeAPI) -> None:
    fake_kube.set_behaviour("agent-*", FAILED_MOUNT)
    fake_kube.hold_containers()
    name = batch.create_namespaced_job(NAMESPACE, render()).metadata.name
    pod = _pod(fake_kube, name)["metadata"]["name"]
    (event,) = wait_for(lambda: [e for e in _warnings(core, pod) if (e.count or 0) >= 3],
                        timeout=10)
    assert len(_warnings(core, pod)) == 1
    assert event.reason == "FailedMount" and event.source.component == "kubelet"
    assert event.first_timestamp and event.last_timestamp and event.event_time is None
    fake_kube.release_containers()
    fake_kube.wait_for(lambda: fake_kube.pods_of(name)[0]["status"].get("phase")
                       == "Succeeded", timeout=10)


def test_image_pull_failures_and_failed_jobs_are_warnings(batch, core,
                                                          fake_kube: FakeKubeAPI) -> None:
    fake_kube.set_behaviour("*-0", "ImagePullBackOff")
    pulling = batch.create_namespaced_job(NAMESPACE, render(variation_id=0)).metadata.name
    failing = batch.create_namespaced_job(NAMESPACE, render(
        variation_id=1, config={"fake_exit": 3})).metadata.name
    pod = _pod(fake_kube, pulling)["metadata"]["name"]
    wait_for(lambda: len(_warnings(core, pod)) == 3, timeout=10)
    messages = [e.message for e in _warnings(core, pod)]
    assert messages[0].startswith('Failed to pull image "aideator-agent:test": rpc error')
    assert messages[1:] == ["Error: ErrImagePull", "Error: ImagePullBackOff"]
    backoff = core.list_namespaced_event(
        NAMESPACE, field_selector=f"involvedObject.name={pod},reason=BackOff").items
    assert [e.type for e in backoff] == ["Normal"]
    job_warnings = wait_for(lambda: _warnings(core, failing), timeout=10)
    assert [(e.reason, e.involved_object.kind) for e in job_warnings] == [
        ("BackoffLimitExceeded", "Job")]


def test_a_warning_watch_resumes_by_version_and_expires_with_410(batch, core,
                                                                fake_kube: FakeKubeAPI
                                                                ) -> None:
    listed = core.list_namespaced_event(NAMESPACE, field_selector="type=Warning")
    fake_kube.set_behaviour("agent-*", "Unschedulable")
    batch.create_namespaced_job(NAMESPACE, render())
    seen = []
    for item in watch.Watch().stream(core.list_namespaced_event, NAMESPACE,
                                     field_selector="type=Warning", timeout_seconds=5,
                                     resource_version=listed.metadata.resource_version):
        seen.append((item["type"], item["object"].reason))
        if len(seen) == 2:
            break
    # The first attempt, then a repeat of it: only Warnings, no Normal Scheduled/Created.
    assert seen == [("ADDED", "FailedScheduling"), ("MODIFIED", "FailedScheduling")]
    fake_kube.compact()
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(core.list_namespaced_event, NAMESPACE,
                                      field_selector="type=Warning", timeout_seconds=2,
                                      resource_version=listed.metadata.resource_version):
            pass
    assert gone.value.status == 410


def test_an_unknown_event_field_is_refused(core) -> None:
    with pytest.raises(ApiException) as refused:
        core.list_namespaced_event(NAMESPACE, field_selector="involvedObject.color=red")
    assert refused.value.status == 400
