"""The event path's figures: throughput, latency and memory per SSE client.

1. Throughput: one run, 5 variations each printing 20,000 lines as fast as it can, read
   end-to-end by one SSE client, against reading the same programs' pipes directly.
2. Fan-out: 200 SSE clients on one gevent worker, connected before a run of the same
   shape (5 x 20,000 lines) whose agents print at a steady pace (BENCH_FANOUT_RATE lines/s
   each, default 1,000: far above a real agent, and below what 200 clients x 5 agents on
   two cores could take unpaced): every client must get every event; delivery latency
   (agent print -> client receive) p50/p99; the worker's RSS growth per client, idle and
   at peak.
"""
from __future__ import annotations

import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import FAKE_AGENT, Server, wait_for  # noqa: E402

from benchmarks.sse_reader import open_stream, read_stream  # noqa: E402

VARIATIONS = 5
LINES = 20_000
CLIENTS = 200
CLIENT_PROCESSES = 2
TRIES = 3
# The fan-out run: lines per variation and the pace each variation prints them at.
FANOUT_LINES = int(os.environ.get("BENCH_FANOUT_LINES", "20000"))
FANOUT_RATE = float(os.environ.get("BENCH_FANOUT_RATE", "1000"))
REPO = "https://github.com/octocat/hello-world"


def pipe_rate() -> tuple[float, int]:
    """Lines per second read straight from the agents' stdout pipes: the physical limit."""
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(FAKE_AGENT)], stdout=subprocess.PIPE,
                              env={"PATH": os.environ["PATH"], "PROMPT": f"lines={LINES}",
                                   "VARIATION_ID": str(i)})
             for i in range(VARIATIONS)]
    selector = selectors.DefaultSelector()
    for proc in procs:
        os.set_blocking(proc.stdout.fileno(), False)
        selector.register(proc.stdout, selectors.EVENT_READ)
    lines, open_pipes = 0, len(procs)
    while open_pipes:
        for key, _ in selector.select():
            chunk = key.fileobj.read1(1 << 16)
            if chunk:
                lines += chunk.count(b"\n")
            else:
                selector.unregister(key.fileobj)
                open_pipes -= 1
    for proc in procs:
        proc.wait()
    return lines / (time.perf_counter() - start), lines


def end_to_end_rate(server: Server) -> tuple[float, int]:
    """Lines per second from run submission to the last event at one SSE client."""
    start = time.perf_counter()
    run = server.post("/runs", {"github_url": REPO, "prompt": f"lines={LINES}",
                                "variations": VARIATIONS}).json()
    counts = read_stream(open_stream(server.base + run["stream_url"]))
    return counts["agent_output"] / (time.perf_counter() - start), counts["agent_output"]


def worker_rss(server: Server) -> int:
    return psutil.Process(server.proc.pid).children()[0].memory_info().rss


def start_clients(*urls: str, clients: int = CLIENTS) -> list[subprocess.Popen]:
    """``clients`` SSE clients in CLIENT_PROCESSES processes, spread over ``urls``."""
    per = clients // CLIENT_PROCESSES
    procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.sse_clients", str(per), *urls],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(CLIENT_PROCESSES)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "connected"
    return procs


def collect(procs: list[subprocess.Popen]) -> tuple[list[int], list[float]]:
    counts, latencies = [], []
    for proc in procs:
        result = json.loads(proc.stdout.readline())
        proc.wait()
        counts += result["counts"]
        latencies += result["latencies"]
    return counts, latencies


def idle_memory_per_client(server: Server) -> float:
    """RSS growth of the worker per connected client, on a run that is quiet."""
    run = server.post("/runs", {"github_url": REPO, "prompt": "lines=20 hang=1",
                                "variations": VARIATIONS}).json()
    wait_for(lambda: server.get(f"/runs/{run['run_id']}").json()["event_count"]
             >= 1 + VARIATIONS * 22)
    time.sleep(0.5)
    before = worker_rss(server)
    procs = start_clients(server.base + run["stream_url"])
    time.sleep(2)   # every client has been sent the replay and waits for more
    growth = (worker_rss(server) - before) / CLIENTS
    server.post(f"/runs/{run['run_id']}/cancel", {})
    collect(procs)
    return growth


def fanout_latency(server: Server, lines: int, delay: float) -> dict[str, float]:
    """200 clients connected before the agents start printing, then a paced run."""
    before = worker_rss(server)
    run = server.post("/runs", {"github_url": REPO, "prompt": "lines=0 start_delay=3",
                                "variations": 1}).json()
    read_stream(open_stream(server.base + run["stream_url"]))  # warm the path up
    run = server.post("/runs", {"github_url": REPO,
                                "prompt": f"lines={lines} delay={delay} start_delay=4",
                                "variations": VARIATIONS}).json()
    procs = start_clients(server.base + run["stream_url"])
    peak, stop = [before], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak.append(worker_rss(server))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    counts, latencies = collect(procs)
    stop.set()
    sampler.join()
    expected = requests.get(server.url(f"/runs/{run['run_id']}"), timeout=10).json()
    latencies.sort()
    return {"clients": len(counts), "events_expected": expected["event_count"],
            "clients_with_every_event": sum(c == expected["event_count"] for c in counts),
            "samples": len(latencies),
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "max_ms": latencies[-1],
            "peak_rss_growth_per_client_kb": (max(peak) - before) / CLIENTS / 1024}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # Best of a few tries for both rates: other load on the machine hurts either.
        pipe, pipe_lines = max(pipe_rate() for _ in range(TRIES))
        print(f"pipes: {pipe_lines} lines from {VARIATIONS} processes at {pipe:,.0f} lines/s")
        server = Server(Path(tmp) / "throughput").start()
        try:
            e2e, e2e_lines = max(end_to_end_rate(server) for _ in range(TRIES))
        finally:
            server.stop()
        print(f"end-to-end: {e2e_lines} lines to one SSE client at {e2e:,.0f} lines/s "
              f"= {e2e / pipe:.2f}x the pipes (floor 0.5x; best of {TRIES})")

        server = Server(Path(tmp) / "fanout").start()
        try:
            idle = idle_memory_per_client(server)
            print(f"memory: {idle / 1024:.1f} KB worker RSS growth per connected client "
                  f"({CLIENTS} clients, floor < 200 KB)")
            lines, delay = FANOUT_LINES, 1 / FANOUT_RATE
            result = fanout_latency(server, lines, delay)
        finally:
            server.stop()
        print(f"fan-out: {CLIENTS} clients on one gevent worker, {VARIATIONS} variations x "
              f"{lines} lines at {1 / delay:.0f} lines/s each: "
              f"{result['clients_with_every_event']}/{result['clients']} clients got all "
              f"{result['events_expected']} events; latency p50 {result['p50_ms']:.1f} ms, "
              f"p99 {result['p99_ms']:.1f} ms (floor < 250 ms), max {result['max_ms']:.1f} ms "
              f"over {result['samples']:,} deliveries; peak RSS growth "
              f"{result['peak_rss_growth_per_client_kb']:.1f} KB per client")


if __name__ == "__main__":
    main()
