"""Fan-out capacity: how many SSE clients one gevent worker serves in time.

For each pace (the agents' lines per second), clients of one run of VARIATIONS agents are
added by steps (CLIENT_STEPS) until the 99th percentile of delivery latency (agent print ->
client receive) passes 250 ms or a client misses an event; the capacity at a bound is the
largest step under it. Every step is a fresh run whose agents start printing once every
client is connected, and lasts RUN_SECONDS.

So that a figure means the same on another machine:
- the pipe read rate (lines per second read straight from the same number of agent
  pipes) is measured before each try and printed beside it: compare machines as
  capacity / pipe rate;
- the worker is pinned to core 0 and everything else (clients, agents' launcher, this
  process) to the other cores, and the clients are lean (benchmarks/capacity_clients.py:
  epoll, no gevent); the CPU they and the worker used is printed with each step;
- the whole search is tried TRIES times and min / median / max printed.

Idle clients should cost nothing per event: at the first pace, the step found under
100 ms is run again with IDLE_CLIENTS more clients connected to a quiet run beside it.

BENCH_CAPACITY_PACES (e.g. "10,100"), BENCH_CAPACITY_TRIES, BENCH_CAPACITY_SECONDS and
BENCH_CAPACITY_STEPS change the defaults; BENCH_CAPACITY_PROFILE=DIR records a py-spy
profile of the worker at every step into DIR (py-spy on the PATH: `pip install py-spy`).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

from benchmarks.capacity_clients import LATENCY_BIN_MS
from benchmarks.event_path import REPO, VARIATIONS, pipe_rate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import Server  # noqa: E402

PACES = [float(p) for p in os.environ.get("BENCH_CAPACITY_PACES", "10,100").split(",")]
TRIES = int(os.environ.get("BENCH_CAPACITY_TRIES", "3"))
RUN_SECONDS = float(os.environ.get("BENCH_CAPACITY_SECONDS", "6"))
CLIENT_STEPS = [int(n) for n in os.environ.get(
    "BENCH_CAPACITY_STEPS", "500,1000,1500,2000,3000,4000,5000,6000,8000,10000").split(",")]
BOUNDS_MS = (100.0, 250.0)
IDLE_CLIENTS = int(os.environ.get("BENCH_CAPACITY_IDLE", "2000"))
# Client processes: one per spare core, two at most, each a single thread.
CLIENT_PROCESSES = max(1, min(2, (os.cpu_count() or 1) - 1))
PROFILE_DIR = os.environ.get("BENCH_CAPACITY_PROFILE")


def percentile(histogram: dict[int, int], fraction: float) -> float:
    total = sum(histogram.values())
    rank, seen = fraction * total, 0
    for key in sorted(histogram):
        seen += histogram[key]
        if seen >= rank:
            return (key + 1) * LATENCY_BIN_MS
    return float("nan")


def pin(server: Server) -> tuple[psutil.Process, set[int]]:
    """The worker on core 0, everything else of ours on the other cores (if any)."""
    worker = psutil.Process(server.worker_pids()[0])
    cores = sorted(os.sched_getaffinity(0))
    others = set(cores[1:]) or set(cores)
    if len(cores) > 1:
        worker.cpu_affinity([cores[0]])
        psutil.Process(server.proc.pid).cpu_affinity(sorted(others))
        os.sched_setaffinity(0, others)
    return worker, others


def start_clients(n: int, url: str) -> list[subprocess.Popen]:
    per = [n // CLIENT_PROCESSES + (i < n % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)]
    procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.capacity_clients",
                               str(k), url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for k in per if k]
    for proc in procs:
        if proc.stdout.readline().strip() != "connected":
            raise SystemExit("clients could not connect")
    return procs


def step(server: Server, worker: psutil.Process, clients: int, pace: float,
         label: str) -> dict[str, float]:
    """One run of VARIATIONS agents printing ``pace`` lines/s each for RUN_SECONDS, read by
    ``clients`` clients connected before the first line."""
    lines = max(int(pace * RUN_SECONDS), 1)
    # Time enough for every client to connect before the agents print.
    start_delay = 2 + clients / 400
    created = time.monotonic()
    answer = server.post("/runs", {"github_url": REPO, "variations": VARIATIONS, "prompt":
                                   f"lines={lines} delay={1 / pace} start_delay={start_delay}"})
    if answer.status_code != 202:
        raise SystemExit(f"the run was refused: {answer.status_code} {answer.text}")
    run = answer.json()
    procs = start_clients(clients, server.base + run["stream_url"])
    # The worker's CPU from the agents' first line (they start a moment after the run).
    first_line = created + start_delay + 0.3
    if time.monotonic() > first_line:
        print("    (the clients connected after the agents' first line: raise start_delay)")
    time.sleep(max(first_line - time.monotonic(), 0))
    started = time.monotonic()
    cpu_before = sum(worker.cpu_times()[:2])
    profiler = None
    if PROFILE_DIR:
        profiler = subprocess.Popen(
            ["py-spy", "record", "--pid", str(worker.pid), "--format", "raw",
             "--output", str(Path(PROFILE_DIR) / f"{label}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = [json.loads(proc.stdout.readline()) for proc in procs]
    wall = time.monotonic() - started
    worker_cpu = sum(worker.cpu_times()[:2]) - cpu_before
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)   # py-spy writes its profile and exits
        profiler.wait()
    for proc in procs:
        proc.wait()
    detail = requests.get(server.url(f"/runs/{run['run_id']}"), timeout=30).json()
    counts = [c for r in results for c in r["counts"]]
    histogram: dict[int, int] = {}
    for r in results:
        for key, n in r["histogram"].items():
            histogram[int(key)] = histogram.get(int(key), 0) + n
    samples = sum(histogram.values())
    return {"clients": clients, "complete": sum(c == detail["event_count"] for c in counts),
            "deliveries_per_s": clients * VARIATIONS * pace, "samples": samples,
            "p50_ms": percentile(histogram, 0.50), "p99_ms": percentile(histogram, 0.99),
            "worker_cpu": worker_cpu / wall,
            "client_cpu": sum(r["cpu_share"] for r in results)}


def show(result: dict[str, float], note: str = "") -> None:
    print(f"    {result['clients']:5d} clients ({result['deliveries_per_s']:9,.0f} "
          f"deliveries/s){note}: p50 {result['p50_ms']:7.1f} ms, p99 {result['p99_ms']:7.1f} "
          f"ms, {result['complete']}/{result['clients']} complete, {result['samples']:,} "
          f"samples; worker CPU {result['worker_cpu']:.0%}, clients' CPU "
          f"{result['client_cpu']:.0%}", flush=True)


def with_idle_clients(server: Server, worker: psutil.Process, clients: int, pace: float,
                      attempt: int) -> None:
    """The step again, with IDLE_CLIENTS clients of a quiet run connected beside it."""
    quiet = server.post("/runs", {"github_url": REPO, "variations": 1,
                                  "prompt": "lines=1 hang=1"}).json()
    idle = start_clients(IDLE_CLIENTS, server.base + quiet["stream_url"])
    try:
        show(step(server, worker, clients, pace, f"pace{pace:g}-try{attempt}-idle"),
             f" + {IDLE_CLIENTS} idle")
    finally:
        server.post(f"/runs/{quiet['run_id']}/cancel", {})
        for proc in idle:
            proc.communicate()


def search(server: Server, worker: psutil.Process, pace: float, attempt: int
           ) -> dict[float, int]:
    """For each bound, the last step before the first one over it (0 if the first is)."""
    best = dict.fromkeys(BOUNDS_MS, 0)
    under = set(BOUNDS_MS)
    for clients in CLIENT_STEPS:
        result = step(server, worker, clients, pace, f"pace{pace:g}-try{attempt}-{clients}")
        show(result)
        if result["complete"] < clients:
            break
        for bound in BOUNDS_MS:
            if result["p99_ms"] >= bound:
                under.discard(bound)
            elif bound in under:
                best[bound] = clients
        if result["p99_ms"] >= BOUNDS_MS[-1]:
            break
    return best


def main() -> None:
    if PROFILE_DIR and not shutil.which("py-spy"):
        raise SystemExit("BENCH_CAPACITY_PROFILE needs py-spy on the PATH")
    found: dict[tuple[float, float], list[int]] = {}
    pipes: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "capacity", worker_connections="20000",
                        max_concurrent_variations=str(VARIATIONS + 1),
                        limit_runs_per_hour="0").start()   # a run per step
        try:
            worker, others = pin(server)
            print(f"fan-out capacity: one gevent worker pinned to a core; clients in "
                  f"{CLIENT_PROCESSES} process(es) on cores {sorted(others)}; "
                  f"{VARIATIONS} agents, {RUN_SECONDS:g} s per step; {TRIES} tries",
                  flush=True)
            for attempt in range(1, TRIES + 1):
                pipe, _ = pipe_rate()
                pipes.append(pipe)
                print(f"  try {attempt}: pipes read at {pipe:,.0f} lines/s", flush=True)
                for pace in PACES:
                    print(f"  pace {pace:g} lines/s per agent:", flush=True)
                    best = search(server, worker, pace, attempt)
                    for bound, clients in best.items():
                        found.setdefault((pace, bound), []).append(clients)
                    if pace == PACES[0] and IDLE_CLIENTS and best[BOUNDS_MS[0]]:
                        with_idle_clients(server, worker, best[BOUNDS_MS[0]], pace, attempt)
        finally:
            server.stop()
    print(f"pipe read rate: min {min(pipes):,.0f} / median {statistics.median(pipes):,.0f} / "
          f"max {max(pipes):,.0f} lines/s")
    def clients(n: float) -> str:   # the last step never went over: at least that many
        return f"{'>=' if n >= CLIENT_STEPS[-1] else ''}{n:,g}"

    for (pace, bound), values in found.items():
        mid = statistics.median(values)
        print(f"capacity at {VARIATIONS} agents x {pace:g} lines/s, p99 < {bound:g} ms: "
              f"min {clients(min(values))} / median {clients(mid)} / max "
              f"{clients(max(values))} clients "
              f"({mid * VARIATIONS * pace:,.0f} deliveries/s; "
              f"{mid / statistics.median(pipes) * 1000:.2f} clients per 1,000 pipe lines/s)")


if __name__ == "__main__":
    main()
