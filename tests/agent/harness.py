"""Test harness for the agent: fixture repos behind github.com URLs, and a way to run
``python -m agent`` and read its protocol lines.

Everything stays on this machine: ``https://github.com/<owner>/<repo>`` is rewritten by
git's ``url.<base>.insteadOf`` (set through ``GIT_CONFIG_*`` variables) to
``file://<mirror>/<owner>/<repo>``, and ``ANTHROPIC_BASE_URL`` points the real bundled
Claude Code CLI at :mod:`tests.agent.fake_anthropic`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-ant-test-SECRET-123"


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at ``path`` with ``files`` in one commit."""
    path.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git = ["git", "-c", "user.name=Fixture", "-c", "user.email=fixture@example.com",
           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", str(path)], check=True)
    subprocess.run([*git, "-C", str(path), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(path), "commit", "-qm", "fixture"], check=True)
    return path


def mirror_env(mirror: Path) -> dict[str, str]:
    """git settings that send https://github.com/ to the local ``mirror`` directory."""
    return {"GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.file://{mirror}/.insteadOf",
            "GIT_CONFIG_VALUE_0": "https://github.com/"}


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1]


def parse_lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line must be one protocol object; strict JSON (no NaN)."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"non-JSON constant {name} in output")

    events = []
    for line in stdout.splitlines():
        obj = json.loads(line, parse_constant=refuse)
        assert obj["v"] == 1 and isinstance(obj["type"], str), line
        events.append(obj)
    return events


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert API_KEY not in text
        assert "SECRET-123" not in text


class Workspace:
    """One variation's world: a mirror of fixture repos, a HOME, a workspace."""

    def __init__(self, tmp_path: Path, mirror: Path | None = None) -> None:
        self.tmp = tmp_path
        # Variations of one run share the mirror (the same github.com), nothing else.
        self.mirror = mirror or tmp_path / "mirror"
        self.home = tmp_path / "home"
        self.workspace = tmp_path / "workspace"
        self.home.mkdir(parents=True)

    def repo(self, owner: str, name: str, files: dict[str, str]) -> str:
        make_repo(self.mirror / owner / name, files)
        return f"https://github.com/{owner}/{name}"

    @property
    def clone(self) -> Path:
        return self.workspace / "repo"

    def env(self, base_url: str | None = None, **extra: str | None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "RUN_ID": "run-test",
            "VARIATION_ID": "0",
            "REPO_URL": "https://github.com/acme/widgets",
            "PROMPT": "Improve the greeting",
            "WORKSPACE": str(self.workspace),
            "MODEL": "claude-sonnet-4-5",
            "TEMPERATURE": "0.7",
            "ANTHROPIC_API_KEY": API_KEY,
            # One retry keeps fault tests fast while still exercising the retry report.
            "CLAUDE_CODE_MAX_RETRIES": "1",
            **mirror_env(self.mirror),
        }
        if base_url:
            env["ANTHROPIC_BASE_URL"] = base_url
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def start(self, env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "agent"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run(self, env: dict[str, str], timeout: float = 60) -> AgentRun:
        proc = self.start(env)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            raise AssertionError(f"agent did not finish in {timeout}s:\n{stdout}\n{stderr}")
        assert_no_secret(stdout, stderr)
        return AgentRun(proc.returncode, stdout, stderr, parse_lines(stdout))
