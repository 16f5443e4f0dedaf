"""The gunicorn worker (aideator.ops.worker): told to stop, a worker hands its runs over and ends
its streams at once, instead of leaving them to its leases' expiry and the graceful timeout;
told to stop while still booting it just stops; and gunicorn's master, which imports the
worker class before forking, imports no database driver with it."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import requests
from gunicorn.config import Config
from helpers import ROOT
from sse_client import iter_events

from aideator.ops.worker import DrainingGeventWorker


def make_worker() -> DrainingGeventWorker:
    # As gunicorn's master makes it, before the fork (no application loaded yet).
    return DrainingGeventWorker(age=1, ppid=os.getpid(), sockets=[], app=None, timeout=30,
                                cfg=Config(), log=None)


def test_a_worker_told_to_stop_while_booting_just_stops() -> None:
    worker = make_worker()
    worker.handle_exit(signal.SIGTERM, None)
    assert worker.alive is False and worker._drain is None


def test_a_worker_told_to_stop_drains_its_service_once(app, client) -> None:
    worker = make_worker()
    worker.wsgi = app   # what init_process loads in the worker
    assert client.get("/api/v1/health").status_code == 200

    worker.handle_exit(signal.SIGTERM, None)
    worker.handle_exit(signal.SIGTERM, None)   # a second signal starts no second drain
    drain = worker._drain
    drain.join(timeout=10)

    assert worker.alive is False and drain.successful()
    health = client.get("/api/v1/health")
    assert (health.status_code, health.get_json()["status"]) == (503, "draining")
    worker.handle_exit(signal.SIGTERM, None)
    assert worker._drain is drain


def test_sigterm_hands_the_runs_over_and_ends_the_streams_at_once(make_server, tmp_path):
    server = make_server()
    created = requests.post(server.url("/runs"), timeout=10,
                            json={"github_url": "https://github.com/a/b",
                                  "prompt": "lines=3 hang=1", "variations": 2}).json()
    run_id = created["run_id"]
    seen: list[str] = []
    ended = threading.Event()

    def watch() -> None:
        for event in iter_events(server.base + created["stream_url"], timeout=60):
            seen.append(getattr(event, "event", ""))
        ended.set()

    threading.Thread(target=watch, daemon=True).start()
    deadline = time.monotonic() + 20
    while seen.count("agent_output") < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.count("agent_output") >= 6, seen   # the agents run (and then hang)

    seconds = server.terminate()

    # A plain gevent worker would hold the open stream for the whole graceful timeout (10 s)
    # and keep the run's lease until it expired.
    assert seconds < 5, seconds
    assert ended.wait(5) and "run_finished" not in seen
    with sqlite3.connect(tmp_path / "data" / "aideator.db") as db:
        row = db.execute("SELECT lease_owner, status FROM run WHERE id = ?",
                         (run_id,)).fetchone()
    assert row == (None, "running")   # anyone may take it over now


def test_gunicorns_master_loads_the_worker_class_without_the_database_driver(tmp_path):
    probe = ("import runpy, sys\n"
             "from gunicorn.util import load_class\n"
             "settings = runpy.run_path('gunicorn.conf.py')\n"
             "worker = load_class(settings['worker_class'])\n"
             "print(worker.__module__, worker.__name__)\n"
             "print(sorted(m for m in ('psycopg', 'peewee', 'flask', 'aideator.store.models',\n"
             "                         'aideator.service') if m in sys.modules))")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.splitlines() == ["aideator.ops.worker DrainingGeventWorker", "[]"]
