"""Faults of the cluster and its API, each visible in the stream or the status, none losing
or repeating a line, none disturbing the other variations."""
from __future__ import annotations

import time

import pytest

from sse_client import SSEEvent, iter_events, read_events

from .conftest import (NAMESPACE, assert_every_line_once, by_variation, notices,
                       run_failing_four_ways, start_run)

LINES = 150


def _stream_until(url: str, lines: int) -> None:
    """Read the stream until ``lines`` output lines have arrived (the run is mid-way)."""
    seen = 0
    for item in iter_events(url, timeout=30):
        seen += isinstance(item, SSEEvent) and item.event == "agent_output"
        if seen >= lines:
            return


@pytest.mark.parametrize("fault", ["watch-clean", "watch-abrupt", "watch-410",
                                   "log-clean", "log-abrupt"])
def test_cut_streams_lose_and_repeat_nothing(kube_server, fake, fault):
    server = kube_server()
    run = start_run(server, f"lines={LINES} delay=0.01", 2)
    url = server.base + run["stream_url"]
    _stream_until(url, 40)
    if fault == "watch-clean":
        fake.cut_watches()
    elif fault == "watch-abrupt":
        fake.cut_watches(abrupt=True)
    elif fault == "watch-410":
        fake.compact()
        fake.cut_watches()
    elif fault == "log-clean":
        fake.cut_log_streams()
    else:
        fake.cut_log_streams(abrupt=True)
    time.sleep(0.3)
    if fault.startswith("log"):  # twice, to cut the resumed streams too
        fake.cut_log_streams(abrupt=fault == "log-abrupt")

    events = read_events(url, timeout=30)
    for i in (0, 1):
        assert_every_line_once(events, i, LINES)
    assert sorted(by_variation(events, "job_completed")) == [0, 1]
    assert events[-1].data["status"] == "completed"
    said = notices(events)
    if fault == "watch-abrupt":
        assert any(m.startswith("Kubernetes API unavailable") for m in said)
        assert "Kubernetes API answering again" in said
    if fault.startswith("log"):
        assert any(m.startswith("Log stream of pod agent-") for m in said), said
    watches = [r for r in fake.requests if r.verb == "watch"]
    lists = [r for r in fake.requests if r.verb == "list" and r.resource == "pods"]
    if fault.startswith("watch"):
        assert len(watches) >= 2
    if fault == "watch-410":
        assert len(lists) >= 2  # relisted


def test_a_failed_job_creation_fails_only_that_variation(kube_server, fake):
    server = kube_server()
    # Every attempt to create variation 2's Job fails (the retries are exhausted).
    fake.fail_next("create", "jobs", times=10, code=500, name="agent-*-2")
    run = start_run(server, "lines=10", 5)
    events = read_events(server.base + run["stream_url"], timeout=30)
    errors = by_variation(events, "error")
    assert list(errors) == [2]
    failed, error = 2, errors[2]
    name = f"agent-{run['run_id']}-{failed}"
    assert error["job_name"] == name
    assert error["error"].startswith(f"could not create Job {name}: fake: injected failure")
    assert "500" in error["error"]
    assert sorted(by_variation(events, "job_completed")) == sorted(set(range(5)) - {failed})
    for i in set(range(5)) - {failed}:
        assert_every_line_once(events, i, 10)
    assert any("retrying" in m for m in notices(events, failed))
    assert fake.get("jobs", NAMESPACE, name) is None
    creates = [r for r in fake.requests if r.verb == "create" and r.code == 500]
    assert len(creates) == 3  # three attempts, then the variation failed
    assert events[-1].data["status"] == "completed"


def test_pods_that_cannot_start_or_run_out_of_memory_or_time(kube_server, fake):
    server = kube_server(job_deadline_seconds="2")
    run, events = run_failing_four_ways(server, fake)
    errors = {i: e["error"] for i, e in by_variation(events, "error").items()}
    assert errors[0].startswith("Pod failed to start: ErrImagePull: ") \
        or errors[0].startswith("Pod failed to start: ImagePullBackOff: ")
    assert errors[1] == "OOMKilled: the agent ran out of memory (limit 512Mi)"
    assert errors[3] == "DeadlineExceeded: Job was active longer than specified deadline"
    assert errors[4].startswith("Pod failed to start: Unschedulable: 0/1 nodes are available")
    assert list(by_variation(events, "job_completed")) == [2]
    assert_every_line_once(events, 2, 10)
    assert events[-1].data["status"] == "completed"
    # A pod that cannot start is not left behind.
    run_id = run["run_id"]
    fake.wait_for(lambda: fake.get("jobs", NAMESPACE, f"agent-{run_id}-0") is None
                  and fake.get("jobs", NAMESPACE, f"agent-{run_id}-4") is None, timeout=10)
    status = server.get(f"/runs/{run_id}/status").json()
    assert status["jobs"][1]["status"]["failed"] == 1
    assert status["jobs"][2]["status"]["succeeded"] == 1
