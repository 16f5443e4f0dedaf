"""Server-Sent Events wire format: a frame's bytes are built once and shared by every client."""
from __future__ import annotations

RETRY = b"retry: 3000\n\n"
HEARTBEAT = b": heartbeat\n\n"


def frame(seq: int, name: str, data: str) -> bytes:
    # ``data`` is single-line JSON, so one ``data:`` field carries it whole.
    return f"id: {seq}\nevent: {name}\ndata: {data}\n\n".encode()
