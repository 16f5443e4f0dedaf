"""The toolchain a check, a setup and the agent's shell see, end to end: the real service
(started from an activated virtualenv, as a developer or an image with its venv on PATH
runs it), the real agent in the real sandbox, a fake model, a local package index.

- Without a setup, ``python3`` is the machine's own, never the service's virtualenv (the
  one it runs from, pytest included), so ``python3 -m pytest`` fails, and the board says
  why ("missing module pytest", "command not found: ...") and, since the baseline fails
  the same way, as an environment problem rather than the change's fault.
- With a setup that makes ``.venv`` and installs pytest into it from the index, that
  ``.venv/bin`` comes first: the same check finds pytest there and passes, with counts.
"""
from __future__ import annotations

import os
import shutil
import sys

import pytest

from helpers import Server
from web.browser import chromium_for_tests, screenshot, set_viewport, wait_until
from package_index import PackageIndex
from sse_client import read_events
from tests.agent.fake_anthropic import FakeAnthropic, reply, text, tool_use
from tests.fake_github import FakeGitHub

REPO = "https://github.com/acme/calc"
CALC = "def add(a, b):\n    return a + b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
SHOW_PATH = "echo PATH=$PATH; echo python3=$(command -v python3)"
CHECKS = [{"name": "where", "command": SHOW_PATH},
          {"name": "pytest", "command": "python3 -m pytest -q"},
          {"name": "lint", "command": "ruff-not-installed check ."}]
# pytest and what it needs, packed from this virtualenv's own copies.
PYTEST = ("pytest", "pluggy", "iniconfig", "packaging", "pygments")
SERVICE_VENV_BINS = {os.path.join(sys.prefix, "bin"),
                     os.path.join(os.path.realpath(sys.prefix), "bin")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished runs of one variation each, without and with a setup: their events
    and comparisons."""
    assert sys.prefix != sys.base_prefix, "the service runs from a virtualenv here"
    tmp = tmp_path_factory.mktemp("toolchain")
    index = PackageIndex(installed=PYTEST).start()
    github = FakeGitHub(tmp / "github")
    github.repo("acme", "calc", {"calc.py": CALC, "test_calc.py": TEST_CALC})
    model = FakeAnthropic({"default": [
        reply(tool_use("Bash", {"command": SHOW_PATH, "description": "where am I"})),
        reply(tool_use("Write", {"file_path": "NOTES.md", "content": "looked around\n"})),
        reply(text("done"))]})
    base_url = model.start()
    server = Server(tmp / "data", github_url=github.start(),
                    egress_allow=f"127.0.0.1:{index.port}")
    del server.env["AIDEATOR_AGENT_COMMAND"]          # the real default: python -m agent
    # Activated, as the user had it: the service's venv first on its PATH.
    server.env["PATH"] = f"{sys.prefix}/bin:{server.env['PATH']}"
    server.env["VIRTUAL_ENV"] = sys.prefix
    server.env.update({"ANTHROPIC_API_KEY": "sk-ant-test-toolchain",
                       "ANTHROPIC_BASE_URL": base_url, "CLAUDE_CODE_MAX_RETRIES": "1"})
    server.start()
    try:
        setup = ("python3 -m venv .venv && .venv/bin/pip install -q --disable-pip-version-check"
                 f" --no-input --index-url {index.url}/simple/ pytest")
        plain = server.post("/runs", {"github_url": REPO, "prompt": "Look around",
                                      "variations": 1, "checks": CHECKS}).json()
        prepared = server.post("/runs", {"github_url": REPO, "prompt": "Look around",
                                         "variations": 1, "checks": CHECKS, "setup": setup,
                                         "setup_timeout_seconds": 300}).json()
        found = {}
        for name, run in (("plain", plain), ("prepared", prepared)):
            events = read_events(server.base + run["stream_url"], timeout=420)
            board = server.get(f"/runs/{run['run_id']}/comparison").json()
            found[name] = (events, board, run["run_id"])
        yield server, found
    finally:
        server.stop()
        model.stop()
        github.stop()
        index.stop()


def check_output(events, name: str, *, baseline: bool) -> list[str]:
    return [line for e in events if e.event == "agent_output"
            and e.data["type"] == "check_output" and e.data["content"]["name"] == name
            and e.data["content"]["baseline"] is baseline for line in e.data["content"]["lines"]]


def shell_output(events) -> list[str]:
    (result,) = [e.data["content"]["content"] for e in events if e.event == "agent_output"
                 and e.data["type"] == "tool_result" and "PATH=" in e.data["content"]["content"]]
    return result.splitlines()


def path_of(lines: list[str]) -> tuple[list[str], str]:
    path = next(line for line in lines if line.startswith("PATH="))[len("PATH="):]
    python = next(line for line in lines if line.startswith("python3="))[len("python3="):]
    return path.split(":"), python


def test_without_a_setup_checks_and_the_shell_see_the_machines_python_not_the_services(runs):
    events, board, _ = runs[1]["plain"]
    machine_python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    for lines in (check_output(events, "where", baseline=True),
                  check_output(events, "where", baseline=False), shell_output(events)):
        path, python = path_of(lines)
        assert not SERVICE_VENV_BINS & set(path), path
        assert python == machine_python, lines
    assert check_output(events, "pytest", baseline=True) == [
        f"{machine_python}: No module named pytest"]


def test_a_missing_module_or_command_is_named_and_read_as_the_environments_problem(runs):
    events, board, _ = runs[1]["plain"]
    (row,) = board["rows"]
    expected = [{"name": "pytest", "summary": "missing module pytest"},
                {"name": "lint", "summary": "command not found: ruff-not-installed"}]
    for shown in (row, board["baseline"]):
        checks = {c["name"]: c for c in shown["checks"]}
        assert checks["pytest"]["status"] == "failed"
        assert checks["pytest"]["problem"] == {"kind": "missing_module", "name": "pytest",
                                               "summary": "missing module pytest"}
        assert checks["lint"]["problem"]["kind"] == "command_not_found"
        assert checks["where"]["status"] == "passed" and checks["where"]["problem"] is None
        assert shown["environment_problems"] == expected
    # Failing at the baseline too: not the change's fault.
    assert row["newly_failing"] == [] and row["checks_newly_failing"] == 0


def test_what_the_setup_prepared_comes_first_and_the_same_check_passes(runs):
    events, board, _ = runs[1]["prepared"]
    for lines in (check_output(events, "where", baseline=True),
                  check_output(events, "where", baseline=False), shell_output(events)):
        path, python = path_of(lines)
        assert path[0].endswith("/workspace/repo/.venv/bin"), path
        assert python == f"{path[0]}/python3"
        assert not SERVICE_VENV_BINS & set(path), path
    (row,) = board["rows"]
    for shown in (row, board["baseline"]):
        checks = {c["name"]: c for c in shown["checks"]}
        assert checks["pytest"]["status"] == "passed", check_output(events, "pytest",
                                                                    baseline=False)
        assert checks["pytest"]["tests"] == {"format": "pytest", "passed": 1, "failed": 0,
                                             "skipped": 0, "errors": 0}
        assert shown["environment_problems"] == [
            {"name": "lint", "summary": "command not found: ruff-not-installed"}]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_board_says_the_environment_lacks_them_at_every_width(runs, width):
    server, found = runs
    _, _, run_id = found["plain"]
    with chromium_for_tests() as driver:
        set_viewport(driver, width, 900 if width > 600 else 844)
        driver.get(f"{server.base}/runs/{run_id}")
        notes = wait_until(driver, lambda d: d.execute_script(
            "const notes = [...document.querySelectorAll('.board-row [data-role=environment]')]"
            ".filter(n => n.getClientRects().length).map(n => n.textContent);"
            "return notes.length === 2 ? notes : null"), 20)
        screenshot(driver, f"comparison-environment-{width}")
        overflow = driver.execute_script(
            "const s = document.querySelector('.board-scroll');"
            "return [s.scrollWidth - s.clientWidth,"
            " document.documentElement.scrollWidth - window.innerWidth]")
    problems = "pytest: missing module pytest; lint: command not found: ruff-not-installed"
    assert notes == [f"Environment problem (at the baseline too): {problems}",
                     f"Environment problem: {problems}"]
    assert overflow[0] <= 0 and overflow[1] <= 0, overflow
