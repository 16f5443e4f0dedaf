"""A runaway or hostile agent against the machine: each attack is stopped at its variation's
cap, the variation fails saying which, and the service and the other variations carry on
(real gunicorn server, real bubblewrap sandbox, real control groups where this machine
allows them; caps kept small so the test machine never feels it)."""
from __future__ import annotations

import glob
import hashlib
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from helpers import ROOT, Server, start_run
from sse_client import read_events

HOSTILE = f"{sys.executable} {ROOT / 'tests' / 'adversarial' / 'hostile_agent.py'}"
CAPS = {"sandbox_max_processes": "64", "sandbox_memory_mb": "128", "sandbox_disk_mb": "32",
        "sandbox_open_files": "256"}


@pytest.fixture
def hostile(tmp_path):
    servers: list[Server] = []

    def make(**settings: str) -> Server:
        server = Server(tmp_path / "data", agent_command=HOSTILE, **{**CAPS, **settings})
        servers.append(server)
        return server.start()
    yield make
    for server in servers:
        server.stop()


def health_limits(server: Server) -> dict:
    return server.get("/health").json()["sandbox_limits"]


def outcome(server: Server, run: dict, timeout: float = 60) -> tuple[list, dict[int, dict]]:
    events = read_events(server.base + run["stream_url"], timeout=timeout)
    # How each variation ended: job_completed, or an error event with its status.
    ends = {e.data["variation_id"]: e.data for e in events
            if e.event in ("job_completed", "error") and "variation_id" in e.data}
    return events, ends


def attack_lines(events: list, name: str) -> list[dict]:
    return [e.data["content"] for e in events if e.event == "agent_output"
            and e.data["type"] == "attack" and e.data["content"].get("name") == name]


def errors(events: list, variation: int = 0) -> list[str]:
    return [e.data["error"] for e in events
            if e.event == "error" and e.data.get("variation_id") == variation]


def enforced(server: Server, what: str) -> bool:
    return health_limits(server)[what]["enforced"]


def processes_of(directory: Path) -> list[psutil.Process]:
    """Host processes whose working directory or command line is in ``directory``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        if str(directory) in text:
            found.append(proc)
    return found


def test_health_says_which_caps_are_in_force(hostile):
    limits = health_limits(hostile())
    assert limits["processes"]["cap"] == 64
    assert limits["memory_bytes"]["cap"] == 128 << 20
    assert limits["disk_bytes"] == {"enforced": True, "cap": 32 << 20,
                                    "by": "service watch + RLIMIT_FSIZE"}
    assert limits["open_files"] == {"enforced": True, "cap": 256, "by": "RLIMIT_NOFILE"}
    for name in ("processes", "memory_bytes", "leftover_processes"):
        # What this machine gives is said, never assumed (CI: a root container with
        # writable control groups, where every one of them is in force).
        assert isinstance(limits[name]["enforced"], bool)
        if limits[name]["enforced"]:
            assert limits[name]["by"].startswith("cgroup")


def test_a_fork_bomb_stops_at_the_cap_and_the_variation_fails_saying_so(hostile):
    server = hostile()
    if not enforced(server, "processes"):
        pytest.skip("no pids control group can be made on this machine (see /health)")
    run = start_run(server, "fork", variations=2)
    started = time.monotonic()
    events, ends = outcome(server, run)
    lived = time.monotonic() - started
    assert ends[0]["status"] == ends[1]["status"] == "failed"
    for i in (0, 1):
        assert errors(events, i) == [
            "the agent reached its cap of 64 processes (a fork bomb?) and was stopped"]
    assert lived < 20, lived
    assert processes_of(server.data_dir / "runs" / run["run_id"]) == []
    # Its control groups are gone too, and the service's own parent group with them.
    tag = hashlib.sha256(os.path.abspath(server.data_dir).encode()).hexdigest()[:12]
    assert glob.glob(f"/sys/fs/cgroup/**/aideator-{tag}", recursive=True) == []
    # The service carries on: a new run is served.
    assert server.get("/health").json()["status"] == "healthy"


def test_a_memory_bomb_is_killed_at_its_cap_and_the_other_variation_carries_on(hostile):
    server = hostile()
    if not enforced(server, "memory_bytes"):
        pytest.skip("no memory control group can be made on this machine (see /health)")
    run = start_run(server, "memory", variations=1)
    events, ends = outcome(server, run)
    assert ends[0]["status"] == "failed"
    assert errors(events) == [
        "the agent ran out of its memory cap of 128 MiB and was stopped"]
    reached = max(line["mib"] for line in attack_lines(events, "memory"))
    assert reached <= 128
    assert server.get("/health").json()["status"] == "healthy"


def test_a_disk_fill_stops_near_the_cap_and_the_variation_fails_saying_so(hostile):
    server = hostile()
    run = start_run(server, "disk", variations=1)
    events, ends = outcome(server, run)
    assert ends[0]["status"] == "failed"
    assert errors(events) == ["the agent wrote more than its disk cap of 32 MiB and was stopped"]
    workspace = server.data_dir / "runs" / run["run_id"] / "0" / "workspace"
    written = sum(p.stat().st_size for p in workspace.iterdir())
    # Checked four times a second (less often while a walk of the directory is slow): what
    # is written past the cap is a check's worth, 20-30 MiB on a quiet machine and a few
    # hundred under heavy load, never the disk (unchecked, it wrote 3 GB in 10 s).
    assert written < 1 << 30, written


def test_open_files_stop_at_the_cap(hostile):
    server = hostile()
    run = start_run(server, "files", variations=1)
    events, ends = outcome(server, run)
    [report] = attack_lines(events, "files")
    assert report["error"] == "OSError" and report["opened"] < 256
    assert ends[0]["status"] == "completed"


def test_the_wall_time_kills_the_variation_and_everything_it_started(hostile):
    server = hostile(job_deadline_seconds="3")
    run = start_run(server, "daemon_wait", variations=1)
    events, ends = outcome(server, run, timeout=60)
    assert ends[0]["status"] == "failed"
    assert errors(events) == ["the agent ran longer than its wall time of 3 s and was stopped"]
    assert attack_lines(events, "daemon")        # it had started its daemon
    assert heartbeat_stops(server.data_dir / "runs" / run["run_id"] / "0" / "workspace")
    assert processes_of(server.data_dir / "runs" / run["run_id"]) == []


def heartbeat_stops(workspace: Path) -> bool:
    """Whether the daemon's heartbeat file stopped changing (it beats every 0.05 s)."""
    beat = workspace / "heartbeat"
    before = beat.read_text()
    time.sleep(0.5)
    return beat.read_text() == before


@pytest.mark.parametrize("sandbox", ["bubblewrap", "off"])
@pytest.mark.parametrize("end", ["finished", "cancelled", "deleted", "restarted"])
def test_a_double_forked_daemon_does_not_outlive_its_variation(hostile, end, sandbox):
    # Unsandboxed (the opt-out) no PID namespace ends with the agent: the control group
    # is what takes the daemon.
    server = hostile(sandbox=sandbox)
    run = start_run(server, "daemon" if end == "finished" else "daemon_wait", variations=1)
    run_dir = server.data_dir / "runs" / run["run_id"]
    beat = run_dir / "0" / "workspace" / "heartbeat"
    deadline = time.monotonic() + 30
    while not beat.exists() or not beat.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    if end == "restarted":
        # The service goes away and comes back; the variation is re-attached to, then
        # cancelled: what it started goes with it.
        server.kill()      # SIGKILL: the launchers run on, in sessions of their own
        server.start()
    if end in ("cancelled", "restarted"):
        server.post(f"/runs/{run['run_id']}/cancel", {})
    if end == "deleted":
        assert server.delete(f"/runs/{run['run_id']}").status_code in (202, 204)
    else:
        events, _ = outcome(server, run)
        assert events[-1].data["status"] == {"finished": "completed", "cancelled": "cancelled",
                                             "restarted": "cancelled"}[end]
        assert heartbeat_stops(run_dir / "0" / "workspace")
    deadline = time.monotonic() + 15
    while processes_of(run_dir):
        assert time.monotonic() < deadline, f"outlived their variation: {processes_of(run_dir)}"
        time.sleep(0.1)


def test_from_inside_the_sandbox_no_address_but_the_gateway_bridge_answers(hostile):
    """Loopback ports of the host (the service's own), the setup egress proxy's port
    outside a setup, the cloud metadata address and private ranges: the sandbox has only
    its own loopback, so nothing is reached (tests/test_sandbox.py reads /proc, the
    service's files and other workspaces from inside)."""
    server = hostile()
    targets = [f"127.0.0.1:{server.port}", f"[::1]:{server.port}", "127.0.0.1:7481",
               "169.254.169.254:80", "10.0.0.1:80", "172.16.0.1:80", "192.168.0.1:80",
               "[fd00::1]:80", "8.8.8.8:53"]
    run = start_run(server, "net " + " ".join(targets), variations=1)
    events, ends = outcome(server, run)
    [report] = attack_lines(events, "net")
    assert report["egress_socket"] is False
    assert set(report["results"]) == set(targets)
    assert "connected" not in report["results"].values(), report
    # Its own loopback answers nothing but the gateway's bridge (7480): the host's
    # ports are refused, other networks unreachable.
    assert report["results"]["127.0.0.1:7481"].startswith("ConnectionRefusedError")
    assert report["results"]["169.254.169.254:80"].startswith("OSError errno 101")


def test_a_process_left_by_the_setup_loses_the_egress_proxy_when_the_setup_ends(hostile):
    """The setup leaves a daemon that keeps asking the egress proxy for a way out: once
    the setup has ended it is gone, with the proxy's bridge, before any variation runs."""
    server = hostile()
    run = start_run(server, "linger", variations=1, setup="true")
    events, _ = outcome(server, run)
    assert events[-1].data["status"] == "completed"
    setup = server.data_dir / "runs" / run["run_id"] / "setup"
    tries = (setup / "workspace" / "egress-tries").read_text().splitlines()
    assert tries       # it did run, and reached the proxy while the setup ran
    assert heartbeat_stops_growing(setup / "workspace" / "egress-tries")
    assert not (setup / "bridge" / "egress.sock").exists()
    assert processes_of(setup) == []


def heartbeat_stops_growing(path: Path) -> bool:
    before = path.read_text()
    time.sleep(0.5)
    return path.read_text() == before
