"""A server killed mid-run and started again finishes the run: no line lost or repeated."""
from __future__ import annotations

import os
import signal
from collections import Counter

from helpers import start_run, wait_for
from sse_client import SSEEvent, iter_events, read_events

LINES = 300


def lines_per_variation(events: list[SSEEvent]) -> dict[int, Counter]:
    seen: dict[int, Counter] = {}
    for e in events:
        if e.event == "agent_output":
            content = e.data["content"]
            key = content if isinstance(content, str) else content.get("n", "status-line")
            seen.setdefault(e.data["variation_id"], Counter())[key] += 1
    return seen


def expected_lines(variation: int) -> Counter:
    keys: list = ["status-line"]
    keys += [n if n % 4 != 3 else f"plain line {n} of variation {variation}"
             for n in range(LINES)]
    return Counter(keys)


def test_sigkill_mid_run_then_restart_loses_and_repeats_nothing(make_server, tmp_path):
    data = tmp_path / "data"
    first = make_server(data)
    run = start_run(first, f"lines={LINES} delay=0.01", 2)
    seen = 0
    for item in iter_events(first.base + run["stream_url"]):
        seen += isinstance(item, SSEEvent) and item.event == "agent_output"
        if seen >= 60:
            break
    first.kill()   # the agents keep running and writing their logs

    second = make_server(data)
    events = read_events(second.base + run["stream_url"], timeout=60)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    per_variation = lines_per_variation(events)
    for variation in (0, 1):
        assert per_variation[variation] == expected_lines(variation)
    assert sorted(e.data["variation_id"] for e in events if e.event == "job_completed") == [0, 1]
    assert events[-1].data == {"run_id": run["run_id"], "status": "completed"}
    restarts = [e for e in events if e.event == "status" and "took the run over" in e.data["message"]]
    assert len(restarts) == 1


def test_outcomes_reached_while_the_server_was_down_are_recorded(make_server, tmp_path):
    data = tmp_path / "data"
    first = make_server(data)
    run = start_run(first, "lines=20 delay=0.05 v1.exit=4 v2.hang=1", 3)
    wait_for(lambda: all(j["phase"] == "running" for j in
                         first.get(f"/runs/{run['run_id']}/status").json()["jobs"]))
    detail = first.get(f"/runs/{run['run_id']}").json()
    first.kill()
    # While nobody watches: variations 0 and 1 finish, variation 2 is killed outright.
    pid = int(detail["variations"][2]["pod"].rsplit("-p", 1)[1])
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: (data / "runs" / run["run_id"] / "1" / "exit.json").exists())

    second = make_server(data)
    events = read_events(second.base + run["stream_url"], timeout=60)
    assert [e.data["variation_id"] for e in events if e.event == "job_completed"] == [0]
    errors = {e.data["variation_id"]: e.data["error"] for e in events if e.event == "error"}
    assert errors[1] == "the agent exited with code 4"
    assert "without recording an exit status" in errors[2]
    per_variation = lines_per_variation(events)
    assert per_variation[0] == expected_lines(0) - Counter(
        {n if n % 4 != 3 else f"plain line {n} of variation 0": 1 for n in range(20, LINES)})
    assert events[-1].data["status"] == "completed"
