"""The shell (``tools: "shell"``, the default): the real bundled CLI runs the Bash commands
the fake model asks for, within a time limit; ``tools: "files"`` still has no shell."""
from __future__ import annotations

import os
import time

from tests.agent.fake_anthropic import reply, text, tool_use

TEST_FILE = """\
import unittest


class Greeting(unittest.TestCase):
    def test_greeting(self):
        with open("greet.txt") as f:
            self.assertEqual(f.read().strip(), "hello world")


if __name__ == "__main__":
    unittest.main()
"""
FILES = {"greet.txt": "hello world\n", "test_greet.py": TEST_FILE}


def bash(command: str, **extra: object) -> object:
    return tool_use("Bash", {"command": command, "description": "run a command", **extra})


def system_prompt(body: dict) -> str:
    system = body.get("system")
    if isinstance(system, list):
        return " ".join(part.get("text", "") for part in system)
    return str(system)


def test_bash_runs_the_repository_tests_and_its_output_is_in_the_diff(world, fake_model):
    world.repo("acme", "widgets", FILES)
    fake_model.scripts["default"] = [
        reply(text("Let me run the tests."),
              bash("python3 test_greet.py > out.txt 2>&1; echo tests-exit=$?")),
        reply(text("The tests pass; their output is in out.txt.")),
    ]
    run = world.run(world.env(fake_model.base_url))

    assert run.returncode == 0, run.stderr
    assert run.events[0]["settings"]["applied"]["tools"] == "shell"
    running = [e for e in run.of("status") if e["phase"] == "running"][0]
    assert "Bash" in running["tools"]
    # The command and what it printed reach stdout as protocol lines, in order.
    (call,) = run.of("tool_use")
    assert call["name"] == "Bash" and "test_greet.py" in call["input"]["command"]
    (result,) = run.of("tool_result")
    assert result["tool_use_id"] == call["id"] and result["name"] == "Bash"
    assert result["is_error"] is False and "tests-exit=0" in result["content"]
    types = run.types()
    assert types.index("tool_use") < types.index("tool_result") < types.index("diff")

    # The file the command wrote is the diff.
    diff = run.of("diff")[0]
    assert diff["files"] == ["out.txt"]
    assert "+Ran 1 test in" in diff["patch"] and "+OK\n" in diff["patch"]

    # The model was offered Bash and told what it may do with it.
    asked = fake_model.message_requests()[0].body
    assert {t["name"] for t in asked["tools"]} == {"Read", "Glob", "Grep", "Edit", "Write",
                                                  "Bash"}
    prompt = system_prompt(asked)
    assert "run commands with the Bash tool" in prompt and "no network access" in prompt


def test_a_command_past_its_time_limit_is_stopped(world, fake_model):
    world.repo("acme", "widgets", FILES)
    fake_model.scripts["default"] = [
        # No timeout of its own: the default applies. Then one asking for a minute: capped.
        reply(bash("echo $$ > first.pid; exec sleep 300")),
        reply(bash("echo $$ > second.pid; exec sleep 300", timeout=60_000)),
        reply(text("Both commands hung.")),
    ]
    started = time.monotonic()
    run = world.run(world.env(fake_model.base_url, BASH_DEFAULT_TIMEOUT_MS="1500",
                              BASH_MAX_TIMEOUT_MS="3000"), timeout=90)
    elapsed = time.monotonic() - started

    assert run.returncode == 0, run.stderr
    first, second = run.of("tool_result")
    assert first["is_error"] and second["is_error"]
    assert "timed out" in first["content"] and "timed out after 3s" in second["content"]
    # Well under the 300 s the commands wanted (and under the 60 s the second asked for).
    assert elapsed < 30
    for name in ("first.pid", "second.pid"):
        pid = int((world.clone / name).read_text())
        assert not _alive(pid), f"{name}: the timed-out command is still running"
    prompt = system_prompt(fake_model.message_requests()[0].body)
    assert "stopped after 1.5 seconds" in prompt and "at most 3 seconds" in prompt


def test_background_commands_are_refused(world, fake_model):
    world.repo("acme", "widgets", FILES)
    marker = world.tmp / "background-ran"
    fake_model.scripts["default"] = [
        reply(bash(f"touch {marker}", run_in_background=True)),
        reply(text("Could not.")),
    ]
    run = world.run(world.env(fake_model.base_url))

    assert run.returncode == 0, run.stderr
    (result,) = run.of("tool_result")
    assert result["is_error"]
    assert not marker.exists()


def test_file_tools_only_refuse_bash(world, fake_model):
    world.repo("acme", "widgets", FILES)
    marker = world.tmp / "bash-ran"
    fake_model.scripts["default"] = [
        reply(bash(f"touch {marker}")),
        reply(text("I cannot run commands.")),
    ]
    run = world.run(world.env(fake_model.base_url, TOOLS="files"))

    assert run.returncode == 0, run.stderr
    assert run.events[0]["settings"]["applied"]["tools"] == "files"
    (result,) = run.of("tool_result")
    assert result["is_error"] and result["name"] == "Bash"
    assert not marker.exists()
    asked = fake_model.message_requests()[0].body
    assert {t["name"] for t in asked["tools"]} == {"Read", "Glob", "Grep", "Edit", "Write"}
    assert "you cannot run commands" in system_prompt(asked)


def test_an_unknown_tool_set_is_a_config_error(world):
    run = world.run(world.env(TOOLS="everything"))
    assert run.returncode == 2 and run.last["code"] == "config_invalid"
    assert run.last["field"] == "TOOLS"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
