"""The ``aideator`` command as a person runs it, in a git repository with a failing test:
the installed console script, the embedded service it starts itself (real gunicorn, the
sandboxed local runtime, SQLite), the stand-in agent that really clones the snapshot and
changes it (tests/fixtures/git_agent.py, which runs the checks with the real agent's
step), and real git in the person's repository."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from helpers import ROOT, Server, free_port, git

GIT_AGENT = ROOT / "tests" / "fixtures" / "git_agent.py"
AIDEATOR = Path(sys.executable).parent / "aideator"
CHECK = "python3 test_calc.py"



def write(variation: int, body: str) -> str:
    """A prompt word making the stand-in agent of ``variation`` write calc.py."""
    return f"v{variation}.write=calc.py:" + quote(f"def add(a, b):\n    return {body}\n")


# Variation 0 gets it wrong, variation 1 fixes the test.
PROMPT = f"{write(0, 'a * b')} {write(1, 'a + b')}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "calc"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "test_calc.py").write_text("from calc import add\n\n"
                                       "assert add(2, 3) == 5, f'add(2, 3) is {add(2, 3)}'\n"
                                       "print('1 passed')\n")
    (repo / "README.md").write_text("# calc\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "calc with a bug")
    # The person's own work in progress, which nothing may touch.
    (repo / "notes.txt").write_text("my notes, not committed\n")
    (repo / "README.md").write_text("# calc\n\nwork in progress\n")
    return repo


def cli(repo: Path, *args: str, env: dict | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    assert AIDEATOR.exists(), "the package installs the aideator command (make install)"
    return subprocess.run([str(AIDEATOR), *args], cwd=repo, capture_output=True, text=True,
                          timeout=timeout, env=env or {**os.environ, "COLUMNS": "200"})


def person_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIDEATOR_")}
    # Where the service the command starts keeps its data (not in the repository), and
    # the stand-in agent it runs.
    env.update(AIDEATOR_DATA_DIR=str(tmp_path / "aideator-data"),
               AIDEATOR_AGENT_COMMAND=f"{sys.executable} {GIT_AGENT}",
               AIDEATOR_METRICS_PORT="0", COLUMNS="200")
    return env


# The command starts the embedded service itself: nothing in the body names a server.
@pytest.mark.integration
def test_a_person_runs_two_variations_from_the_terminal_and_applies_the_winner(
        tmp_path: Path, repo: Path):
    env = person_env(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    pid_file = tmp_path / "aideator-data" / "service.pid"
    try:
        done = cli(repo, "run", PROMPT, "-n", "2", "--check", CHECK, "--url", url, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        # It started the embedded service itself, and said so.
        assert f"started the embedded AIdeator service at {url}" in done.stderr
        out = done.stdout
        run_id = out.split()[1].rstrip(":")
        assert run_id.startswith("run-")
        # Every variation streamed live, one line per event, prefixed by variation: the
        # clone, the baseline failing, the change and its checks.
        assert "v0 │ · cloned" in out and "v1 │ · cloned" in out
        assert "v0 │ check python3 test_calc.py (baseline): failed" in out
        assert "v0 │ diff: 1 file(s), +1 -1" in out and "v1 │ diff: 1 file(s), +1 -1" in out
        assert "v0 │ check python3 test_calc.py: failed" in out
        assert "v1 │ check python3 test_calc.py: passed" in out
        assert "v1 │ completed" in out
        # The board: the baseline and both variations, the one that passes suggested.
        board = out[out.index(f"Run {run_id}: completed"):]
        assert "baseline" in board and "0/1 pass" in board
        assert "v1 ← suggested" in board and "1/1 pass" in board
        assert "first agent line after" in out and "board after" in out
        # Nothing of the service's in the repository.
        assert git(repo, "status", "--porcelain", "-uall") == " M README.md\n?? notes.txt\n"

        done = cli(repo, "apply", run_id, "1", "--url", url, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        branch = f"aideator/{run_id}-v1"
        assert f"on the new branch {branch}" in done.stdout
        assert git(repo, "branch", "--show-current").strip() == branch
        assert git(repo, "show", "HEAD:calc.py") == "def add(a, b):\n    return a + b\n"
        assert git(repo, "log", "--format=%s", "-2").splitlines() == [
            f"AIdeator: run {run_id}, variation 1", "calc with a bug"]
        # The person's own uncommitted work is as they left it, still uncommitted.
        assert (repo / "notes.txt").read_text() == "my notes, not committed\n"
        assert (repo / "README.md").read_text() == "# calc\n\nwork in progress\n"
        assert git(repo, "status", "--porcelain", "-uall") == " M README.md\n?? notes.txt\n"
        assert subprocess.run(CHECK.split(), cwd=repo, capture_output=True).returncode == 0
    finally:
        if pid_file.exists():
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)


@pytest.fixture
def service(tmp_path: Path):
    server = Server(tmp_path / "data", agent_command=f"{sys.executable} {GIT_AGENT}")
    server.start()
    yield server
    server.stop()


def state(repo: Path) -> tuple:
    files = {p.name: p.read_bytes() for p in repo.iterdir() if p.is_file()}
    return (files, git(repo, "status", "--porcelain", "-uall"), git(repo, "for-each-ref"),
            git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--show-current"))


def test_apply_refuses_without_changing_anything_when_the_person_edited_the_same_file(
        service: Server, repo: Path):
    url = ["--url", service.base]
    done = cli(repo, "run", PROMPT, "-n", "2", "--json", *url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    run_id = result["run"]["run_id"]
    assert [r["status"] for r in result["board"]["rows"]] == ["succeeded", "succeeded"]

    (repo / "calc.py").write_text("def add(a, b):\n    return b + a  # mine\n")
    before = state(repo)
    done = cli(repo, "apply", run_id, "1", *url)
    assert done.returncode == 1
    assert "uncommitted changes to files this change touches: calc.py" in done.stderr
    assert state(repo) == before

    # An untracked file where the change would create one is the person's too.
    git(repo, "checkout", "-q", "calc.py")
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    done = cli(repo, "apply", run_id, "1", "--no-branch", *url)
    assert done.returncode == 0, done.stderr
    assert "to your working tree as uncommitted changes" in done.stdout
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert git(repo, "status", "--porcelain", "-uall") == \
        " M README.md\n M calc.py\n?? notes.txt\n"
    assert "a + b" in (repo / "calc.py").read_text()


def test_the_other_commands_talk_to_the_api(service: Server, repo: Path):
    url = ["--url", service.base]
    # Started from the working tree as the person sees it: their README edit included.
    done = cli(repo, "run", "v0.add=new.txt v1.add=other.txt", "-n", "2", "-u", "--detach",
               "--json", *url)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    done = cli(repo, "show", run_id, "--json", *url)
    detail = json.loads(done.stdout)["run"]
    assert detail["source"]["include_uncommitted"] is True
    assert detail["source"]["path"] == str(repo)

    done = cli(repo, "iterate", run_id, "0", "edit=new.txt", "-n", "1", *url)
    assert done.returncode == 0, done.stdout + done.stderr
    child = done.stdout.split()[1].rstrip(":")
    diff = cli(repo, "diff", child, "0", *url)
    assert diff.returncode == 0 and "+edited by variation 0" in diff.stdout
    assert diff.stdout.startswith("diff --git a/new.txt b/new.txt")

    assert cli(repo, "choose", run_id, "1", *url).returncode == 0
    shown = cli(repo, "show", run_id, *url)
    assert "v1 ★ chosen" in shown.stdout
    listed = json.loads(cli(repo, "runs", "--json", *url).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [child, run_id]

    # Failures exit non-zero with the service's words.
    done = cli(repo, "cancel", run_id, *url)
    assert done.returncode == 1 and "has already finished" in done.stderr
    done = cli(repo, "show", "run-nosuchrun", *url)
    assert done.returncode == 1 and "no run with id" in done.stderr
    done = cli(repo, "apply", run_id, "7", *url)
    assert done.returncode == 1 and "has no variation 7" in done.stderr
    for command in ("run", "runs", "show", "diff", "choose", "apply", "iterate", "cancel"):
        helped = cli(repo, command, "--help")
        assert helped.returncode == 0 and "--url" in helped.stdout and "--json" in \
            helped.stdout, command


def test_a_run_outside_a_repository_says_so(tmp_path: Path):
    done = cli(tmp_path, "run", "x", "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "is not inside a git repository" in done.stderr
