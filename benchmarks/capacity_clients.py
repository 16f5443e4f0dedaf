"""Many lean SSE clients in one process, for the capacity benchmark.

usage: python -m benchmarks.capacity_clients CLIENTS URL

One thread, non-blocking sockets, no gevent, so that the clients take as little CPU as
they can from the server they measure. Every PROBE_EVERY-th client is a probe: read the
moment data arrives (epoll), it times each agent line (agent print -> client receive).
The others are load: the server writes them exactly as it writes the probes (it cannot
tell them apart), but they are drained only every DRAIN_SECONDS, many batches per read,
which the sockets' buffers hold meanwhile; reading every one of thousands of sockets per
batch would make this process, not the server, the bottleneck. A drain goes DRAIN_SLICE
sockets at a time with the probes read in between, so that it does not delay them (a
whole pass over thousands of sockets takes tens of milliseconds). Every client counts its
events, so a lost one shows.

Prints ``connected`` once every client has its response headers, then, when every stream
has ended, one JSON object: events per client, the probes' latency histogram of agent
lines printed after the clients connected (LATENCY_BIN_MS bins) and the share of a core
this process used from the agents' first line on.
"""
from __future__ import annotations

import json
import os
import re
import selectors
import socket
import sys
import time
from urllib.parse import urlsplit

TS = re.compile(rb'"ts": ?([0-9.]+)')
LATENCY_BIN_MS = 0.5
PROBE_EVERY = 10
DRAIN_SECONDS = 0.25
DRAIN_SLICE = 100
# Connections opened at once: under gunicorn's listen backlog (2048), so none waits for a
# SYN retransmission.
CONNECT_BATCH = 500


class Stream:
    __slots__ = ("sock", "tail", "events", "probe", "done")

    def __init__(self, sock: socket.socket, tail: bytes, probe: bool) -> None:
        self.sock, self.tail, self.events, self.probe, self.done = sock, tail, 0, probe, False

    def take(self, data: bytes) -> bytes:
        """Count the complete frames of ``data``; returns them."""
        if self.tail:
            data = self.tail + data
        cut = data.rfind(b"\n\n") + 2
        complete, self.tail = data[:cut], data[cut:]
        self.events += complete.count(b"\nevent: ")
        # Chunked transfer coding: the last chunk after the run's end closes nothing
        # (keep-alive), so a stream is done at its run's last event.
        if b"\nevent: run_finished\n" in complete:
            self.done = True
        return complete


def connect(url: str, n: int) -> list[Stream]:
    parts = urlsplit(url)
    request = (f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Accept: text/event-stream\r\n\r\n").encode()
    streams: list[Stream] = []
    while len(streams) < n:
        pending = []
        for _ in range(min(CONNECT_BATCH, n - len(streams))):
            sock = socket.create_connection((parts.hostname, parts.port))
            sock.sendall(request)
            pending.append(sock)
        for sock in pending:
            head = b""
            while b"\r\n\r\n" not in head:
                data = sock.recv(1 << 16)
                if not data:
                    raise SystemExit(f"stream closed before its headers: {head!r}")
                head += data
            if head.split(b" ", 2)[1] != b"200":
                raise SystemExit(f"stream refused: {head[:300]!r}")
            sock.setblocking(False)
            streams.append(Stream(sock, head.split(b"\r\n\r\n", 1)[1],
                                  probe=len(streams) % PROBE_EVERY == 0))
    return streams


def drain(stream: Stream) -> None:
    while not stream.done:
        try:
            data = stream.sock.recv(1 << 20)
        except BlockingIOError:
            return
        if not data:
            stream.done = True
            return
        stream.take(data)


def main() -> None:
    n, url = int(sys.argv[1]), sys.argv[2]
    streams = connect(url, n)
    connected_at = time.time()
    print("connected", flush=True)
    selector = selectors.DefaultSelector()
    probes = {s.sock.fileno(): s for s in streams if s.probe}
    load = [s for s in streams if not s.probe]
    for fd, stream in probes.items():
        selector.register(fd, selectors.EVENT_READ)
    histogram: dict[int, int] = {}
    cpu_start = started = None
    next_drain = time.monotonic() + DRAIN_SECONDS
    draining = 0   # the next load socket of a drain under way; len(load): none
    while probes or load:
        wait = 0 if draining < len(load) else max(next_drain - time.monotonic(), 0)
        for key, _ in selector.select(wait):
            stream = probes[key.fd]
            try:
                data = stream.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            now = time.time()
            if cpu_start is None and b"event: agent_output" in data:
                cpu_start, started = sum(os.times()[:2]), time.monotonic()
            for ts in TS.findall(stream.take(data)) if data else ():
                sent = float(ts)
                if sent >= connected_at:
                    bin_ = int((now - sent) * 1000 / LATENCY_BIN_MS)
                    histogram[bin_] = histogram.get(bin_, 0) + 1
            if stream.done or not data:
                selector.unregister(key.fd)
                del probes[key.fd]
        if draining < len(load):
            for stream in load[draining:draining + DRAIN_SLICE]:
                drain(stream)
            draining += DRAIN_SLICE
            if draining >= len(load):
                load = [s for s in load if not s.done]
                draining = len(load)
        elif time.monotonic() >= next_drain:
            draining = 0
            next_drain = time.monotonic() + DRAIN_SECONDS
    for stream in streams:
        stream.sock.close()
    cpu = sum(os.times()[:2]) - (cpu_start or 0)
    print(json.dumps({"counts": [s.events for s in streams], "histogram": histogram,
                      "cpu_share": cpu / max(time.monotonic() - (started or 0), 1e-3)}),
          flush=True)


if __name__ == "__main__":
    main()
