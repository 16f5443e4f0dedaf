"""Test helpers: real gunicorn+gevent servers on 127.0.0.1, and polling."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
FAKE_AGENT = ROOT / "tests" / "fixtures" / "fake_agent.py"
FAKE_AGENT_COMMAND = f"{sys.executable} {FAKE_AGENT}"
# The repository the tests' runs name: the fixture agent never clones it (the real agent's
# tests use repositories of their own behind a local mirror).
REPO = "https://github.com/octocat/hello-world"


def git(repo: Path, *args: str) -> str:
    """git in ``repo`` as a person with an identity (commits need one), its output."""
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=Person",
                           "-c", "user.email=person@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


def new_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at ``path`` whose one commit on main holds ``files``."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The service as users run it: gunicorn with a gevent worker, on 127.0.0.1.

    ``argv``, ``cwd`` and ``env`` start it some other way (e.g. an image's command in the
    image's environment); the settings are applied on top of ``env``."""

    def __init__(self, data_dir: Path, *, argv: list[str] | None = None, cwd: Path = ROOT,
                 env: dict[str, str] | None = None, **settings: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # GET /metrics is on a port of its own (never on the API's).
        self.metrics_port = free_port()
        self.metrics_base = f"http://127.0.0.1:{self.metrics_port}"
        self.argv = argv or [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                             "wsgi:app"]
        self.cwd = cwd
        self.env = dict(env) if env is not None else {
            k: v for k, v in os.environ.items() if not k.startswith("AIDEATOR_")}
        self.env.update({"AIDEATOR_DATA_DIR": str(data_dir),
                         "AIDEATOR_BIND": f"127.0.0.1:{self.port}",
                         "AIDEATOR_METRICS_PORT": str(self.metrics_port),
                         "AIDEATOR_AGENT_COMMAND": FAKE_AGENT_COMMAND})
        self.env.update({f"AIDEATOR_{k.upper()}": v for k, v in settings.items()})
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 20, *, healthy: bool = True) -> "Server":
        """Start it and wait until /health says healthy (or, with ``healthy=False``, until
        it answers at all: a service that cannot run agents still serves)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                # Not kept alive: an idle connection of the test's would count among the
                # server's clients (and used to hold a stopping gunicorn up).
                with requests.get(self.url("/health"), timeout=5,
                                  headers={"Connection": "close"}) as answer:
                    status = answer.status_code
                if status == 200 or (not healthy and status == 503):
                    return self
            except requests.RequestException:   # not listening yet, or busy starting
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not healthy in {timeout}s: {self.log_path.read_text()}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers' pids (each one is a replica of its own)."""
        assert self.proc is not None
        return [p.pid for p in psutil.Process(self.proc.pid).children()]

    def url(self, path: str) -> str:
        return f"{self.base}/api/v1{path}"

    def kill(self) -> None:
        """SIGKILL the server's process group (the agents run in sessions of their own)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> float:
        """SIGTERM, as Kubernetes stops a pod; waits for the exit and returns its seconds."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def pause(self) -> None:
        """SIGSTOP every process of the server: alive, but silent (a long GC pause, a VM
        frozen, a network partition)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        kill_agents(self.data_dir)

    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(self.url(path), json=body, timeout=10)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url(path), timeout=10, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.delete(self.url(path), timeout=30, **kwargs)


def start_run(server: Server, prompt: str = "lines=2", variations: int = 1, *,
              token: str | None = None, session: requests.Session | None = None,
              **body: Any) -> dict[str, Any]:
    """POST /runs (on ``REPO`` unless ``github_url`` is given), as ``token``'s principal or
    through ``session``; asserts it was accepted and returns the created run."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    # The response is dropped on return: while it lives, its socket stays open, and an idle
    # keep-alive connection holds a stopping gunicorn up for its whole graceful timeout.
    response = (session or requests).post(
        server.url("/runs"), headers=headers, timeout=10,
        json={"github_url": REPO, "prompt": prompt, "variations": variations, **body})
    assert response.status_code == 202, response.text
    return response.json()


def kill_agents(data_dir: Path) -> None:
    """Kill agent processes a test left running (they outlive the server by design)."""
    prefix = str(data_dir)
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("WORKSPACE", "").startswith(prefix):
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def wait_for(predicate: Any, timeout: float = 20, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
