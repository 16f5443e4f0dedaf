"""The real agent (Claude Code through claude-agent-sdk) run by the service, offline: the
model is a fake Anthropic API on 127.0.0.1 and github.com a fake one running git's own
http-backend, both reached only through the service's model gateway."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
import requests

from helpers import Server, wait_for
from sse_client import read_events
from tests.agent.fake_anthropic import (FakeAnthropic, cut, fault, reply, stall, text,
                                        thinking, tool_use)
from tests.fake_github import FakeGitHub

SECRET = "sk-ant-test-SECRET-service-42"
NAMES = ("alpha", "beta", "gamma")


def edit_script(name: str) -> list:
    """Read greet.txt, change it in this variation's own way, and say so."""
    return [reply(thinking(f"{name} thinks greet.txt is too plain"),
                  text(f"{name} reads the greeting"),
                  tool_use("Read", {"file_path": "greet.txt"})),
            reply(tool_use("Edit", {"file_path": "greet.txt", "old_string": "hello world",
                                    "new_string": f"hello {name}"})),
            reply(text(f"{name} is done"))]


TEST_GREET = """\
import unittest


class Greeting(unittest.TestCase):
    def test_greeting(self):
        with open("greet.txt") as f:
            self.assertEqual(f.read(), "hello world\\n")


unittest.main()
"""


# One call of this model (12 input tokens) costs $0.12: a budget of $0.2 is spent by two.
PRICES = "claude-fake-budget: {input: 10000, output: 0, cache_write: 0, cache_read: 0}\n"


@pytest.fixture
def world(tmp_path: Path):
    """A fake model, a fake github.com with acme/widgets, and a server whose gateway
    forwards to both (the agents get neither's address, only the gateway's)."""
    github = FakeGitHub(tmp_path / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\n", "test_greet.py": TEST_GREET})
    model = FakeAnthropic({f"claude-fake-{n}": edit_script(n) for n in NAMES})
    base_url = model.start()
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    server = Server(tmp_path / "data", github_url=github.start(), prices_file=str(prices))
    del server.env["AIDEATOR_AGENT_COMMAND"]          # the real default: python -m agent
    server.env.update({"ANTHROPIC_API_KEY": SECRET, "ANTHROPIC_BASE_URL": base_url,
                       "CLAUDE_CODE_MAX_RETRIES": "1"})
    server.start()
    yield server, model
    server.stop()
    model.stop()
    github.stop()


def agent_lines(events, variation: int) -> list[dict]:
    return [e.data["content"] for e in events
            if e.event == "agent_output" and e.data["variation_id"] == variation
            and e.data["type"] != "log"]


def assert_no_secret(server: Server, run_id: str, events) -> None:
    assert SECRET not in "".join(e.raw.decode() for e in events)
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/status", "/runs"):
        assert SECRET not in server.get(path).text
    # Nor does anything written to disk: database, logs, clones, the agents' HOMEs.
    for file in server.data_dir.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file


def test_three_variations_think_differently_change_the_clone_and_one_is_selected(world,
                                                                                  tmp_path):
    server, model = world
    run = server.post("/runs", {
        "github_url": "https://github.com/acme/widgets", "prompt": "Make the greeting warmer",
        "agent_config": {"temperature": 0.4, "max_turns": 10},
        "variation_configs": [{"model": f"claude-fake-{n}"} for n in NAMES]}).json()
    run_id = run["run_id"]
    events = read_events(server.base + run["stream_url"], timeout=120)
    assert events[-1].data == {"run_id": run_id, "status": "completed"}

    for i, name in enumerate(NAMES):
        lines = agent_lines(events, i)
        types = [line["type"] for line in lines]
        start = lines[0]
        assert start["type"] == "status" and start["phase"] == "starting"
        assert start["settings"]["applied"]["model"] == f"claude-fake-{name}"
        assert "temperature" in start["settings"]["not_applied"]
        # The thought process, in order: thinking, then reading, then editing, then the diff.
        order = [types.index(t) for t in ("thinking", "tool_use", "tool_result", "result",
                                          "diff")]
        assert order == sorted(order)
        assert "thinking_delta" in types and "text_delta" in types
        thought = next(line for line in lines if line["type"] == "thinking")
        assert thought["thinking"] == f"{name} thinks greet.txt is too plain"
        tools = [line["name"] for line in lines if line["type"] == "tool_use"]
        assert tools == ["Read", "Edit"]
        assert lines[-1] == {**lines[-1], "type": "status", "phase": "finished"}

        diff = server.get(f"/runs/{run_id}/variations/{i}/diff").json()
        assert diff["files"] == ["greet.txt"] and not diff["truncated"]
        assert f"-hello world\n+hello {name}\n" in diff["patch"]
        clone = server.data_dir / "runs" / run_id / str(i) / "workspace" / "repo"
        assert (clone / "greet.txt").read_text() == f"hello {name}\n"

    detail = server.get(f"/runs/{run_id}").json()
    base = subprocess.run(["git", "-C", str(tmp_path / "github" / "acme" / "widgets"),
                           "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    for variation in detail["variations"]:
        outcome = variation["outcome"]
        assert variation["status"] == "succeeded"
        assert outcome["turns"] == 3 and outcome["files_changed"] == ["greet.txt"]
        assert outcome["additions"] == 1 and outcome["deletions"] == 1
        assert outcome["input_tokens"] > 0 and outcome["cost_usd"] is not None
        index = variation["variation_id"]
        assert outcome["diff_url"] == f"/api/v1/runs/{run_id}/variations/{index}/diff"
        # The commit its clone checked out: the fixture repository's only one.
        assert variation["base_commit"] == detail["base_commit"] == base
    # The real agent's change as a patch: git am puts it on the base commit.
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "github" / "acme" / "widgets"),
                    str(fresh)], check=True)
    patch = requests.get(server.base + detail["variations"][1]["patch_url"], timeout=10)
    done = subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@e", "am"],
                          cwd=fresh, input=patch.content, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert (fresh / "greet.txt").read_text() == f"hello {NAMES[1]}\n"
    chosen = server.post(f"/runs/{run_id}/select", {"winning_variation_id": 1}).json()
    assert chosen["job_name"] == f"agent-{run_id}-1"
    assert server.get(f"/runs/{run_id}").json()["selection"]["winning_variation_id"] == 1
    assert_no_secret(server, run_id, events)
    assert requests.get(server.url(f"/runs/{run_id}/variations/7/diff"), timeout=5
                        ).status_code == 404


def test_model_failures_fail_their_variation_while_the_others_carry_on(world):
    server, model = world
    model.scripts.update({"claude-fake-401": [fault(401)], "claude-fake-429": [fault(429)],
                          "claude-fake-500": [fault(500)],
                          "claude-fake-cut": [cut(edit_script("cut")[0], after_events=3)]})
    models = ["claude-fake-alpha", "claude-fake-401", "claude-fake-429", "claude-fake-500",
              "claude-fake-cut"]
    run = server.post("/runs", {"github_url": "https://github.com/acme/widgets",
                                "prompt": "Make the greeting warmer",
                                "variation_configs": [{"model": m} for m in models]}).json()
    events = read_events(server.base + run["stream_url"], timeout=180)
    errors = {e.data["variation_id"]: e.data["error"] for e in events if e.event == "error"}
    assert sorted(errors) == [1, 2, 3, 4]
    for i in (1, 2, 3, 4):
        assert errors[i].startswith("the agent exited with code 4: ")
        assert agent_lines(events, i)[-1]["code"] == "model_error"
    assert "401" in errors[1] or "API key" in errors[1]
    assert [e.data["variation_id"] for e in events if e.event == "job_completed"] == [0]
    assert events[-1].data["status"] == "completed"
    status = server.get(f"/runs/{run['run_id']}/status").json()
    assert [j["phase"] for j in status["jobs"]] == ["succeeded"] + ["failed"] * 4
    assert_no_secret(server, run["run_id"], events)


def test_a_repository_that_cannot_be_cloned_is_a_clear_error(world):
    server, _ = world
    run = server.post("/runs", {"github_url": "https://github.com/acme/no-such-repo",
                                "prompt": "anything", "variations": 2}).json()
    events = read_events(server.base + run["stream_url"], timeout=60)
    errors = [e.data for e in events if e.event == "error"]
    assert len(errors) == 2
    assert all(e["error"].startswith("the agent exited with code 3: ") for e in errors)
    assert all(agent_lines(events, i)[-1]["code"] == "clone_failed" for i in (0, 1))
    assert events[-1].data["status"] == "failed"


def test_an_agent_killed_mid_run_fails_alone(world):
    server, model = world
    model.scripts["claude-fake-stall"] = [stall(60)]
    run = server.post("/runs", {"github_url": "https://github.com/acme/widgets",
                                "prompt": "Make the greeting warmer",
                                "variation_configs": [{"model": "claude-fake-alpha"},
                                                      {"model": "claude-fake-stall"}]}).json()
    run_id = run["run_id"]

    def stalled_agent():
        for proc in psutil.process_iter():
            try:
                env = proc.environ()
                if (env.get("RUN_ID") == run_id and env.get("VARIATION_ID") == "1"
                        and proc.cmdline()[1:] == ["-m", "agent"]):
                    return proc
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return None

    wait_for(lambda: any(r.body.get("model") == "claude-fake-stall"
                         for r in model.message_requests()), timeout=60)
    agent = stalled_agent()
    group = os.getpgid(agent.pid)
    agent.send_signal(signal.SIGKILL)
    events = read_events(server.base + run["stream_url"], timeout=60)
    errors = {e.data["variation_id"]: e.data["error"] for e in events if e.event == "error"}
    assert errors == {1: "the agent was killed by SIGKILL"}
    assert [e.data["variation_id"] for e in events if e.event == "job_completed"] == [0]
    try:
        os.killpg(group, signal.SIGKILL)   # the orphaned CLI of the killed agent
    except ProcessLookupError:
        pass


def test_the_gateway_stops_a_variation_at_its_budget_and_its_diff_is_kept(world):
    server, model = world
    # Edit, then read, then (the third call) more work: refused, the budget being spent.
    model.scripts["claude-fake-budget"] = [
        reply(tool_use("Edit", {"file_path": "greet.txt", "old_string": "hello world",
                                "new_string": "hello budget"})),
        reply(tool_use("Read", {"file_path": "greet.txt"})),
        reply(text("all done"))]
    run = server.post("/runs", {"github_url": "https://github.com/acme/widgets",
                                "prompt": "Make the greeting warmer",
                                "variation_configs": [{"model": "claude-fake-budget",
                                                       "max_budget_usd": 0.2}]}).json()
    run_id = run["run_id"]
    events = read_events(server.base + run["stream_url"], timeout=120)
    assert len(model.message_requests()) == 2          # the third never reached the model
    last = agent_lines(events, 0)[-1]
    assert last["type"] == "error" and last["code"] == "limit_reached", last
    assert last["reason"] == "max_budget_usd"
    assert "aideator gateway: budget exhausted" in last["message"]

    variation = server.get(f"/runs/{run_id}").json()["variations"][0]
    usage = variation["usage"]
    # (the CLI asks again a few times after a refusal: each is refused.)
    assert usage["calls"] == 2 and usage["refused_calls"] >= 1
    assert usage["cost_usd"] == pytest.approx(0.24) and usage["max_budget_usd"] == 0.2
    assert "$0.2400" in variation["error"]
    diff = server.get(f"/runs/{run_id}/variations/0/diff").json()
    assert "+hello budget\n" in diff["patch"]
    told = [e.data["usage"] for e in events if e.event == "status" and "usage" in e.data]
    assert told[-1]["refused_calls"] >= 1 and told[-1]["cost_usd"] == pytest.approx(0.24)
    assert_no_secret(server, run_id, events)



def test_the_shell_runs_the_repositorys_tests_inside_the_sandbox(world):
    server, model = world
    # The command also says where it runs: its PID namespace's first process is bubblewrap,
    # it has no network but loopback, and it cannot see the service's database.
    command = ("python3 test_greet.py > out.txt 2>&1; echo tests-exit=$?; "
               "echo pid1=$(cat /proc/1/comm); "
               "echo nics=$(sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' '); "
               f"cat {server.data_dir}/aideator.db 2>&1 | head -1")
    model.scripts["claude-fake-shell"] = [
        reply(tool_use("Bash", {"command": command, "description": "run the tests"})),
        reply(text("the tests pass; their output is in out.txt"))]
    run = server.post("/runs", {"github_url": "https://github.com/acme/widgets",
                                "prompt": "Run the tests",
                                "variation_configs": [{"model": "claude-fake-shell"}]}).json()
    run_id = run["run_id"]
    events = read_events(server.base + run["stream_url"], timeout=120)
    assert events[-1].data == {"run_id": run_id, "status": "completed"}, events[-1].data
    lines = agent_lines(events, 0)
    (call,) = [line for line in lines if line["type"] == "tool_use"]
    assert call["name"] == "Bash" and "test_greet.py" in call["input"]["command"]
    (result,) = [line for line in lines if line["type"] == "tool_result"]
    assert result["is_error"] is False
    output = result["content"]
    assert "tests-exit=0" in output
    assert "pid1=bwrap" in output                       # inside the sandbox
    assert "nics=lo\n" in output                       # no network but its own loopback
    assert "aideator.db: No such file or directory" in output
    diff = server.get(f"/runs/{run_id}/variations/0/diff").json()
    assert diff["files"] == ["out.txt"]
    assert "+OK\n" in diff["patch"]
    # The model saw the real key (through the gateway); the agent never did.
    keys = {r.headers.get("x-api-key") for r in model.message_requests()}
    assert keys == {SECRET}
    assert_no_secret(server, run_id, events)
