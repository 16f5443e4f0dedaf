"""The parts behind a variation's warnings: reading an Event (both recorders' shapes),
finding the variation it is about, telling each warning once, and a Job's own Warning
found by the list a failed variation's end makes."""
from __future__ import annotations

import gevent.event
from kube.conftest import render

from aideator.runs.cluster_warnings import MAX_WARNINGS, Warnings, notice
from aideator.runtimes.base import WarningEvent
from aideator.runtimes.kubernetes import client as kube
from aideator.runtimes.kubernetes.eventwatch import (
    VariationWarnings,
    WarningWatcher,
    job_of,
    warning_of,
)

from .conftest import NAMESPACE

LEGACY = {"metadata": {"name": "agent-run-aaaaaaaaaa-0-x7k2p.18", "uid": "u1"},
          "involvedObject": {"kind": "Pod", "name": "agent-run-aaaaaaaaaa-0-x7k2p"},
          "type": "Warning", "reason": "FailedMount", "message": "MountVolume failed\n",
          "source": {"component": "kubelet"}, "count": 4,
          "firstTimestamp": "2026-11-26T10:00:00Z", "lastTimestamp": "2026-11-26T10:00:09Z",
          "eventTime": None}
SERIES = {"metadata": {"name": "agent-run-aaaaaaaaaa-1-b4d9q.19", "uid": "u2",
                       "creationTimestamp": "2026-11-26T10:00:00Z"},
          "involvedObject": {"kind": "Pod", "name": "agent-run-aaaaaaaaaa-1-b4d9q"},
          "type": "Warning", "reason": "FailedScheduling", "message": "0/3 nodes",
          "eventTime": "2026-11-26T10:00:00.250000Z", "firstTimestamp": None,
          "lastTimestamp": None, "reportingComponent": "default-scheduler",
          "series": {"count": 7, "lastObservedTime": "2026-11-26T10:05:00.500000Z"}}


def test_an_event_reads_the_same_from_either_recorder() -> None:
    assert warning_of(LEGACY) == WarningEvent(
        reason="FailedMount", message="MountVolume failed",
        object="pod/agent-run-aaaaaaaaaa-0-x7k2p", count=4,
        first_seen="2026-11-26T10:00:00.000Z", last_seen="2026-11-26T10:00:09.000Z")
    assert warning_of(SERIES) == WarningEvent(
        reason="FailedScheduling", message="0/3 nodes",
        object="pod/agent-run-aaaaaaaaaa-1-b4d9q", count=7,
        first_seen="2026-11-26T10:00:00.250Z", last_seen="2026-11-26T10:05:00.500Z")


def test_an_event_belongs_to_the_variation_of_its_job_or_pod() -> None:
    assert job_of(LEGACY) == "agent-run-aaaaaaaaaa-0"
    job = {"involvedObject": {"kind": "Job", "name": "agent-run-aaaaaaaaaa-3"}}
    assert job_of(job) == "agent-run-aaaaaaaaaa-3"
    for kind, name in (("Pod", "web-7d9f-x2x2x"), ("Node", "agent-run-aaaaaaaaaa-0"),
                       ("Pod", "")):
        assert job_of({"involvedObject": {"kind": kind, "name": name}}) is None


def test_each_warning_is_told_once_and_its_repeats_only_update_it() -> None:
    warnings = Warnings()
    first = warning_of(LEGACY)
    told, changed = warnings.observe(first)
    assert told is not None and changed
    assert notice(told) == ("Warning FailedMount on pod/agent-run-aaaaaaaaaa-0-x7k2p: "
                            "MountVolume failed")
    assert warnings.observe(first) == (None, False)          # listed again
    repeat = WarningEvent(**{**first.__dict__, "count": 9, "last_seen": "2026-11-26T10:01:00Z"})
    assert warnings.observe(repeat) == (None, True)          # its count grew
    assert warnings.entries()[0]["count"] == 9
    assert warnings.observe(first) == (None, False)          # an older view changes nothing
    # A new owner starts from what was stored: nothing is told again.
    again = Warnings(warnings.entries())
    assert again.observe(repeat) == (None, False)
    other = WarningEvent(**{**first.__dict__, "message": "another reason"})
    assert again.observe(other)[0] is not None


def test_past_the_limit_one_more_entry_says_so() -> None:
    warnings = Warnings()
    base = warning_of(LEGACY)
    told = [warnings.observe(WarningEvent(**{**base.__dict__, "message": f"m{i}"}))[0]
            for i in range(MAX_WARNINGS + 5)]
    assert all(told[:MAX_WARNINGS])
    assert told[MAX_WARNINGS]["reason"] == "TooManyWarnings"
    assert told[MAX_WARNINGS + 1:] == [None] * 4
    assert len(warnings.entries()) == MAX_WARNINGS + 1


def test_a_failed_jobs_warning_is_found_by_the_list_at_its_end(fake, tmp_path) -> None:
    client = kube.Kube(config_file=fake.write_kubeconfig(tmp_path / "kubeconfig"))
    job = render(prompt="exit=3")          # the fake agent exits 3: BackoffLimitExceeded
    fake.controller.create_job(NAMESPACE, job)
    name = job["metadata"]["name"]
    fake.wait_for(lambda: [e for e in fake.list("events", NAMESPACE)
                           if e["reason"] == "BackoffLimitExceeded"], timeout=10)
    watcher = WarningWatcher(client, namespace=NAMESPACE)   # not started: fed by hand
    variation = VariationWarnings(watcher, client, namespace=NAMESPACE, job=name,
                                  wake=gevent.event.Event())
    (found,) = variation.final([], settle=False)
    assert (found.reason, found.object) == ("BackoffLimitExceeded", f"job/{name}")
    assert found.message == "Job has reached the specified backoff limit"
    assert variation.final([], settle=False) == []           # nothing new since
    # The namespace's list feeds the watcher the same warning for this Job only.
    watcher._replace(client.list_events(namespace=NAMESPACE,
                                        field_selector="type=Warning")["items"])
    assert [e["reason"] for e in watcher.events_of(name)] == ["BackoffLimitExceeded"]
    assert watcher.events_of("agent-run-other00000-0") == []
