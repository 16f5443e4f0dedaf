"""How the agent fails: one final ``error`` line with a stable code and a matching exit."""
from __future__ import annotations

import signal
import time

import pytest

from agent import protocol
from tests.agent.harness import AgentRun, assert_no_secret, parse_lines
from tests.agent.fake_anthropic import cut, fault, reply, stall, text, tool_use


def assert_failed(run: AgentRun, code: str) -> dict:
    assert run.returncode == protocol.ERROR_EXIT_CODES[code], (run.stdout, run.stderr)
    errors = run.of("error")
    assert len(errors) == 1 and run.last is errors[0]
    assert errors[0]["code"] == code and errors[0]["message"]
    assert "Traceback" not in run.stderr
    return errors[0]


@pytest.mark.parametrize("missing", ["PROMPT", "REPO_URL"])
def test_missing_settings_are_config_errors(world, missing):
    run = world.run(world.env(**{missing: None}))
    error = assert_failed(run, "config_invalid")
    assert error["field"] == missing and run.returncode == 2
    assert len(run.events) == 1


def test_invalid_max_turns_is_a_config_error(world):
    # The whole matrix of invalid values is in test_agent_units; this is the process view.
    run = world.run(world.env(MAX_TURNS="many"))
    error = assert_failed(run, "config_invalid")
    assert error["field"] == "MAX_TURNS" and run.returncode == 2


def test_missing_credentials_are_a_config_error(world):
    run = world.run(world.env(ANTHROPIC_API_KEY=None))
    assert assert_failed(run, "config_invalid")["field"] == "ANTHROPIC_API_KEY"


def test_unknown_repository_is_a_clone_failure(world, fake_model):
    run = world.run(world.env(fake_model.base_url, REPO_URL="https://github.com/acme/nope"))
    error = assert_failed(run, "clone_failed")
    assert run.returncode == 3
    assert "git clone failed" in error["message"]
    assert run.events[0]["phase"] == "starting"
    assert fake_model.requests == []  # the model is never asked


@pytest.mark.parametrize("step,reason,status", [
    (fault(401, "invalid x-api-key"), "authentication_failed", 401),
    (fault(429, "slow down", retry_after=0), "rate_limit", 429),
    (fault(500, "boom"), "server_error", 500),
    (cut(reply(text("this answer never arrives in full")), after_events=4), "server_error",
     None),
], ids=["401", "429", "500", "cut-stream"])
def test_model_failures_end_the_run(world, fake_model, step, reason, status):
    world.repo("acme", "widgets", {"a.txt": "a\n"})
    fake_model.scripts["default"] = [step]
    run = world.run(world.env(fake_model.base_url))
    error = assert_failed(run, "model_error")
    assert run.returncode == 4
    assert error["reason"] == reason and error.get("status") == status
    assert not run.of("diff")  # nothing was done, nothing to show
    assert_no_secret(error["message"])


def test_retries_are_reported_and_can_succeed(world, fake_model):
    world.repo("acme", "widgets", {"a.txt": "a\n"})
    fake_model.scripts["default"] = [fault(529, "overloaded")]
    fake_model.scripts["recover"] = [reply(text("fine now"))]
    # The first attempt fails; the retry of the same turn is answered by another script.
    fake_model.select = lambda req: "recover" if fake_model.message_requests() else None
    run = world.run(world.env(fake_model.base_url))
    assert run.returncode == 0, run.stdout
    retrying = [e for e in run.of("status") if e["phase"] == "retrying"]
    assert retrying and retrying[0]["error_status"] == 529


def test_turn_limit_still_reports_the_diff(world, fake_model):
    world.repo("acme", "widgets", {"a.txt": "a\n"})
    clone = world.clone
    fake_model.scripts["default"] = [
        reply(tool_use("Write", {"file_path": f"{clone}/b.txt", "content": "b\n"})),
        reply(tool_use("Read", {"file_path": f"{clone}/b.txt"})),
        reply(text("never reached")),
    ]
    run = world.run(world.env(fake_model.base_url, MAX_TURNS="1"))
    error = assert_failed(run, "limit_reached")
    assert error["reason"] == "error_max_turns"
    assert run.of("diff")[0]["files"] == ["b.txt"]


def test_sigterm_mid_run_cancels_cleanly(world, fake_model):
    import psutil

    world.repo("acme", "widgets", {"a.txt": "a\n"})
    fake_model.scripts["default"] = [stall(60)]
    proc = world.start(world.env(fake_model.base_url))
    lines = []
    assert proc.stdout is not None
    # Wait until the model is being asked, so the CLI child is running.
    for line in proc.stdout:
        lines.append(line)
        if '"phase":"running"' in line:
            break
    deadline = time.monotonic() + 15
    while not fake_model.message_requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the CLI should be running"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    run = AgentRun(proc.returncode, "".join(lines) + stdout, stderr)
    run.events = parse_lines(run.stdout)
    assert_no_secret(run.stdout, run.stderr)
    assert_failed(run, "cancelled")
    assert run.returncode == 143
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, "the CLI must not outlive the agent"


def test_sigterm_during_clone_cancels_cleanly(world, tmp_path):
    # A "git" that hangs stands in for a slow network clone.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text("#!/bin/sh\necho 'Cloning into repo...' >&2\nexec sleep 60\n")
    (bin_dir / "git").chmod(0o755)
    env = world.env(PATH=f"{bin_dir}:/usr/bin:/bin")
    proc = world.start(env)
    assert proc.stdout is not None
    first = [proc.stdout.readline(), proc.stdout.readline()]
    assert '"phase":"cloning"' in first[1]
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    run = AgentRun(proc.returncode, "".join(first) + stdout, stderr)
    run.events = parse_lines(run.stdout)
    assert_failed(run, "cancelled")
