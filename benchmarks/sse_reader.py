"""Reads one raw SSE stream (HTTP/1.0, so unchunked) and times each agent line's arrival."""
from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlsplit

TS = re.compile(rb'"ts": ?([0-9.]+)')


def open_stream(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
    return sock


def read_stream(sock: socket.socket, latencies_ms: list[float] | None = None) -> dict[str, int]:
    """Read until ``run_finished``; counts events, and agent lines' latency if asked."""
    counts = {"events": 0, "agent_output": 0}
    tail = b""
    while True:
        chunk = sock.recv(1 << 16)
        now = time.time()
        if not chunk:
            break
        data = tail + chunk
        cut = data.rfind(b"\n\n") + 2
        complete, tail = data[:cut], data[cut:]
        counts["events"] += complete.count(b"\nevent: ")
        counts["agent_output"] += complete.count(b"\nevent: agent_output\n")
        if latencies_ms is not None:
            latencies_ms.extend((now - float(ts)) * 1000 for ts in TS.findall(complete))
        if b"\nevent: run_finished\n" in complete:
            break
    sock.close()
    return counts
