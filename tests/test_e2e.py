"""The whole loop against a real gunicorn+gevent server: prompt, observe, compare, select."""
from __future__ import annotations

import re

from helpers import REPO, start_run, wait_for
from sse_client import read_events

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_run_streams_every_variation_and_records_the_winner(server):
    created = start_run(server, "lines=8 delay=0.01", 3)
    run_id = created["run_id"]
    assert DNS1123.match(run_id) and len(run_id) <= 63
    assert created["stream_url"] == f"/api/v1/runs/{run_id}/stream"
    assert created["job_names"] == [f"agent-{run_id}-{i}" for i in range(3)]
    assert all(DNS1123.match(name) for name in created["job_names"])

    events = read_events(server.base + created["stream_url"])
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].event == "status"
    assert events[0].data["run_id"] == run_id and events[0].data["status"] == "started"
    assert events[-1].event == "run_finished"
    assert events[-1].data == {"run_id": run_id, "status": "completed"}

    for i in range(3):
        output = [e.data for e in events
                  if e.event == "agent_output" and e.data["variation_id"] == i]
        # the fixture's status line, then 8 lines: 6 JSON events and 2 plain-text lines
        assert len(output) == 9
        assert all(o["pod"].startswith(f"agent-{run_id}-{i}-") for o in output)
        json_lines = [o for o in output if o["type"] != "log"]
        assert [o["type"] for o in json_lines] == [
            "status", "thinking", "text", "tool_use", "thinking", "text", "tool_use"]
        assert [o["content"]["n"] for o in json_lines[1:]] == [0, 1, 2, 4, 5, 6]
        assert [o["content"] for o in output if o["type"] == "log"] == [
            f"plain line 3 of variation {i}", f"plain line 7 of variation {i}"]
        completed = [e.data for e in events if e.event == "job_completed"
                     and e.data["variation_id"] == i]
        assert completed == [{"variation_id": i, "status": "completed",
                              "job_name": f"agent-{run_id}-{i}"}]

    status = server.get(f"/runs/{run_id}/status").json()
    assert status["status"] == "completed"
    assert [j["status"] for j in status["jobs"]] == [
        {"active": 0, "succeeded": 1, "failed": 0}] * 3

    first = server.post(f"/runs/{run_id}/select", {"winning_variation_id": 1})
    assert first.status_code == 200
    assert first.json()["status"] == "success"
    assert first.json()["job_name"] == f"agent-{run_id}-1"
    again = server.post(f"/runs/{run_id}/select", {"winning_variation_id": 2}).json()
    assert again["job_name"] == f"agent-{run_id}-2"
    assert again["selected_at"] >= first.json()["selected_at"]

    detail = server.get(f"/runs/{run_id}").json()
    assert detail["selection"]["winning_variation_id"] == 2
    assert detail["selection"]["selected_at"] == again["selected_at"]
    assert detail["status"] == "completed" and detail["event_count"] == len(events)
    assert [v["status"] for v in detail["variations"]] == ["succeeded"] * 3
    assert all(v["exit_code"] == 0 and v["duration_seconds"] is not None
               for v in detail["variations"])
    listed = server.get("/runs").json()["runs"]
    assert listed[0]["run_id"] == run_id and listed[0]["winning_variation_id"] == 2


def test_a_failing_variation_is_an_error_event_and_the_others_carry_on(server):
    run = start_run(server, "lines=3 v1.exit=3", 2)
    events = read_events(server.base + run["stream_url"])
    errors = [e.data for e in events if e.event == "error"]
    assert errors == [{"variation_id": 1, "status": "failed",
                       "error": "the agent exited with code 3",
                       "job_name": f"agent-{run['run_id']}-1"}]
    assert [e.data["variation_id"] for e in events if e.event == "job_completed"] == [0]
    status = server.get(f"/runs/{run['run_id']}/status").json()
    assert [j["status"] for j in status["jobs"]] == [
        {"active": 0, "succeeded": 1, "failed": 0}, {"active": 0, "succeeded": 0, "failed": 1}]
    # One variation succeeded: the run completed and can still be compared.
    assert status["status"] == "completed"
    detail = server.get(f"/runs/{run['run_id']}").json()
    assert detail["variations"][1]["exit_code"] == 3
    assert detail["variations"][1]["error"] == "the agent exited with code 3"


def test_a_run_whose_variations_all_fail_is_failed(server):
    run = start_run(server, "lines=1 exit=1", 1)
    events = read_events(server.base + run["stream_url"])
    assert events[-1].data["status"] == "failed"
    assert server.get(f"/runs/{run['run_id']}/status").json()["status"] == "failed"


def test_per_variation_models_reach_each_agent(server):
    run = server.post("/runs", {"github_url": REPO, "prompt": "lines=0",
                                "agent_config": {"model": "claude-opus-4-1", "temperature": 0.2},
                                "variation_configs": [{}, {"model": "claude-haiku-4-5"}]}).json()
    events = read_events(server.base + run["stream_url"])
    models = {e.data["variation_id"]: e.data["content"]["model"] for e in events
              if e.event == "agent_output" and e.data["type"] == "status"}
    assert models == {0: "claude-opus-4-1", 1: "claude-haiku-4-5"}
    detail = server.get(f"/runs/{run['run_id']}").json()
    # No budget asked: each variation gets the configured ceiling (5 USD by default).
    assert [v["config"] for v in detail["variations"]] == [
        {"engine": "claude-code", "model": "claude-opus-4-1", "temperature": 0.2,
         "max_budget_usd": 5.0},
        {"engine": "claude-code", "model": "claude-haiku-4-5", "temperature": 0.2,
         "max_budget_usd": 5.0}]


def test_runs_are_listed_newest_first_in_pages(server):
    ids = [start_run(server, "lines=0", 1)["run_id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = server.get("/runs", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        body = page.json()
        seen += [r["run_id"] for r in body["runs"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    for run_id in ids:
        wait_for(lambda run_id=run_id: server.get(f"/runs/{run_id}/status").json()["status"]
                 == "completed")


def test_health_and_openapi(server):
    # What a probe needs, and nothing that tells an outsider which replica this is,
    # whether access control is on or what it runs.
    health = server.get("/health").json()
    limits = health.pop("sandbox_limits")     # what this machine enforces: its own test
    assert set(limits) == {"processes", "memory_bytes", "disk_bytes", "open_files",
                           "wall_seconds", "leftover_processes"}
    assert health == {"status": "healthy", "version": "2.0.0", "kubernetes": False,
                      "runtime": "local", "database": True, "sandbox": "bubblewrap"}
    # Those are an admin's (with auth off, anyone is one).
    replica = server.get("/replica").json()
    assert (replica["auth"], replica["runs_owned"], replica["runtime"]["name"]) == \
        ("off", 0, "local")
    assert replica["replica"].split("/")[1] == str(server.worker_pids()[0])
    spec = server.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/health", "/runs", "/runs/{run_id}", "/runs/{run_id}/stream",
            "/runs/{run_id}/status", "/runs/{run_id}/select", "/runs/{run_id}/cancel",
            "/runs/{run_id}/variations/{variation_id}/diff"} <= set(spec["paths"])
