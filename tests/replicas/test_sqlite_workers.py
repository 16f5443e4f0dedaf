"""Without PostgreSQL: several gunicorn workers, or several servers, on one machine share
one SQLite file and one data directory with the same guarantees (readers poll the store,
since SQLite cannot notify)."""
from __future__ import annotations

import os
import signal
import sqlite3
import threading

from helpers import wait_for
from sse_client import read_events

from .conftest import (assert_complete, cancel_through_another_replica, follow, replica,
                       start_run)


def lease_owner(data_dir, run_id: str) -> str | None:
    with sqlite3.connect(data_dir / "aideator.db") as conn:
        return conn.execute("SELECT lease_owner FROM run WHERE id = ?", (run_id,)).fetchone()[0]


def test_two_workers_serve_identical_streams_and_survive_sigkill_of_the_owner(make_server,
                                                                             tmp_path):
    data = tmp_path / "data"
    server = make_server(data, workers="2", sse_heartbeat_seconds="1")
    assert len(server.worker_pids()) == 2
    lines = 300
    run = start_run(server, f"lines={lines} delay=0.02", 3)   # ~6 s per variation
    path = run["stream_url"]
    results: list = [None] * 20

    def client(i: int) -> None:
        results[i] = follow([(server, path)], timeout=60)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    wait_for(lambda: server.get(f"/runs/{run['run_id']}").json()["event_count"] > 100)
    owner_pid = int(lease_owner(data, run["run_id"]).split("/")[1])
    assert owner_pid in server.worker_pids()
    os.kill(owner_pid, signal.SIGKILL)   # gunicorn starts a new worker in its place
    for t in threads:
        t.join()
    for events in results:
        assert_complete(events, 3, lines)
        assert [e.raw for e in events] == [e.raw for e in results[0]]
    new_owner = lease_owner(data, run["run_id"])
    assert int(new_owner.split("/")[1]) != owner_pid


def test_a_second_server_on_the_same_sqlite_file_streams_and_cancels_runs_it_does_not_own(
        make_server, tmp_path):
    a = replica(make_server, tmp_path, "replica-a")
    b = replica(make_server, tmp_path, "replica-b")
    run = start_run(a, "lines=40 delay=0.01", 2)
    streamed = read_events(b.base + run["stream_url"], timeout=30)
    assert_complete(streamed, 2, 40)
    assert [e.raw for e in streamed] == [e.raw for e in
                                         read_events(a.base + run["stream_url"], timeout=10)]

    cancel_through_another_replica(a, b)
