"""Watches on the fake behave like the API server's: resume by resourceVersion, end when
the server likes, 410 Gone for a version that is too old."""
from __future__ import annotations

import json
import threading
import time

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from aideator.runtimes.kubernetes import manifests

from .conftest import NAMESPACE, RUN_ID, render
from .fakeapi import FakeKubeAPI
from .kubeutil import lines, status_of


def test_watch_from_a_listed_version_replays_later_changes_then_times_out(batch) -> None:
    listed = batch.list_namespaced_job(NAMESPACE).metadata.resource_version
    batch.create_namespaced_job(NAMESPACE, render())
    started = time.monotonic()
    events = list(watch.Watch().stream(batch.list_namespaced_job, NAMESPACE,
                                       resource_version=listed, timeout_seconds=1))
    assert 0.9 < time.monotonic() - started < 3
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"].metadata.name == f"agent-{RUN_ID}-0"
    assert {e["type"] for e in events} <= {"ADDED", "MODIFIED"}
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions) and versions[0] > int(listed)


def test_watch_without_version_starts_with_current_objects(batch) -> None:
    batch.create_namespaced_job(NAMESPACE, render(variation_id=0))
    batch.create_namespaced_job(NAMESPACE, render(run_id="run-other00000"))
    events = watch.Watch().stream(batch.list_namespaced_job, NAMESPACE, timeout_seconds=1,
                                  label_selector=manifests.label_selector(RUN_ID))
    first = next(events)
    assert (first["type"], first["object"].metadata.name) == ("ADDED", f"agent-{RUN_ID}-0")
    assert all(e["object"].metadata.labels["run-id"] == RUN_ID for e in events)


def test_pod_phases_stream_through_a_label_selected_watch(batch, core) -> None:
    listed = core.list_namespaced_pod(NAMESPACE).metadata.resource_version
    batch.create_namespaced_job(NAMESPACE, render())
    phases = []
    for event in watch.Watch().stream(core.list_namespaced_pod, NAMESPACE,
                                      resource_version=listed, timeout_seconds=3,
                                      label_selector=manifests.label_selector(RUN_ID, 0)):
        if not phases or phases[-1] != event["object"].status.phase:
            phases.append(event["object"].status.phase)
        if phases[-1] == "Succeeded":
            break
    assert phases == ["Pending", "Running", "Succeeded"]


def test_too_old_version_is_an_error_event_with_410(batch, api_client, fake_kube) -> None:
    old = batch.list_namespaced_job(NAMESPACE).metadata.resource_version
    batch.create_namespaced_job(NAMESPACE, render())
    fake_kube.compact()
    # On the wire: HTTP 200, then one ERROR event carrying a Status with code 410.
    raw = batch.list_namespaced_job(NAMESPACE, watch=True, resource_version=old,
                                    _preload_content=False)
    assert raw.status == 200
    (line,) = list(lines(raw))
    event = json.loads(line)
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    # The client's Watch turns it into ApiException(410) when it may not retry.
    with pytest.raises(ApiException) as caught:
        list(watch.Watch().stream(batch.list_namespaced_job, NAMESPACE,
                                  resource_version=old, timeout_seconds=1))
    assert caught.value.status == 410
    # Relist, then watch from the new version: works again.
    relisted = batch.list_namespaced_job(NAMESPACE)
    assert [j.metadata.name for j in relisted.items] == [f"agent-{RUN_ID}-0"]
    assert int(relisted.metadata.resource_version) >= int(old)
    list(watch.Watch().stream(batch.list_namespaced_job, NAMESPACE, timeout_seconds=0,
                              resource_version=relisted.metadata.resource_version))


def test_exact_list_at_a_compacted_version_is_http_410(batch, fake_kube) -> None:
    old = batch.list_namespaced_job(NAMESPACE).metadata.resource_version
    batch.create_namespaced_job(NAMESPACE, render())
    fake_kube.compact()
    with pytest.raises(ApiException) as caught:
        batch.list_namespaced_job(NAMESPACE, resource_version=old,
                                  resource_version_match="Exact")
    assert caught.value.status == 410 and status_of(caught.value)["reason"] == "Expired"


def test_history_limit_expires_old_versions_by_itself() -> None:
    with FakeKubeAPI(history_limit=2) as small:
        api = client.BatchV1Api(small.api_client())
        old = api.list_namespaced_job(NAMESPACE).metadata.resource_version
        small.kubelet.hold()
        for variation in range(3):
            api.create_namespaced_job(NAMESPACE, render(variation_id=variation))
        with pytest.raises(ApiException) as caught:
            list(watch.Watch().stream(api.list_namespaced_job, NAMESPACE,
                                      resource_version=old, timeout_seconds=1))
        assert caught.value.status == 410


def test_server_ends_watches_at_its_maximum() -> None:
    with FakeKubeAPI(max_watch_seconds=0.3) as server:
        api = client.BatchV1Api(server.api_client())
        started = time.monotonic()
        raw = api.list_namespaced_job(NAMESPACE, watch=True, _preload_content=False)
        assert list(lines(raw)) == []
        assert time.monotonic() - started < 2


def _watch_in_thread(batch, fake_kube) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        raw = batch.list_namespaced_job(NAMESPACE, watch=True, timeout_seconds=30,
                                        _preload_content=False)
        try:
            outcome["lines"] = list(lines(raw))
        except Exception as e:  # an abrupt cut surfaces as a protocol error
            outcome["error"] = e
    thread = threading.Thread(target=run)
    thread.start()
    fake_kube.wait_for(lambda: fake_kube.watches.open == 1)
    return thread, outcome


def test_cut_watches_ends_open_streams_cleanly(batch, fake_kube) -> None:
    thread, outcome = _watch_in_thread(batch, fake_kube)
    started = time.monotonic()
    fake_kube.cut_watches()
    thread.join(timeout=3)
    assert outcome == {"lines": []} and time.monotonic() - started < 2


def test_abrupt_cut_breaks_the_connection(batch, fake_kube) -> None:
    thread, outcome = _watch_in_thread(batch, fake_kube)
    fake_kube.cut_watches(abrupt=True)
    thread.join(timeout=3)
    assert isinstance(outcome.get("error"), urllib3.exceptions.ProtocolError)


def test_bookmarks_when_asked() -> None:
    with FakeKubeAPI(bookmark_seconds=0.1) as server:
        api = client.BatchV1Api(server.api_client())
        listed = api.list_namespaced_job(NAMESPACE).metadata.resource_version
        events = list(watch.Watch().stream(api.list_namespaced_job, NAMESPACE,
                                           resource_version=listed, timeout_seconds=1,
                                           allow_watch_bookmarks=True))
        assert events and {e["type"] for e in events} == {"BOOKMARK"}
        assert events[-1]["raw_object"]["metadata"]["resourceVersion"] == listed
