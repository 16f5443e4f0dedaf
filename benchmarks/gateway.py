"""The model gateway's overhead: a model stream direct from the upstream against the same
stream through the gateway of a real gunicorn server (one gevent worker).

1. Time to first byte: the client sends a streamed Messages request; the upstream answers
   its headers and first SSE event at once, stamped with the time it left. Measured: from
   request to first body byte at the client, and from the event leaving the upstream to
   it reaching the client.
2. Throughput: the upstream sends EVENTS content_block_delta events (~150 bytes each, one
   write and flush per event, as the real API does) as fast as it can.
3. Memory: STREAMS streams held open at once (the upstream sends its first event, then
   pauses, as a model thinking does); the worker's RSS growth divided by STREAMS.

Figures are min / median / max of TRIES. The upstream is a threaded HTTP server in this
process that sends with TCP_NODELAY, as a real API server does (``BENCH_UPSTREAM_NODELAY=0``
turns it off: Nagle's algorithm then holds its first event until the gateway's delayed
ACK, ~40 ms, which the direct client's request pattern does not trigger). The gateway's
credential is a live variation's (a stand-in agent that hangs).
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from helpers import Server, wait_for  # noqa: E402

TRIES = 3
EVENTS = 20_000
STREAMS = 200
NODELAY = os.environ.get("BENCH_UPSTREAM_NODELAY", "1") == "1"
DELTA = {"type": "content_block_delta", "index": 0,
         "delta": {"type": "text_delta", "text": "lorem ipsum dolor sit amet " * 3}}


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release = threading.Event()

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        if NODELAY:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        start = {"type": "message_start", "sent": time.time(), "message": {
            "model": "bench", "usage": {"input_tokens": 10, "output_tokens": 1}}}
        self._chunk(b"event: message_start\ndata: %s\n\n" % json.dumps(start).encode())
        mode = body["mode"]
        if mode == "bulk":
            frame = b"event: content_block_delta\ndata: %s\n\n" % json.dumps(DELTA).encode()
            for _ in range(EVENTS):
                self._chunk(frame)
        elif mode == "hold":
            self.release.wait(120)
        self._chunk(b'event: message_delta\ndata: {"type":"message_delta",'
                    b'"usage":{"output_tokens":5}}\n\n')
        self._chunk(b"")


def post(base: str, path: str, token: str, mode: str) -> http.client.HTTPResponse:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    conn.request("POST", path, json.dumps({"model": "bench", "stream": True, "mode": mode,
                                           "max_tokens": 1, "messages": []}),
                 {"content-type": "application/json", "x-api-key": token,
                  "anthropic-version": "2023-06-01"})
    return conn.getresponse()


def first_byte(base: str, path: str, token: str) -> tuple[float, float]:
    """(request -> first byte, upstream send -> first byte), seconds."""
    started = time.perf_counter()
    resp = post(base, path, token, "ttfb")
    data = resp.read1(65536)
    elapsed, now = time.perf_counter() - started, time.time()
    sent = json.loads(data.split(b"data: ", 1)[1].split(b"\n", 1)[0])["sent"]
    resp.read()
    return elapsed, now - sent


def throughput(base: str, path: str, token: str) -> float:
    """Events per second of a bulk stream."""
    started = time.perf_counter()
    resp = post(base, path, token, "bulk")
    size = 0
    while data := resp.read1(1 << 16):
        size += data.count(b"\n\n")
    assert size >= EVENTS, size
    return EVENTS / (time.perf_counter() - started)


def memory_per_stream(server: Server, token: str) -> float:
    worker = psutil.Process(server.worker_pids()[0])
    before = worker.memory_info().rss
    Upstream.release.clear()
    opened: list[http.client.HTTPResponse] = []
    lock = threading.Lock()

    def open_one() -> None:
        resp = post(server.base, "/gateway/anthropic/v1/messages", token, "hold")
        resp.read1(65536)
        with lock:
            opened.append(resp)
    threads = [threading.Thread(target=open_one) for _ in range(STREAMS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1)
    during = worker.memory_info().rss
    Upstream.release.set()
    for resp in opened:
        resp.read()
    return (during - before) / STREAMS


def spread(values: list[float], scale: float = 1.0, fmt: str = "{:.1f}") -> str:
    values = sorted(v * scale for v in values)
    return " / ".join(fmt.format(v) for v in (values[0], statistics.median(values),
                                               values[-1]))


def main() -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    direct = f"http://127.0.0.1:{upstream.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="aideator-bench-") as tmp:
        server = Server(Path(tmp) / "data", worker_connections="4000")
        server.env.update({"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": direct})
        server.start()
        try:
            run = server.post("/runs", {"github_url": "https://github.com/acme/widgets",
                                        "prompt": "lines=1 hang=1", "variations": 1}).json()
            token = wait_for(lambda: _token(run["run_id"]), timeout=20)
            ways = {"direct": (direct, "/v1/messages"),
                    "gateway": (server.base, "/gateway/anthropic/v1/messages")}
            for name, (base, path) in ways.items():   # warm both paths up
                first_byte(base, path, token)
            print(f"gateway benchmark: min / median / max of {TRIES}")
            for name, (base, path) in ways.items():
                ttfb, lag = zip(*[first_byte(base, path, token) for _ in range(TRIES)])
                rates = [throughput(base, path, token) for _ in range(TRIES)]
                print(f"  {name:8s} time to first byte {spread(ttfb, 1000)} ms; first event "
                      f"upstream -> client {spread(lag, 1000)} ms; throughput "
                      f"{spread(rates, 1, '{:,.0f}')} events/s")
            per_stream = [memory_per_stream(server, token) for _ in range(TRIES)]
            print(f"  worker RSS per open model stream ({STREAMS} open): "
                  f"{spread(per_stream, 1 / 1024)} KB")
            server.post(f"/runs/{run['run_id']}/cancel", {})
        finally:
            server.stop()
            upstream.shutdown()


def _token(run_id: str) -> str | None:
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if env.get("RUN_ID") == run_id and env.get("ANTHROPIC_API_KEY"):
            return env["ANTHROPIC_API_KEY"]
    return None


if __name__ == "__main__":
    main()
