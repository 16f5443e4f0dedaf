"""The local runtime's sandbox: an agent sees nothing of the service and reaches only the
gateway, through its bridge (real bwrap, real socat, real gunicorn servers)."""
from __future__ import annotations

import json
import os
import socket
import stat
import time
import sys
import uuid
from pathlib import Path

import pytest

from helpers import ROOT, Server, wait_for
from sse_client import SSEEvent, iter_events, read_events
from tests.fake_github import FakeGitHub

REPO = "https://github.com/octocat/hello-world"
PROBE = ROOT / "tests" / "fixtures" / "probe_agent.py"
NEEDLE = "sk-ant-test-SANDBOX-NEEDLE-"
SECRET = NEEDLE + uuid.uuid4().hex
# What the probe asks the bridge for without its credential: the gateway's own refusal
# proves the request left the sandbox and reached the service's gateway.
GATEWAY_PATH = "/gateway/git/octocat/hello-world/info/refs?service=git-upload-pack"


def assert_gateway_answered(result: dict) -> None:
    assert result["url"].startswith("http://127.0.0.1:")
    assert result.get("status") == 401 and "credential" in result["body"], result


def probe_reports(events: list[SSEEvent], variation: int) -> dict:
    return {e.data["content"]["check"]: e.data["content"]["result"] for e in events
            if e.event == "agent_output" and e.data["variation_id"] == variation
            and e.data["type"] == "probe"}


@pytest.fixture
def listener():
    """Another service on the host's loopback, which an agent must not reach."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_a_probe_agent_finds_nothing_of_the_service_and_reaches_only_the_gateway(
        tmp_path, listener):
    github = FakeGitHub(tmp_path / "github")
    github.repo("octocat", "hello-world", {"README": "hello\n"})
    data = tmp_path / "data"
    server = Server(data, agent_command=f"{sys.executable} {PROBE}",
                    github_url=github.start())
    server.env["ANTHROPIC_API_KEY"] = SECRET
    server.env["GIT_CONFIG_VALUE_0"] = SECRET
    server.start()
    marker = f"sandbox-probe-{uuid.uuid4().hex}"
    host_paths = [f"/tmp/{marker}", str(ROOT / marker), str(Path.home() / marker),
                  str(ROOT / "agent" / marker), f"{sys.prefix}/{marker}",
                  str(data / marker), str(data / "runs" / marker)]
    try:
        run = server.post("/runs", {"github_url": REPO, "variations": 2, "prompt": " ".join([
            f"db={data / 'aideator.db'}", f"data={data}", f"needle={NEEDLE}",
            f"ports={server.port},{listener}", f"write={','.join(host_paths)}",
            f"gateway_path={GATEWAY_PATH}",
            # Each variation looks for the other's workspace.
            "v0.other=1", "v1.other=0"])})
        assert run.status_code == 202
        run = run.json()
        events = read_events(server.base + run["stream_url"], timeout=60)
        assert events[-1].data["status"] == "completed"
        assert (data / "aideator.db").exists()
        for i in (0, 1):
            found = probe_reports(events, i)
            assert found["read database"] == "FileNotFoundError"
            # The data directory holds only the way to its own workspace and HOME.
            assert found["files in the data directory"] == []
            other = data / "runs" / run["run_id"] / str(1 - i) / "workspace"
            assert (other / "mine.txt").exists()        # it was there to be seen
            assert found["other workspace"] == "FileNotFoundError"
            # Only the sandbox's own processes; no server, no environment of the server.
            commands = [p["cmdline"] for p in found["processes"].values()]
            assert not [c for c in commands if "gunicorn" in c or "wsgi" in c]
            assert all(c.startswith(("bwrap", "/bin/sh /run/aideator-init.sh", "socat",
                                     f"{sys.executable} {PROBE}")) for c in commands)
            assert found["needle"] == []
            assert found["connect"] == {str(server.port): "ConnectionRefusedError",
                                        str(listener): "ConnectionRefusedError"}
            assert found["interfaces"] == ["lo"]
            assert_gateway_answered(found["gateway"])
            assert found["clone"] == {"files": ["README"]}      # through the gateway
            assert found["identity"]["uid"] == 1000
            assert found["identity"]["pid"] < 10           # its own PID namespace
            assert found["write"][f"/tmp/{marker}"] == "ok"   # its own /tmp ...
        # ... which the host never sees; nor anything else it tried to write.
        for path in host_paths:
            assert not os.path.exists(path), path
        assert SECRET not in "".join(e.raw.decode() for e in events)
    finally:
        server.stop()
        github.stop()


GATEWAY_TWICE = """\
import json, os, time, urllib.request, urllib.error
def ask():
    url = os.environ["ANTHROPIC_BASE_URL"].removesuffix("/gateway/anthropic") + "/gateway/git/o/r/info/refs"
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception as exc:
        return type(exc).__name__
print(json.dumps({"v": 1, "type": "gateway", "status": ask()}), flush=True)
go = os.path.join(os.environ["WORKSPACE"], "go")
while not os.path.exists(go):
    time.sleep(0.05)
print(json.dumps({"v": 1, "type": "gateway", "status": ask()}), flush=True)
"""


def test_a_restarted_service_serves_a_running_sandbox_its_gateway_again(tmp_path):
    agent = tmp_path / "gateway_twice.py"
    agent.write_text(GATEWAY_TWICE)
    data = tmp_path / "data"
    first = Server(data, agent_command=f"{sys.executable} {agent}").start()
    second = Server(data, agent_command=f"{sys.executable} {agent}")
    try:
        run = first.post("/runs", {"github_url": REPO, "prompt": "x", "variations": 1}).json()
        for item in iter_events(first.base + run["stream_url"], timeout=30):
            if isinstance(item, SSEEvent) and item.event == "agent_output" \
                    and item.data["type"] == "gateway":
                assert item.data["content"]["status"] == 401     # the gateway: no credential
                break
        first.kill()      # the sandbox runs on; its bridge's socket died with the server
        bridge = data / "runs" / run["run_id"] / "0" / "bridge" / "gateway.sock"
        second.start()
        wait_for(lambda: bridge.exists() and stat.S_ISSOCK(bridge.stat().st_mode))
        (data / "runs" / run["run_id"] / "0" / "workspace" / "go").touch()
        events = read_events(second.base + run["stream_url"], timeout=30)
        statuses = [e.data["content"]["status"] for e in events
                    if e.event == "agent_output" and e.data["type"] == "gateway"]
        assert statuses == [401, 401]
        assert events[-1].data["status"] == "completed"
        assert not bridge.exists()          # served while watched, gone once it ended
    finally:
        first.stop()
        second.stop()


def test_where_no_sandbox_can_be_made_no_agent_starts_and_the_service_says_why(tmp_path):
    # bwrap as on a system that forbids user namespaces (e.g. Ubuntu's AppArmor rule).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bwrap").write_text("#!/bin/sh\necho 'bwrap: setting up uid map: "
                                   "Permission denied' >&2\nexit 1\n")
    (bin_dir / "bwrap").chmod(0o755)
    server = Server(tmp_path / "data")
    server.env["PATH"] = f"{bin_dir}:{server.env['PATH']}"
    server.start(healthy=False)
    try:
        health = server.get("/health")
        assert health.status_code == 503
        assert health.json()["sandbox"] == "unavailable"
        run = server.post("/runs", {"github_url": REPO, "prompt": "lines=2",
                                    "variations": 2}).json()
        events = read_events(server.base + run["stream_url"], timeout=30)
        errors = [e.data["error"] for e in events if e.event == "error"]
        assert len(errors) == 2
        for error in errors:
            assert "Permission denied" in error
            assert "bubblewrap" in error and "socat" in error
            assert "AIDEATOR_SANDBOX=off" in error
        assert not [e for e in events if e.event == "agent_output"]
        assert events[-1].data["status"] == "failed"
        assert "no sandbox can be made" in server.log_path.read_text()
    finally:
        server.stop()


def test_the_explicit_opt_out_runs_agents_unsandboxed_and_says_so(tmp_path):
    server = Server(tmp_path / "data", sandbox="off",
                    agent_command=f"{sys.executable} {ROOT / 'tests/fixtures/env_agent.py'}")
    server.start()
    try:
        assert server.get("/health").json()["sandbox"] == "off"
        log = server.log_path.read_text()
        assert "agents run unsandboxed (AIDEATOR_SANDBOX=off)" in log
        assert '"level": "warning"' in log or "WARNING" in log
        run = server.post("/runs", {"github_url": REPO, "prompt": "x", "variations": 1}).json()
        events = read_events(server.base + run["stream_url"])
        report = [e.data["content"] for e in events
                  if e.event == "agent_output" and e.data["type"] == "env"][0]
        variation_dir = tmp_path / "data" / "runs" / run["run_id"] / "0"
        assert report["cwd"] == str(variation_dir)
        assert not (variation_dir / "bridge").exists()
    finally:
        server.stop()


def test_a_sandboxed_agent_is_given_the_bridge_and_no_credential_of_the_service(tmp_path):
    server = Server(tmp_path / "data",
                    agent_command=f"{sys.executable} {ROOT / 'tests/fixtures/env_agent.py'}")
    server.env.update({"ANTHROPIC_API_KEY": SECRET, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
                       "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                       "GIT_CONFIG_VALUE_0": SECRET})
    server.start()
    try:
        run = server.post("/runs", {"github_url": REPO, "prompt": "x", "variations": 1}).json()
        events = read_events(server.base + run["stream_url"])
        report = [e.data["content"] for e in events
                  if e.event == "agent_output" and e.data["type"] == "env"][0]
        assert SECRET not in json.dumps(report)
        assert report["values"]["GIT_CONFIG_COUNT"] == "2"     # the gateway's, not ours
        assert "ANTHROPIC_BASE_URL" in report["names"]
    finally:
        server.stop()


TERM_AWARE = """\
import json, os, signal, sys, time
def stop(signum, frame):
    print(json.dumps({"v": 1, "type": "signal", "name": signal.Signals(signum).name}), flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, stop)
if "suicide" in os.environ["PROMPT"]:
    os.kill(os.getpid(), signal.SIGKILL)
print(json.dumps({"v": 1, "type": "ready"}), flush=True)
time.sleep(600)
"""


def test_cancel_reaches_the_agent_inside_its_sandbox_with_sigterm(tmp_path):
    agent = tmp_path / "term_aware.py"
    agent.write_text(TERM_AWARE)
    # A grace period far longer than the test: only SIGTERM can end the agent in time.
    server = Server(tmp_path / "data", agent_command=f"{sys.executable} {agent}",
                    cancel_grace_seconds="60").start()
    try:
        run = server.post("/runs", {"github_url": REPO, "prompt": "x", "variations": 1}).json()
        for item in iter_events(server.base + run["stream_url"], timeout=30):
            if isinstance(item, SSEEvent) and item.event == "agent_output" \
                    and item.data["type"] == "ready":
                break
        cancelled = time.monotonic()
        server.post(f"/runs/{run['run_id']}/cancel", {})
        events = read_events(server.base + run["stream_url"], timeout=30)
        assert time.monotonic() - cancelled < 10
        assert [e.data["content"]["name"] for e in events
                if e.event == "agent_output" and e.data["type"] == "signal"] == ["SIGTERM"]
        assert events[-1].data["status"] == "cancelled"
        exit_json = tmp_path / "data" / "runs" / run["run_id"] / "0" / "exit.json"
        assert json.loads(exit_json.read_text()) == {"exit_code": 3}
    finally:
        server.stop()


def test_an_agent_killed_inside_its_sandbox_is_reported_killed_by_its_signal(tmp_path):
    agent = tmp_path / "term_aware.py"
    agent.write_text(TERM_AWARE)
    server = Server(tmp_path / "data", agent_command=f"{sys.executable} {agent}").start()
    try:
        run = server.post("/runs", {"github_url": REPO, "prompt": "suicide",
                                    "variations": 1}).json()
        events = read_events(server.base + run["stream_url"], timeout=30)
        assert [e.data["error"] for e in events if e.event == "error"] == [
            "the agent was killed by SIGKILL"]
    finally:
        server.stop()
