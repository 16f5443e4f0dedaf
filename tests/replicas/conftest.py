"""Replicas: several real gunicorn servers sharing one database (a real PostgreSQL, or one
SQLite file) and, with the local runtime, one data directory, as processes on one machine
do. Each gets its own name, as pods on different nodes would: a replica never guesses that
another is dead from the process table, it waits for the lease to expire."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import Server, start_run, wait_for
from sse_client import SSEEvent, read_events

LEASE = 3.0


@pytest.fixture
def replicas(make_server: Callable[..., Server], pg_url: str,
             tmp_path: Path) -> Callable[..., list[Server]]:
    """``replicas(n, **settings)``: n servers on one PostgreSQL database."""
    def start(n: int, **settings: str) -> list[Server]:
        return [replica(make_server, tmp_path, f"replica-{chr(97 + i)}",
                        database_url=pg_url, **settings) for i in range(n)]
    return start


def replica(make_server: Callable[..., Server], tmp_path: Path, name: str,
            **settings: Any) -> Server:
    values = {"replica_name": name, "lease_seconds": str(LEASE),
              "sse_heartbeat_seconds": "1", **settings}
    return make_server(tmp_path / "data", **values)


def owner(servers: list[Server]) -> Server:
    """The replica that collects the one unfinished run."""
    owning = [s for s in servers if s.get("/replica").json()["runs_owned"]]
    assert len(owning) == 1, [s.get("/replica").json() for s in servers]
    return owning[0]


def fake_agent_lines(events: list[SSEEvent]) -> dict[int, Counter]:
    """How often each line of the fixture agent arrived, per variation (its first line is
    a status line: twice would mean the agent was started twice)."""
    seen: dict[int, Counter] = {}
    for e in events:
        if e.event == "agent_output":
            content = e.data["content"]
            key = (content if isinstance(content, str)
                   else content.get("n", f"start:{content.get('phase')}"))
            seen.setdefault(e.data["variation_id"], Counter())[key] += 1
    return seen


def expected_lines(variation: int, lines: int) -> Counter:
    keys: list[Any] = ["start:starting"]
    keys += [n if n % 4 != 3 else f"plain line {n} of variation {variation}"
             for n in range(lines)]
    return Counter(keys)


def assert_complete(events: list[SSEEvent], variations: int, lines: int) -> None:
    """Ids 1..N without gaps, every agent line exactly once, each agent started once."""
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    per_variation = fake_agent_lines(events)
    for v in range(variations):
        assert per_variation.get(v) == expected_lines(v, lines), v
    assert events[-1].event == "run_finished"


def cancel_through_another_replica(owner_: Server, other: Server) -> None:
    """Start a run on ``owner_``, cancel it through ``other``: the run ends cancelled."""
    run = start_run(owner_, "lines=2 hang=1", 2)
    run_id = run["run_id"]
    wait_for(lambda: all(j["phase"] == "running"
                         for j in other.get(f"/runs/{run_id}/status").json()["jobs"]))
    assert other.post(f"/runs/{run_id}/cancel", {}).status_code == 202
    events = read_events(other.base + run["stream_url"], timeout=30)
    assert events[-1].data == {"run_id": run_id, "status": "cancelled"}
    assert owner_.get(f"/runs/{run_id}").json()["status"] == "cancelled"


def follow(paths: list[tuple[Server, str]], *, timeout: float = 90,
           on_event: Callable[[SSEEvent], None] | None = None) -> list[SSEEvent]:
    """Read a stream to its end as a browser's EventSource would: when a replica goes
    away, reconnect to the next one with Last-Event-ID."""
    import time

    import requests

    from sse_client import iter_events

    events: list[SSEEvent] = []
    deadline = time.monotonic() + timeout
    attempt = 0
    while time.monotonic() < deadline:
        server, path = paths[attempt % len(paths)]
        attempt += 1
        last = events[-1].id if events else None
        try:
            for item in iter_events(server.base + path, last_event_id=last,
                                    timeout=deadline - time.monotonic()):
                if isinstance(item, SSEEvent):
                    events.append(item)
                    if on_event is not None:
                        on_event(item)
                    if item.event == "run_finished":
                        return events
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"no run_finished within {timeout}s ({len(events)} events)")
