"""Several replicas on one PostgreSQL database: any replica serves any run, one replica
collects each run under a lease, and when it dies, pauses or is stopped another takes over
without losing, repeating or reordering anything, and without starting an agent twice."""
from __future__ import annotations

import threading
import time

import psycopg

from helpers import wait_for
from sse_client import read_events

from .conftest import (LEASE, assert_complete, cancel_through_another_replica, follow,
                       owner, replica, start_run)


def stored_stream(pg_url: str, run_id: str) -> list[bytes]:
    """The run's events as the store holds them, frame by frame."""
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT frames FROM eventbatch WHERE run_id = %s "
                            "ORDER BY first_seq", (run_id,)).fetchall()
    return [frame for (frames,) in rows for frame in bytes(frames).split(b"\n\n") if frame]


def test_fifty_clients_on_each_other_replica_get_the_stored_sequence(replicas, pg_url):
    a, b, c = replicas(3)
    run = start_run(a, "lines=200 delay=0.005", 3)
    results: list = [None] * 100

    def client(i: int) -> None:
        server = b if i % 2 else c
        try:
            results[i] = [e.raw for e in read_events(server.base + run["stream_url"],
                                                     timeout=90)]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, list) for r in results), [r for r in results
                                                       if not isinstance(r, list)][:3]
    assert all(r == results[0] for r in results)
    assert results[0] == stored_stream(pg_url, run["run_id"])
    assert results[0][-1].startswith(b"id: ") and b"event: run_finished" in results[0][-1]


def test_every_endpoint_answers_alike_on_every_replica(replicas):
    a, b, c = replicas(3)
    run = start_run(a, "lines=10", 2)
    run_id = run["run_id"]
    read_events(c.base + run["stream_url"], timeout=60)
    assert b.post(f"/runs/{run_id}/select", {"winning_variation_id": 1}).status_code == 200
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/status", "/runs",
                 f"/runs/{run_id}/variations/1/diff", "/runs/run-0000000000"):
        answers = [(r.status_code, r.json()) for r in (s.get(path) for s in (a, b, c))]
        assert answers[0] == answers[1] == answers[2], path
    assert c.get(f"/runs/{run_id}").json()["selection"]["winning_variation_id"] == 1


def test_a_cancel_through_another_replica_stops_the_run(replicas):
    cancel_through_another_replica(*replicas(2))


def test_sigkill_of_the_owner_another_replica_takes_over_within_the_bound(replicas):
    servers = replicas(3)
    a, b, c = servers
    lines = 400
    run = start_run(a, f"lines={lines} delay=0.02", 2)   # ~8 s of output per variation
    path = run["stream_url"]
    taken_over: list[float] = []

    def note(event) -> None:
        if event.event == "status" and "took the run over" in event.data.get("message", ""):
            taken_over.append(time.monotonic())

    results: dict[int, list] = {}

    def client(i: int, order: list) -> None:
        results[i] = follow(order, on_event=note if i == 0 else None)

    orders = [[(b, path)], [(c, path)], [(a, path), (b, path)], [(a, path), (c, path)]]
    threads = [threading.Thread(target=client, args=(i, o)) for i, o in enumerate(orders)]
    for t in threads:
        t.start()
    wait_for(lambda: a.get(f"/runs/{run['run_id']}").json()["event_count"] > 100)
    assert owner(servers) is a
    a.kill()
    killed = time.monotonic()
    for t in threads:
        t.join()
    for events in results.values():
        assert_complete(events, 2, lines)
    assert [e.raw for e in results[0]] == [e.raw for e in results[2]] == \
        [e.raw for e in results[3]]
    assert len(taken_over) == 1
    assert taken_over[0] - killed <= LEASE * 1.25 + 1.5   # the bound, plus delivery


def test_split_brain_a_paused_owner_that_wakes_up_stores_nothing(replicas, pg_url):
    a, b = replicas(2)
    lines = 300
    run = start_run(a, f"lines={lines} delay=0.02", 2)
    run_id = run["run_id"]
    wait_for(lambda: b.get(f"/runs/{run_id}").json()["event_count"] > 50)
    a.pause()
    try:
        wait_for(lambda: b.get("/replica").json()["runs_owned"] == 1, timeout=LEASE * 3)
    finally:
        a.resume()
    # The old owner notices (its next renewal, or its first fenced write) and lets go.
    wait_for(lambda: a.get("/replica").json()["runs_owned"] == 0, timeout=LEASE * 2)
    events = read_events(a.base + run["stream_url"], timeout=60)
    assert_complete(events, 2, lines)
    assert [e.raw for e in events] == [e.raw for e in
                                       read_events(b.base + run["stream_url"], timeout=10)]


def test_rolling_restart_of_every_replica_loses_and_repeats_nothing(replicas, make_server,
                                                                    tmp_path, pg_url):
    servers = replicas(3)
    lines = 300
    run = start_run(servers[0], f"lines={lines} delay=0.03", 5)   # ~9 s per variation
    path = run["stream_url"]
    done: list = []
    targets = [(s, path) for s in servers[1:] + servers[:1]]   # the reader's replicas
    reader = threading.Thread(target=lambda: done.append(follow(targets, timeout=120)))
    reader.start()
    for i in range(3):
        seconds = servers[i].terminate()
        assert seconds < 10, "the hand-over must not wait for the graceful timeout"
        servers[i] = replica(make_server, tmp_path, f"replica-{chr(97 + i)}2",
                             database_url=pg_url)
        targets[(i - 1) % 3] = (servers[i], path)
        time.sleep(1.5)
    reader.join()
    events = done[0]
    assert_complete(events, 5, lines)
    taken = [e for e in events if e.event == "status"
             and "took the run over" in e.data.get("message", "")]
    assert 1 <= len(taken) <= 3


def test_an_owner_cut_off_from_the_database_is_replaced_and_lets_go_when_back(
        replicas, make_server, postgres, pg_url, tmp_path):
    # Each replica logs in as its own role, so one can be shut out of the database alone.
    for role in ("cutoff_a", "cutoff_b"):
        postgres.execute(pg_url, f"CREATE ROLE {role} LOGIN SUPERUSER")
    a_url, b_url = (pg_url.replace("postgres:@", f"{role}:@", 1)
                    for role in ("cutoff_a", "cutoff_b"))
    a = replica(make_server, tmp_path, "replica-a", database_url=a_url)
    b = replica(make_server, tmp_path, "replica-b", database_url=b_url)
    lines = 300
    run = start_run(a, f"lines={lines} delay=0.02", 2)
    run_id = run["run_id"]
    wait_for(lambda: b.get(f"/runs/{run_id}").json()["event_count"] > 50)
    postgres.execute(pg_url, "ALTER ROLE cutoff_a NOLOGIN")
    postgres.execute(pg_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE usename = 'cutoff_a'")
    try:
        wait_for(lambda: b.get("/replica").json()["runs_owned"] == 1, timeout=LEASE * 3)
    finally:
        postgres.execute(pg_url, "ALTER ROLE cutoff_a LOGIN")
    wait_for(lambda: a.get("/replica").json()["runs_owned"] == 0, timeout=LEASE * 3)
    events = read_events(b.base + run["stream_url"], timeout=60)
    assert_complete(events, 2, lines)
    assert "lost the lease" in a.log_path.read_text()
