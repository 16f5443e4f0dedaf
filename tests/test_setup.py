"""Setup before the agent, on the local runtime with the real sandbox and the real agent
(fake model, fake github.com, a package index on 127.0.0.1): the setup runs once per
run, installs through the egress proxy only what the allow-list names, every variation
starts from its result, and the agent phase reaches nothing, not even the index."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from helpers import Server, wait_for
from package_index import Listener, PackageIndex
from sse_client import read_events
from tests.agent.fake_anthropic import FakeAnthropic, reply, text, tool_use
from tests.fake_github import FakeGitHub

REPO = "https://github.com/acme/widgets"
PY = sys.executable
TEST_PKG = """\
import unittest
import aideator_fixture_pkg


class Package(unittest.TestCase):
    def test_value(self):
        self.assertEqual(aideator_fixture_pkg.VALUE, 42)


unittest.main()
"""
# Tries each URL (through the proxy the environment names, if any, else directly; with
# --proxy, through that one) and says what happened.
PROBE = """\
import sys, urllib.request
args = sys.argv[1:]
proxy = None
if args[0] == "--proxy":
    proxy, args = args[1], args[2:]
for url in args:
    handlers = [urllib.request.ProxyHandler({"http": proxy, "https": proxy})] if proxy else []
    try:
        with urllib.request.build_opener(*handlers).open(url, timeout=5) as answer:
            print("REACHED", url, answer.status)
    except Exception as exc:
        print("blocked", url, type(exc).__name__, str(exc)[:80])
"""


@pytest.fixture
def setup_world(tmp_path: Path):
    """A package index (allow-listed), a listener that is not, fake github and model, and
    a server running the real agent sandboxed."""
    index = PackageIndex().start()
    listener = Listener()
    github = FakeGitHub(tmp_path / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\n", "test_pkg.py": TEST_PKG,
                                    "probe.py": PROBE})
    model = FakeAnthropic()
    base_url = model.start()
    server = Server(tmp_path / "data", github_url=github.start(),
                    egress_allow=f"127.0.0.1:{index.port}")
    del server.env["AIDEATOR_AGENT_COMMAND"]          # the real default: python -m agent
    server.env.update({"ANTHROPIC_API_KEY": "sk-ant-test-setup", "ANTHROPIC_BASE_URL": base_url,
                       "CLAUDE_CODE_MAX_RETRIES": "1"})
    server.start()
    yield server, model, index, listener
    server.stop()
    model.stop()
    github.stop()
    listener.stop()
    index.stop()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    """The service with the fake agent: for requests refused before anything runs."""
    server = Server(tmp_path_factory.mktemp("setup-validation") / "data").start()
    yield server
    server.stop()


def bash(command: str) -> object:
    return tool_use("Bash", {"command": command, "description": "run"})


def outputs(events, variation: int, type_: str) -> list[dict]:
    return [e.data["content"] for e in events if e.event == "agent_output"
            and e.data["variation_id"] == variation and e.data["type"] == type_]


def test_setup_installs_from_the_allowed_index_once_and_every_variation_uses_it(
        setup_world):
    server, model, index, listener = setup_world
    forbidden = [f"http://127.0.0.1:{listener.port}/", f"https://127.0.0.1:{listener.port}/",
                 "http://10.255.255.1/", "http://169.254.169.254/latest/meta-data/",
                 "https://example.com/"]
    setup = (f"{PY} -m venv --without-pip .venv && {PY} -m pip --python .venv/bin/python "
             f"install -q --disable-pip-version-check --no-input "
             f"--index-url {index.url}/simple/ aideator-fixture-pkg "
             f"&& {PY} probe.py {' '.join(forbidden)}")
    agent_probe = f"{index.url}/simple/agent-phase/"
    model.scripts["default"] = [
        reply(bash(".venv/bin/python test_pkg.py 2>&1; echo tests-exit=$?; "
                   f"{PY} probe.py {agent_probe}; "
                   f"{PY} probe.py --proxy http://127.0.0.1:7481 {agent_probe}")),
        reply(text("The tests pass.")),
    ]
    response = server.post("/runs", {"github_url": REPO, "prompt": "Run the tests",
                                     "variations": 2, "setup": setup,
                                     "setup_timeout_seconds": 120,
                                     "checks": [{"name": "package",
                                                 "command": ".venv/bin/python test_pkg.py"}]})
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    events = read_events(server.url(f"/runs/{run_id}/stream"), timeout=120)

    detail = server.get(f"/runs/{run_id}").json()
    assert [v["status"] for v in detail["variations"]] == ["succeeded", "succeeded"], detail
    # Set up once for the run: one download, one setup directory.
    assert index.downloads() == 1
    assert (server.data_dir / "runs" / run_id / "setup" / "workspace" / "repo" / ".venv").is_dir()
    for i in (0, 1):
        (finished,) = outputs(events, i, "setup_finished")
        assert finished["passed"] is True and finished["command"] == setup
        lines = [line for e in outputs(events, i, "setup_output") for line in e["lines"]]
        # Every other host was refused by the proxy (403) and reached nothing.
        for url in forbidden:
            assert any(line.startswith(f"blocked {url}") for line in lines), (url, lines)
        assert not [line for line in lines if line.startswith("REACHED")]
        (result,) = outputs(events, i, "tool_result")
        assert "OK" in result["content"] and "tests-exit=0" in result["content"], result
        # The agent phase reaches nothing: not the index directly, not through the proxy.
        assert result["content"].count(f"blocked {agent_probe}") == 2, result
        (diff,) = outputs(events, i, "diff")
        assert diff["files"] == [] and ".venv" in diff["excluded"]
        stored = detail["variations"][i]["setup"]
        assert stored["passed"] is True and stored["exit_code"] == 0
        assert stored["source"] == "request" and stored["duration_ms"] > 0
    # The checks pass in every variation and at the baseline, with what setup installed.
    for check in [detail["baseline"]["checks"][0]] + [v["checks"][0] for v in detail["variations"]]:
        assert check["status"] == "passed" and check["tests"]["passed"] == 1, check
    assert listener.connections == 0
    assert not [p for p in index.paths if "agent-phase" in p]


def test_a_failed_or_timed_out_setup_fails_every_variation_with_its_reason(setup_world):
    server, model, index, listener = setup_world
    model.scripts["default"] = [reply(text("never asked"))]
    failing = server.post("/runs", {"github_url": REPO, "prompt": "p", "variations": 2,
                                    "setup": "echo resolving dependencies; exit 3"}).json()
    slow = server.post("/runs", {"github_url": REPO, "prompt": "p", "variations": 1,
                                 "setup": "echo still going; sleep 60",
                                 "setup_timeout_seconds": 1}).json()
    for run, reason in ((failing, "setup exited with code 3"),
                        (slow, "setup timed out after 1 s")):
        events = read_events(server.url(f"/runs/{run['run_id']}/stream"), timeout=60)
        detail = server.get(f"/runs/{run['run_id']}").json()
        assert detail["status"] == "failed"
        for v in detail["variations"]:
            assert v["status"] == "failed" and reason in v["error"], v
            assert v["setup"]["passed"] is False and v["setup"]["reason"] == reason
            # The stream keeps the setup's output and its end for each variation.
            assert outputs(events, v["variation_id"], "setup_output")
        assert ("resolving dependencies" in failing_error(detail)) == (run is failing)
    assert model.message_requests() == []


def failing_error(detail: dict) -> str:
    return " ".join(v["error"] or "" for v in detail["variations"])


@pytest.mark.parametrize("body, field", [
    ({"setup": ""}, "setup"),
    ({"setup": "echo a\necho b"}, "setup"),
    ({"setup": "echo \x00"}, "setup"),
    ({"setup": "x" * 4097}, "setup"),
    ({"setup": "true", "setup_timeout_seconds": 0}, "setup_timeout_seconds"),
    ({"setup": "true", "setup_timeout_seconds": 1801}, "setup_timeout_seconds"),
    ({"setup_timeout_seconds": 60}, "setup_timeout_seconds"),
    ({"setup_from_repo": "yes"}, "setup_from_repo"),
])
def test_setup_fields_are_validated_and_nothing_is_stored(plain_server, body, field):
    server = plain_server
    before = server.get("/runs").json()
    response = server.post("/runs", {"github_url": REPO, "prompt": "p", **body})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert server.get("/runs").json() == before


def test_a_service_restarted_during_the_setup_rejoins_it_and_it_runs_once(setup_world):
    server, model, index, listener = setup_world
    model.scripts["default"] = [reply(text("done"))]
    run = server.post("/runs", {"github_url": REPO, "prompt": "p", "variations": 2,
                                "setup": "echo ran >> ../setup-runs; echo waiting; sleep 3; "
                                         "echo finished"}).json()
    log = server.data_dir / "runs" / run["run_id"] / "setup" / "output.log"
    wait_for(lambda: log.exists() and b"waiting" in log.read_bytes(), timeout=30)
    server.kill()
    server.start()
    events = read_events(server.url(f"/runs/{run['run_id']}/stream"), timeout=60)
    detail = server.get(f"/runs/{run['run_id']}").json()
    assert [v["status"] for v in detail["variations"]] == ["succeeded", "succeeded"], detail
    assert (log.parent / "workspace" / "setup-runs").read_text() == "ran\n"
    for i in (0, 1):
        assert len(outputs(events, i, "setup_started")) == 1
        assert len(outputs(events, i, "setup_finished")) == 1
        lines = [line for e in outputs(events, i, "setup_output") for line in e["lines"]]
        assert lines == ["waiting", "finished"]


def test_cancelling_a_run_during_its_setup_stops_the_setup_and_every_variation(setup_world):
    server, model, index, listener = setup_world
    run = server.post("/runs", {"github_url": REPO, "prompt": "p", "variations": 2,
                                "setup": "echo waiting; sleep 60"}).json()
    log = server.data_dir / "runs" / run["run_id"] / "setup" / "output.log"
    wait_for(lambda: log.exists() and b"waiting" in log.read_bytes(), timeout=30)
    started = time.monotonic()
    assert server.post(f"/runs/{run['run_id']}/cancel", {}).status_code in (200, 202)
    read_events(server.url(f"/runs/{run['run_id']}/stream"), timeout=30)
    assert time.monotonic() - started < 15
    detail = server.get(f"/runs/{run['run_id']}").json()
    assert [v["status"] for v in detail["variations"]] == ["cancelled", "cancelled"], detail
    assert (log.parent / "exit.json").exists()
    assert model.message_requests() == []
