"""A service killed mid-run and started again re-attaches to its Jobs: the logs resume
after the stored cursor, every line arrives exactly once and the run completes."""
from __future__ import annotations

from sse_client import SSEEvent, iter_events, read_events

from .conftest import assert_every_line_once, by_variation, notices, start_run

LINES = 200


def test_sigkill_mid_run_then_restart_resumes_the_logs(kube_server, fake, tmp_path):
    data = tmp_path / "data"
    first = kube_server(data)
    run = start_run(first, f"lines={LINES} delay=0.01", 2)
    seen = 0
    for item in iter_events(first.base + run["stream_url"], timeout=30):
        seen += isinstance(item, SSEEvent) and item.event == "agent_output"
        if seen >= 60:
            break
    first.kill()  # the Jobs run on in the cluster

    second = kube_server(data)
    events = read_events(second.base + run["stream_url"], timeout=30)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    for i in (0, 1):
        assert_every_line_once(events, i, LINES)
    assert sorted(by_variation(events, "job_completed")) == [0, 1]
    assert events[-1].data == {"run_id": run["run_id"], "status": "completed"}
    assert sum("took the run over" in e.data.get("message", "") for e in events
               if e.event == "status") == 1
    # Re-attached, not created again: one Job creation per variation in all.
    creates = [r for r in fake.requests if r.verb == "create" and r.resource == "jobs"]
    assert len(creates) == 2
    # Resumed by time: the second service asked for the log since the cursor's second.
    resumed = [r for r in fake.requests if r.resource == "pods/log" and "sinceTime" in r.query]
    assert resumed, "the log was read again from the start"
    assert not [m for m in notices(events) if "gone" in m]


def test_a_job_gone_while_the_service_was_down_keeps_its_history(kube_server, fake, tmp_path):
    data = tmp_path / "data"
    first = kube_server(data)
    run = start_run(first, "lines=5 hang=1", 1)
    seen = 0
    for item in iter_events(first.base + run["stream_url"], timeout=30):
        seen += isinstance(item, SSEEvent) and item.event == "agent_output"
        if seen >= 6:
            break
    first.kill()
    name = run["job_names"][0]
    fake.controller.delete_job("default", name, "Background")  # e.g. its TTL passed
    fake.wait_for(lambda: not fake.pods_of(name), timeout=10)

    second = kube_server(data)
    events = read_events(second.base + run["stream_url"], timeout=30)
    assert_every_line_once(events, 0, 5)
    assert by_variation(events, "error")[0]["error"] == (
        f"the Job {name} is gone (expired or deleted); its stored history is kept")
    assert events[-1].data["status"] == "failed"


def test_a_service_killed_between_a_job_and_its_secret_starts_it_after_restart(
        kube_server, fake, tmp_path):
    # The Job exists (suspended, no pod) but its Secret is still on its way when the
    # service dies: the next service finds the Job, gives it its Secret and resumes it.
    data = tmp_path / "data"
    first = kube_server(data)
    fake.slow("create", "secrets", 3.0, times=2)
    run = start_run(first, "lines=5", 2)
    fake.wait_for(lambda: len(fake.list("jobs")) == 2, timeout=15)
    first.kill()
    assert all(fake.get("jobs", "default", n)["spec"]["suspend"] for n in run["job_names"])
    assert not any(fake.pods_of(n) for n in run["job_names"])

    second = kube_server(data)
    events = read_events(second.base + run["stream_url"], timeout=30)
    for i in (0, 1):
        assert_every_line_once(events, i, 5)
    assert events[-1].data == {"run_id": run["run_id"], "status": "completed"}
    for name in run["job_names"]:
        assert fake.get("secrets", "default", name)["metadata"]["ownerReferences"][0][
            "uid"] == fake.get("jobs", "default", name)["metadata"]["uid"]
