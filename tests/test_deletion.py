"""DELETE /api/v1/runs/{id} on a real server with access control: the owner (or an admin)
deletes a run with its events, variations, usage and workspace; a live run is cancelled
first; anyone else gets the same 404 as for a run that does not exist, and nothing goes."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from helpers import Server, start_run, wait_for
from sse_client import iter_events, read_events
from test_auth import ADMIN, call, new_token

TABLES = ("run", "variation", "eventbatch", "variationusage", "selection")


class World:
    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "data"
        self.server = Server(self.data, auth="required", admin_token=ADMIN,
                             sse_heartbeat_seconds="1").start()
        self.alice = new_token(self.server, "alice")["token"]
        self.bob = new_token(self.server, "bob")["token"]

    def rows(self, run_id: str) -> dict[str, int]:
        with sqlite3.connect(self.data / "aideator.db") as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t} WHERE "
                                    f"{'id' if t == 'run' else 'run_id'} = ?",
                                    (run_id,)).fetchone()[0] for t in TABLES}

    def finished_run(self) -> dict[str, Any]:
        run = start_run(self.server, "lines=3", 2, token=self.alice)
        assert read_events(self.server.base + run["stream_url"])[-1].event == "run_finished"
        call(self.server, "POST", f"/runs/{run['run_id']}/select", self.alice,
             {"winning_variation_id": 1})
        return run


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    w = World(tmp_path_factory.mktemp("deletion"))
    yield w
    w.server.stop()


def test_the_owner_deletes_a_run_with_its_events_and_workspace(world):
    run = world.finished_run()
    run_id = run["run_id"]
    workspace = world.data / "runs" / run_id
    assert workspace.is_dir()
    rows = world.rows(run_id)
    assert (rows["run"], rows["variation"], rows["selection"]) == (1, 2, 1)
    assert rows["eventbatch"] > 0

    deleted = call(world.server, "DELETE", f"/runs/{run_id}", world.alice)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert world.rows(run_id) == dict.fromkeys(TABLES, 0)
    assert not workspace.exists()
    for token in (world.alice, ADMIN):
        assert call(world.server, "GET", f"/runs/{run_id}", token).status_code == 404
    assert call(world.server, "DELETE", f"/runs/{run_id}", world.alice).status_code == 404
    # Its stream link names a run that is gone.
    assert call(world.server, "GET", run["stream_url"].removeprefix("/api/v1")
                ).status_code in (401, 404)
    assert run_id not in [r["run_id"] for r in
                          call(world.server, "GET", "/runs", ADMIN).json()["runs"]]


def test_another_principals_delete_gets_404_and_deletes_nothing(world):
    run = world.finished_run()
    run_id = run["run_id"]
    before = world.rows(run_id)
    refused = call(world.server, "DELETE", f"/runs/{run_id}", world.bob)
    assert refused.status_code == 404 and refused.json()["error"] == "not_found"
    missing = call(world.server, "DELETE", "/runs/run-0000000000", world.bob)
    assert (missing.status_code, missing.json()) == (404, refused.json() | {
        "detail": missing.json()["detail"]})
    assert world.rows(run_id) == before
    assert (world.data / "runs" / run_id).is_dir()
    assert call(world.server, "GET", f"/runs/{run_id}", world.alice).status_code == 200
    # An admin may delete anyone's run.
    assert call(world.server, "DELETE", f"/runs/{run_id}", ADMIN).status_code == 204
    assert world.rows(run_id) == dict.fromkeys(TABLES, 0)


def test_a_live_run_is_cancelled_then_deleted_and_its_streams_end(world):
    run = start_run(world.server, "lines=2 hang=1", 2, token=world.alice)
    run_id = run["run_id"]
    seen: list = []
    ended = threading.Event()

    def follow() -> None:
        for item in iter_events(world.server.base + run["stream_url"], timeout=30):
            seen.append(item)
        ended.set()

    threading.Thread(target=follow, daemon=True).start()
    wait_for(lambda: sum(getattr(e, "event", "") == "agent_output" for e in seen) >= 4)
    agents = agent_processes(world.data / "runs" / run_id)
    assert len(agents) >= 2
    deleted = call(world.server, "DELETE", f"/runs/{run_id}", world.alice)
    assert deleted.status_code == 204, deleted.text
    assert world.rows(run_id) == dict.fromkeys(TABLES, 0)
    assert not (world.data / "runs" / run_id).exists()
    assert ended.wait(5), "the deleted run's stream stayed open"
    events = [e for e in seen if not isinstance(e, bytes)]
    # It saw the cancellation end the run (or, had it been slower, the deletion).
    assert events[-1].event in ("run_finished", "stream_closed")
    assert not [p for p in agents if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def agent_processes(directory: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("WORKSPACE", "").startswith(str(directory)):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
