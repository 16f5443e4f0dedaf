"""Draining (what a replica does on SIGTERM), in one process: readiness fails, every run
is handed over with what was read stored, and streams end so clients go elsewhere."""
from __future__ import annotations

import gevent
from helpers import kill_agents

from aideator.store.models import Run


def wait_until(predicate, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        gevent.sleep(0.05)   # this process's greenlets (collectors) run meanwhile
    raise AssertionError("condition not met")


def test_draining_fails_readiness_releases_the_runs_and_ends_streams(app, client, tmp_path):
    created = client.post("/api/v1/runs", json={"github_url": "https://github.com/a/b",
                                                "prompt": "lines=5 hang=1", "variations": 2})
    run_id = created.get_json()["run_id"]
    service = app.extensions["aideator"]
    wait_until(lambda: client.get(f"/api/v1/runs/{run_id}").get_json()["event_count"] >= 13)
    assert client.get("/api/v1/replica").get_json()["runs_owned"] == 1

    service.drain()

    health = client.get("/api/v1/health")
    assert health.status_code == 503
    assert health.get_json()["status"] == "draining"
    assert client.get("/api/v1/replica").get_json()["runs_owned"] == 0
    run = Run.get_by_id(run_id)
    assert (run.lease_owner, run.status) == (None, "running")   # anyone may take it now
    detail = client.get(f"/api/v1/runs/{run_id}").get_json()
    assert [v["status"] for v in detail["variations"]] == ["running", "running"]
    refused = client.post("/api/v1/runs", json={"github_url": "https://github.com/a/b",
                                                "prompt": "lines=1", "variations": 1})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.get_json()["error"] == "shutting_down"
    # A stream opened now ends at once: the client is to reconnect to another replica.
    body = client.get(f"/api/v1/runs/{run_id}/stream").get_data()
    assert b"run_finished" not in body
    kill_agents(tmp_path / "data")
