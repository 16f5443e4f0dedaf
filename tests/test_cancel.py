"""Cancelling a run stops every process of it, marks it cancelled and ends its stream."""
from __future__ import annotations

import psutil

from helpers import FAKE_AGENT, start_run, wait_for
from sse_client import read_events


def agent_processes(run_id: str) -> list[psutil.Process]:
    """Every live process started for this run: launcher, bwrap, the sandbox's init, its
    gateway bridge, the agent."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get("RUN_ID") == run_id:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def agents(run_id: str) -> list[psutil.Process]:
    """The run's agents themselves (their command, not a launcher or bwrap naming it)."""
    return [p for p in agent_processes(run_id) if p.cmdline()[1:2] == [str(FAKE_AGENT)]]


def running(server, run_id: str) -> bool:
    jobs = server.get(f"/runs/{run_id}/status").json()["jobs"]
    return all(j["phase"] == "running" for j in jobs)


def test_cancel_stops_the_processes_and_ends_the_stream(server):
    run = start_run(server, "lines=2 hang=1", 2)
    run_id = run["run_id"]
    wait_for(lambda: running(server, run_id))
    # The agent of each variation runs (inside its sandbox), among the run's processes.
    wait_for(lambda: len(agents(run_id)) == 2)

    resp = server.post(f"/runs/{run_id}/cancel", {})
    assert resp.status_code == 202 and resp.json() == {"run_id": run_id, "status": "cancelling"}
    events = read_events(server.base + run["stream_url"], timeout=30)
    assert events[-1].event == "run_finished" and events[-1].data["status"] == "cancelled"
    cancelled = [e.data["variation_id"] for e in events
                 if e.event == "status" and e.data["status"] == "cancelled"
                 and "variation_id" in e.data]
    assert sorted(cancelled) == [0, 1]
    assert not [e for e in events if e.event in ("error", "job_completed")]
    assert agent_processes(run_id) == []
    status = server.get(f"/runs/{run_id}/status").json()
    assert status["status"] == "cancelled"
    assert all(j["phase"] == "cancelled" for j in status["jobs"])
    assert server.post(f"/runs/{run_id}/cancel", {}).status_code == 409


def test_an_agent_that_ignores_sigterm_is_killed_after_the_grace_period(make_server):
    server = make_server(cancel_grace_seconds="0.5")
    run = start_run(server, "lines=1 hang=1 ignore_term=1", 1)
    wait_for(lambda: running(server, run["run_id"]))
    server.post(f"/runs/{run['run_id']}/cancel", {})
    events = read_events(server.base + run["stream_url"], timeout=30)
    assert events[-1].data["status"] == "cancelled"
    assert agent_processes(run["run_id"]) == []


def test_queued_variations_are_cancelled_without_ever_starting(make_server):
    server = make_server(max_concurrent_variations="1")
    run = start_run(server, "lines=1 hang=1", 3)
    run_id = run["run_id"]
    wait_for(lambda: [j["phase"] for j in server.get(f"/runs/{run_id}/status").json()["jobs"]]
             == ["running", "queued", "queued"])
    server.post(f"/runs/{run_id}/cancel", {})
    events = read_events(server.base + run["stream_url"], timeout=30)
    assert events[-1].data["status"] == "cancelled"
    started = {e.data["variation_id"] for e in events
               if e.event == "status" and e.data.get("status") == "running"}
    assert started == {0}
    detail = server.get(f"/runs/{run_id}").json()
    assert [v["status"] for v in detail["variations"]] == ["cancelled"] * 3
    assert [v["pod"] is None for v in detail["variations"]] == [False, True, True]
    assert agent_processes(run_id) == []
