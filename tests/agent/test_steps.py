"""agent.steps: a user's shell command (setup, a check) run to its end or its deadline."""
from __future__ import annotations

import asyncio
import os
import time

from agent import steps


def _run(command, tmp_path, timeout=10.0, env=None):
    batches = []
    result = asyncio.run(steps.run(command, cwd=str(tmp_path), timeout=timeout,
                                   env=env or steps.environment(os.environ),
                                   on_output=lambda lines, cut: batches.append((lines, cut))))
    return result, batches


def test_exit_code_output_and_working_directory(tmp_path):
    (tmp_path / "marker").write_text("here\n")
    result, batches = _run("cat marker; echo oops >&2; exit 3", tmp_path)
    assert (result.exit_code, result.timed_out, result.passed) == (3, False, False)
    assert [line for lines, _ in batches for line in lines] == ["here", "oops"]
    assert result.tail == ["here", "oops"] and not result.truncated


def test_timeout_stops_the_whole_group_within_a_second(tmp_path):
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    result, _ = _run(f"sleep 60 & echo $! > {pidfile}; sleep 60", tmp_path, timeout=1.0)
    elapsed = time.monotonic() - started
    assert result.timed_out and result.exit_code is None and not result.passed
    assert elapsed < 2.0, elapsed
    child = int(pidfile.read_text())
    time.sleep(0.1)
    assert not os.path.exists(f"/proc/{child}") or \
        open(f"/proc/{child}/stat").read().split(") ")[1][0] == "Z"


def test_a_background_child_does_not_hold_the_step_open(tmp_path):
    started = time.monotonic()
    result, _ = _run("sleep 30 & echo started", tmp_path, timeout=20.0)
    assert result.exit_code == 0 and time.monotonic() - started < 5


def test_huge_output_is_capped_batched_and_says_so(tmp_path):
    result, batches = _run("seq 1 100000", tmp_path)
    relayed = [line for lines, _ in batches for line in lines]
    assert result.exit_code == 0 and result.lines == 100000 and result.truncated
    assert relayed == [str(i) for i in range(1, steps.MAX_LINES + 1)]
    assert [cut for _, cut in batches].count(True) == 1
    assert len(batches) <= steps.MAX_LINES // steps.BATCH_LINES + 2
    assert result.tail[-1] == "100000"


def test_credentials_never_reach_the_command(tmp_path):
    env = steps.environment({"PATH": os.environ["PATH"], "ANTHROPIC_API_KEY": "aidg_secret",
                             "GIT_CONFIG_COUNT": "1", "HOME": str(tmp_path)})
    result, batches = _run("env", tmp_path, env=env)
    printed = "\n".join(line for lines, _ in batches for line in lines)
    assert "aidg_secret" not in printed and "GIT_CONFIG" not in printed
    assert f"HOME={tmp_path}" in printed and "CI=true" in printed
