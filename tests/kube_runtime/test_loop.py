"""The whole loop on the kubernetes runtime: Jobs created, pods followed, logs streamed,
counts read from the Jobs, a winner selected, a hanging run cancelled."""
from __future__ import annotations

from helpers import wait_for
from sse_client import read_events

from .conftest import NAMESPACE, assert_every_line_once, by_variation, start_run


def test_a_run_of_three_jobs_streams_completes_and_reports_job_counts(kube_server, fake):
    server = kube_server()
    run = start_run(server, "lines=30 delay=0.005 v2.exit=3", 3)
    run_id = run["run_id"]
    assert run["job_names"] == [f"agent-{run_id}-{i}" for i in range(3)]

    events = read_events(server.base + run["stream_url"], timeout=30)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    pods = {i: fake.pods_of(f"agent-{run_id}-{i}")[0]["metadata"]["name"] for i in range(3)}
    for e in events:
        if e.event == "agent_output":
            assert e.data["pod"] == pods[e.data["variation_id"]]
    for i in range(3):
        assert_every_line_once(events, i, 30)
    completed = by_variation(events, "job_completed")
    assert completed == {i: {"variation_id": i, "status": "completed",
                             "job_name": f"agent-{run_id}-{i}"} for i in (0, 1)}
    errors = by_variation(events, "error")
    assert errors[2]["error"] == "the agent exited with code 3 (Error)"
    assert errors[2]["job_name"] == f"agent-{run_id}-2"
    assert events[-1].event == "run_finished"
    assert events[-1].data == {"run_id": run_id, "status": "completed"}

    status = server.get(f"/runs/{run_id}/status").json()
    assert status["status"] == "completed"
    assert [j["status"] for j in status["jobs"]] == [
        {"active": 0, "succeeded": 1, "failed": 0}, {"active": 0, "succeeded": 1, "failed": 0},
        {"active": 0, "succeeded": 0, "failed": 1}]
    selected = server.post(f"/runs/{run_id}/select", {"winning_variation_id": 1}).json()
    assert selected["status"] == "success" and selected["job_name"] == f"agent-{run_id}-1"

    job = fake.get("jobs", NAMESPACE, f"agent-{run_id}-0")
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    assert job["metadata"]["labels"] == {"app": "aideator-agent", "run-id": run_id,
                                         "variation-id": "0"}


def test_live_counts_and_cancelling_a_hanging_run_deletes_its_jobs(kube_server, fake):
    server = kube_server()
    run = start_run(server, "lines=3 hang=1", 2)
    run_id = run["run_id"]
    wait_for(lambda: all(j["status"]["active"] == 1 for j in
                         server.get(f"/runs/{run_id}/status").json()["jobs"]), timeout=15)
    wait_for(lambda: all(j["phase"] == "running" for j in
                         server.get(f"/runs/{run_id}/status").json()["jobs"]), timeout=15)

    assert server.post(f"/runs/{run_id}/cancel", {}).status_code == 202
    events = read_events(server.base + run["stream_url"], timeout=30)
    assert events[-1].data == {"run_id": run_id, "status": "cancelled"}
    cancelled = [e.data for e in events if e.event == "status"
                 and e.data.get("status") == "cancelled" and "variation_id" in e.data]
    assert sorted(d["variation_id"] for d in cancelled) == [0, 1]
    assert not [e for e in events if e.event in ("error", "job_completed")]
    fake.wait_for(lambda: not fake.list("jobs", NAMESPACE) and not fake.list("pods", NAMESPACE),
                  timeout=10)
    assert server.get(f"/runs/{run_id}/status").json()["status"] == "cancelled"
    deletes = [r for r in fake.requests if r.verb == "delete" and r.resource == "jobs"]
    assert {r.name for r in deletes} == {f"agent-{run_id}-0", f"agent-{run_id}-1"}
