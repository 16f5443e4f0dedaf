"""GET /metrics, as Prometheus scrapes it, checked against what the runs really did: with one
gunicorn worker, and with two (every scrape shows the sum of both)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
from pathlib import Path
from typing import Iterator

import psutil
import requests

from helpers import Server, start_run, wait_for
from prom import scrape
from sse_client import read_events


@contextlib.contextmanager
def connection_to(server: Server, worker: int, others: set[int]) -> Iterator[requests.Session]:
    """A kept-alive connection served by ``worker``: opened while the other workers are
    stopped (SIGSTOP), so only it can accept it."""
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        session = requests.Session()
        replica = session.get(server.url("/replica"), timeout=10).json()["replica"]
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)
    assert int(replica.split("/")[1]) == worker
    with session:
        yield session


def watch(server: Server, run_id: str, events: int) -> socket.socket:
    """An SSE client left connected once it has received ``events`` events."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(f"GET /api/v1/runs/{run_id}/stream HTTP/1.0\r\n\r\n".encode())
    received = b""
    while received.count(b"\nevent: ") < events:
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    assert received.count(b"\nevent: ") == events
    return sock


def event_count(server: Server, run_id: str) -> int:
    return server.get(f"/runs/{run_id}").json()["event_count"]


def test_metrics_after_a_completed_a_failed_and_a_cancelled_run(make_server):
    server = make_server(sse_heartbeat_seconds="1")
    # A run that hangs after its output: two clients watch it, then go away.
    hanging = start_run(server, "lines=2 hang=1")
    wait_for(lambda: event_count(server, hanging["run_id"]) == 5)
    clients = [watch(server, hanging["run_id"], 5) for _ in range(2)]
    wait_for(lambda: scrape(server.metrics_base).value("aideator_sse_clients") == 2)
    for client in clients:
        client.close()
    wait_for(lambda: scrape(server.metrics_base).value("aideator_sse_clients") == 0, timeout=10)

    completed = start_run(server, "lines=6 delay=0.05 result=1", 2, variation_configs=[
        {"model": "claude-sonnet-4-5"}, {"model": "claude-haiku-4-5"}])
    completed_events = read_events(server.base + completed["stream_url"])
    assert completed_events[-1].data["status"] == "completed"
    failed = start_run(server, "lines=2 exit=3", 2)
    failed_events = read_events(server.base + failed["stream_url"])
    assert failed_events[-1].data["status"] == "failed"
    assert server.post(f"/runs/{hanging['run_id']}/cancel", {}).status_code == 202
    cancelled_events = read_events(server.base + hanging["stream_url"])
    assert cancelled_events[-1].data["status"] == "cancelled"

    # Sends reach the shared values within a second (metrics.SENT_FLUSH_SECONDS).
    runs_events = [completed_events, failed_events, cancelled_events]
    stored = sum(len(events) for events in runs_events)
    wait_for(lambda: scrape(server.metrics_base).total("aideator_events_sent_total")
             == stored + 2 * 5, timeout=5)
    m = scrape(server.metrics_base)
    assert m.value("aideator_runs_submitted_total") == 3
    for status in ("completed", "failed", "cancelled"):
        assert m.value("aideator_runs_finished_total", status=status) == 1
    assert m.value("aideator_variations_finished_total", outcome="succeeded",
                   reason="none") == 2
    assert m.value("aideator_variations_finished_total", outcome="failed",
                   reason="exit_code") == 2
    assert m.value("aideator_variations_finished_total", outcome="cancelled",
                   reason="cancelled") == 1
    assert m.total("aideator_variations_finished_total") == 5
    # Turns, tokens and cost from each variation's result line, by its model.
    for model in ("claude-sonnet-4-5", "claude-haiku-4-5"):
        assert m.value("aideator_agent_turns_total", model=model) == 3
        assert m.value("aideator_agent_cost_usd_total", model=model) == 0.125
        assert m.value("aideator_agent_tokens_total", model=model, kind="input") == 1000
        assert m.value("aideator_agent_tokens_total", model=model, kind="output") == 200
        assert m.value("aideator_agent_tokens_total", model=model,
                       kind="cache_read_input") == 50
    assert m.total("aideator_agent_tokens_total", kind="cache_creation_input") == 0
    # Every variation printed: five first lines, each well within a minute of its POST.
    assert m.value("aideator_first_output_seconds_count", runtime="local") == 5
    assert m.value("aideator_first_output_seconds_bucket", runtime="local", le="60.0") == 5
    assert m.value("aideator_first_output_seconds_sum", runtime="local") > 0
    # Every event was stored once; the clients got 2 x 5 of the hanging run, then each
    # run's whole stream once.
    assert [e.id for e in cancelled_events][:5] == [1, 2, 3, 4, 5]
    assert m.value("aideator_events_stored_total") == stored
    assert m.total("aideator_events_sent_total") == stored + 2 * 5
    # The completed run printed while its client was connected: its lag was measured.
    lag_count = m.value("aideator_delivery_lag_seconds_count")
    assert lag_count >= 1
    assert m.value("aideator_delivery_lag_seconds_sum") / lag_count < 2.0
    assert m.value("aideator_db_write_batch_seconds_count") >= 1
    assert m.value("aideator_sse_clients") == 0
    # No label holds a run id, the repository or the prompt.
    for value in m.label_values():
        assert not value.startswith("run-") and "github" not in value \
            and "lines=" not in value, value


def lease_owner_pid(data_dir: Path, run_id: str) -> int:
    with sqlite3.connect(data_dir / "aideator.db") as conn:
        owner = conn.execute("SELECT lease_owner FROM run WHERE id = ?", (run_id,)).fetchone()
    return int(owner[0].split("/")[1])


def connections_on(pid: int, port: int) -> int:
    proc = psutil.Process(pid)
    conns = proc.net_connections("tcp") if hasattr(proc, "net_connections") \
        else proc.connections("tcp")
    return sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in conns)


def test_metrics_have_a_port_of_their_own_and_none_on_the_api_port(server):
    """The API port is what an Ingress routes to the world: it has no /metrics."""
    assert requests.get(f"{server.base}/metrics", timeout=10).status_code == 404
    assert requests.get(server.url("/metrics"), timeout=10).status_code == 404
    m = scrape(server.metrics_base)
    assert m.value("aideator_sse_clients") == 0
    assert "aideator_runs_submitted_total" in m.text


def test_two_workers_every_scrape_shows_the_sum_and_a_dead_worker_leaves_no_clients(
        tmp_path):
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    tmp.mkdir()
    server = Server(data, workers="2", sse_heartbeat_seconds="1")
    server.env["TMPDIR"] = str(tmp)   # where the private metrics directory goes
    server.start()
    try:
        workers = set(server.worker_pids())
        assert len(workers) == 2
        assert len(list(tmp.glob("aideator-metrics-*"))) == 1
        # Runs created through each worker (the worker a POST reaches owns its run).
        runs = []
        for worker in sorted(workers):
            with connection_to(server, worker, workers - {worker}) as session:
                for _ in range(2):
                    runs.append(start_run(server, "lines=3 result=1", session=session))
                    assert lease_owner_pid(data, runs[-1]["run_id"]) == worker
        for run in runs:
            assert read_events(server.base + run["stream_url"])[-1].data["status"] == \
                "completed"
        for _ in range(6):   # whichever worker answers, it reports both
            m = scrape(server.metrics_base)
            assert m.value("aideator_runs_finished_total", status="completed") == len(runs)
            assert m.value("aideator_agent_turns_total", model="claude-sonnet-4-5") == \
                3 * len(runs)
            assert m.value("aideator_first_output_seconds_count", runtime="local") == \
                len(runs)

        # Clients of a live run, on both workers; SIGKILL the one holding most of them:
        # its clients leave the gauge (child_exit), its counts stay.
        hanging = start_run(server, "lines=1 hang=1")
        wait_for(lambda: event_count(server, hanging["run_id"]) == 4)
        clients = [watch(server, hanging["run_id"], 4) for _ in range(6)]
        wait_for(lambda: scrape(server.metrics_base).value("aideator_sse_clients") == 6)
        held = {pid: connections_on(pid, server.port) for pid in workers}
        victim = max(held, key=held.get)
        assert sum(held.values()) == 6 and held[victim] > 0
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(set(server.worker_pids()) - {victim}) == 2)
        after = scrape(server.metrics_base)
        assert after.value("aideator_sse_clients") == 6 - held[victim]
        assert after.value("aideator_runs_finished_total", status="completed") == len(runs)
        for client in clients:
            client.close()
        server.post(f"/runs/{hanging['run_id']}/cancel", {})
    finally:
        server.stop()
    assert not list(tmp.glob("aideator-metrics-*"))   # the private directory is removed
