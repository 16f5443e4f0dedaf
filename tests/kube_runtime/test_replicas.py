"""The Kubernetes runtime with three API replicas on one PostgreSQL: the cluster sees one
pod watch per run, one log stream per pod and one events watch (the owner's) at any
moment, not one per replica, and a new owner resumes each log from the stored cursor
without creating any Job again."""
from __future__ import annotations

import threading
import time
from collections import Counter

from helpers import wait_for
from replicas.conftest import LEASE, follow, owner
from sse_client import SSEEvent

from .conftest import assert_every_line_once, start_run

LINES = 300


def open_streams(fake, run_id: str) -> tuple[int, Counter, int]:
    """Pod watches of the run, followed logs per pod, and events watches, streaming now."""
    watches, logs, events = 0, Counter(), 0
    for r in fake.requests:
        if not r.open:
            continue
        if r.resource == "pods" and r.verb == "watch" and run_id in r.query.get(
                "labelSelector", ""):
            watches += 1
        elif r.resource == "pods/log" and run_id in (r.name or ""):
            logs[r.name] += 1
        elif r.resource == "events" and r.verb == "watch":
            events += 1
    return watches, logs, events


def test_three_replicas_one_watch_per_run_one_log_per_pod_and_failover(kube_server, fake,
                                                                      pg_url, tmp_path):
    servers = [kube_server(tmp_path / "data", database_url=pg_url, lease_seconds=str(LEASE),
                           replica_name=f"replica-{n}") for n in "abc"]
    a, b, c = servers
    run = start_run(a, f"lines={LINES} delay=0.02", 3)   # ~6 s of output per variation
    run_id, path = run["run_id"], run["stream_url"]
    seen: dict[str, list[SSEEvent]] = {}
    threads = [threading.Thread(target=lambda s=s, k=k: seen.__setitem__(
        k, follow([(s, path)], timeout=90))) for k, s in (("b", b), ("c", c))]
    for t in threads:
        t.start()
    peak_watches, peak_logs, peak_events, stop = [0], [0], [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            watches, logs, events = open_streams(fake, run_id)
            peak_watches[0] = max(peak_watches[0], watches)
            peak_logs[0] = max([peak_logs[0], *logs.values()])
            peak_events[0] = max(peak_events[0], events)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    wait_for(lambda: sum(e.event == "agent_output" for e in seen.get("b", [])) or
             b.get(f"/runs/{run_id}").json()["event_count"] > 120, timeout=30)
    assert owner(servers) is a
    watches, logs, events = open_streams(fake, run_id)
    assert watches == 1 and sorted(logs.values()) == [1, 1, 1] and events == 1
    a.kill()
    killed = time.monotonic()
    for t in threads:
        t.join()
    stop.set()
    sampler.join()

    for events in seen.values():
        for v in range(3):
            assert_every_line_once(events, v, LINES)
        assert events[-1].data == {"run_id": run_id, "status": "completed"}
    assert [e.raw for e in seen["b"]] == [e.raw for e in seen["c"]]
    taken = [e for e in seen["b"] if e.event == "status"
             and "took the run over" in e.data.get("message", "")]
    assert len(taken) == 1
    assert peak_watches[0] == 1 and peak_logs[0] == 1 and peak_events[0] == 1
    creates = [r for r in fake.requests if r.verb == "create" and r.resource == "jobs"]
    assert Counter(r.code for r in creates) == {201: 3}
    resumed = [r for r in fake.requests if r.resource == "pods/log" and "sinceTime" in r.query]
    assert resumed, "the new owner read the logs again from the start"
    assert time.monotonic() - killed < 60
