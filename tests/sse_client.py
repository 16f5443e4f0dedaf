"""A small SSE client for tests: reads a stream over real HTTP and parses its events."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterator

import requests


@dataclass(frozen=True)
class SSEEvent:
    id: int | None
    event: str
    data: Any
    raw: bytes


def parse_frames(buffer: bytes) -> tuple[list[SSEEvent], list[bytes], bytes]:
    """Complete events and comments in ``buffer``, and the unfinished rest."""
    events, comments = [], []
    *blocks, rest = buffer.split(b"\n\n")
    for block in blocks:
        fields: dict[str, str] = {}
        for line in block.split(b"\n"):
            if line.startswith(b":"):
                comments.append(line)
                continue
            name, _, value = line.decode().partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "data" in fields:
            events.append(SSEEvent(int(fields["id"]) if "id" in fields else None,
                                   fields.get("event", "message"), json.loads(fields["data"]),
                                   block))
    return events, comments, rest


def iter_events(url: str, *, last_event_id: int | None = None, timeout: float = 60,
                headers: dict[str, str] | None = None) -> Iterator[SSEEvent | bytes]:
    """Events (and comment lines, as bytes) until the server closes the stream."""
    hdrs = dict(headers or {})
    if last_event_id is not None:
        hdrs["Last-Event-ID"] = str(last_event_id)
    deadline = time.monotonic() + timeout
    with requests.get(url, stream=True, headers=hdrs, timeout=timeout) as resp:
        resp.raise_for_status()
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        buffer = b""
        for chunk in resp.iter_content(chunk_size=None):
            buffer += chunk
            events, comments, buffer = parse_frames(buffer)
            yield from comments
            yield from events
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {url} still open after {timeout}s")


def read_events(url: str, **kwargs: Any) -> list[SSEEvent]:
    """Every event of a stream, until the server closes it after ``run_finished``."""
    return [e for e in iter_events(url, **kwargs) if isinstance(e, SSEEvent)]
