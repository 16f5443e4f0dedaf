"""The model gateway as an agent and an attacker see it: a real gunicorn server with auth
required, the fake Anthropic API as the upstream model and a fake github.com running
``git http-backend``. Agents are the stand-in agent (hanging, so their credentials stay
valid); their credentials are read from their own process environment."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from itsdangerous import URLSafeSerializer

from helpers import Server, wait_for
from sse_client import read_events
from tests.agent.fake_anthropic import FakeAnthropic, reply, text
from tests.fake_github import FakeGitHub

ADMIN = "aid_admin-for-the-gateway-tests-0123456789"
SECRET_KEY = "gateway-tests-signing-key-0123456789"
REAL_KEY = "sk-ant-REAL-upstream-key-77"
# Priced so that one call (12 input tokens, a few output tokens) costs a known amount.
PRICES = "claude-fake-priced: {input: 10000, output: 1000, cache_write: 0, cache_read: 0}\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    github = FakeGitHub(tmp / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    github.repo("acme", "secret-stuff", {"keys.txt": "not yours\n"})
    github_url = github.start()
    model = FakeAnthropic({"slow": [reply(text("one two three four five six"), delay=0.25)],
                           "quick": [reply(text("ok"))]}, side_calls_scripted=True)
    model_url = model.start()
    prices = tmp / "prices.yaml"
    prices.write_text(PRICES)
    # Unsandboxed: agents reach the gateway at the server's own address, as on Kubernetes,
    # so these tests can use their credentials from outside (tests/test_sandbox.py and
    # tests/test_agent_service.py go through the sandbox's bridge).
    server = Server(tmp / "data", auth="required", admin_token=ADMIN, secret_key=SECRET_KEY,
                    github_url=github_url, prices_file=str(prices), sandbox="off")
    server.env.update({"ANTHROPIC_API_KEY": REAL_KEY, "ANTHROPIC_BASE_URL": model_url})
    server.start()
    yield server, model, github
    server.stop()
    model.stop()
    github.stop()


def api(server: Server, method: str, path: str, body: Any = None,
        token: str = ADMIN) -> requests.Response:
    return requests.request(method, server.url(path), json=body, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})


def start_run(server: Server, repo: str = "acme/widgets", **config: Any) -> str:
    resp = api(server, "POST", "/runs", {
        "github_url": f"https://github.com/{repo}", "prompt": "lines=1 hang=1",
        "variation_configs": [{"model": "claude-fake-priced", **config}]})
    assert resp.status_code == 202, resp.text
    return resp.json()["run_id"]


def agent_env(run_id: str, index: int = 0) -> dict[str, str]:
    """The environment the variation's agent process runs with."""
    def find() -> dict[str, str] | None:
        for proc in psutil.process_iter():
            try:
                env = proc.environ()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if env.get("RUN_ID") == run_id and env.get("VARIATION_ID") == str(index):
                return env
        return None
    return wait_for(find, timeout=20)


def call_model(server: Server, token: str, *, script: str = "quick", sse: bool = True,
               header: str = "x-api-key", **kwargs: Any) -> requests.Response:
    value = token if header == "x-api-key" else f"Bearer {token}"
    return requests.post(
        f"{server.base}/gateway/anthropic/v1/messages?beta=true", timeout=20,
        headers={header: value, "anthropic-version": "2023-06-01",
                 "content-type": "application/json"},
        json={"model": "claude-fake-priced", "max_tokens": 100, "stream": sse,
              "messages": [{"role": "user", "content": f"hi [[fake:{script}]]"}]},
        **kwargs)


def usage_of(server: Server, run_id: str) -> dict[str, Any]:
    return api(server, "GET", f"/runs/{run_id}").json()["variations"][0]["usage"]


def git(*args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
            "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", *args], env={**base, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def git_config(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("GIT_CONFIG_")}


def test_agents_get_the_gateway_and_their_own_credential_never_the_key(world):
    server, _, _ = world
    run_id = start_run(server)
    env = agent_env(run_id)
    assert env["ANTHROPIC_BASE_URL"] == f"{server.base}/gateway/anthropic"
    assert env["ANTHROPIC_API_KEY"] and env["ANTHROPIC_API_KEY"] != REAL_KEY
    assert not any(REAL_KEY in value for value in env.values())
    assert env["GIT_CONFIG_VALUE_0"] == "https://github.com/"
    api(server, "POST", f"/runs/{run_id}/cancel")


def test_a_streamed_model_call_passes_chunk_by_chunk_with_the_real_key_and_is_metered(world):
    server, model, _ = world
    run_id = start_run(server)
    token = agent_env(run_id)["ANTHROPIC_API_KEY"]
    started = time.monotonic()
    with call_model(server, token, script="slow", stream=True) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        arrivals, body = [], b""
        for chunk in resp.raw.stream(1024, decode_content=False):
            arrivals.append(time.monotonic() - started)
            body += chunk
    # 10 events 0.25 s apart: the first reached the client long before the last left.
    assert len(arrivals) >= 5
    assert arrivals[0] < 0.5 * arrivals[-1], arrivals
    assert b"event: message_stop" in body
    upstream = [r for r in model.requests if r.script == "slow"][-1]
    assert upstream.headers["x-api-key"] == REAL_KEY
    assert token not in json.dumps(upstream.headers)
    assert upstream.path == "/v1/messages?beta=true"

    # 12 input tokens at $10,000/M and the reply's output tokens at $1,000/M.
    usage = wait_for(lambda: (u := usage_of(server, run_id))["calls"] == 1 and u)
    output = usage["output_tokens"]
    assert usage["input_tokens"] == 12 and output > 1
    assert usage["cost_usd"] == pytest.approx(0.12 + output * 0.001)
    assert usage["unpriced_calls"] == 0 and usage["refused_calls"] == 0

    # A whole (non-streamed) response is metered as well: 12 in, 10 out.
    resp = call_model(server, token, sse=False, header="authorization")
    assert resp.status_code == 200 and resp.json()["usage"]["output_tokens"] == 10
    usage = wait_for(lambda: (u := usage_of(server, run_id))["calls"] == 2 and u)
    assert usage["input_tokens"] == 24 and usage["output_tokens"] == output + 10

    metrics = requests.get(f"{server.metrics_base}/metrics", timeout=10).text
    assert 'aideator_gateway_calls_total{outcome="ok",upstream="anthropic"}' in metrics
    assert 'aideator_gateway_tokens_total{kind="input",model="claude-fake-priced"}' in metrics
    assert 'aideator_gateway_cost_usd_total{model="claude-fake-priced"}' in metrics
    api(server, "POST", f"/runs/{run_id}/cancel")


def test_once_the_budget_is_spent_calls_are_refused_and_the_stream_tells(world):
    server, model, _ = world
    run_id = start_run(server, max_budget_usd=0.2)
    token = agent_env(run_id)["ANTHROPIC_API_KEY"]
    seen = len(model.requests)
    assert call_model(server, token).status_code == 200     # $0.12...
    assert call_model(server, token).status_code == 200     # ... $0.24: spent
    refused = call_model(server, token)
    assert refused.status_code == 400
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith("aideator gateway: budget exhausted: ")
    assert len(model.requests) == seen + 2                   # the third never left
    usage = usage_of(server, run_id)
    assert usage["calls"] == 2 and usage["refused_calls"] == 1
    assert usage["cost_usd"] >= 0.2 and usage["refused_at"] and usage["max_budget_usd"] == 0.2

    api(server, "POST", f"/runs/{run_id}/cancel")
    events = read_events(f"{server.base}/api/v1/runs/{run_id}/stream",
                         headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
    told = [e.data["usage"] for e in events if e.event == "status" and "usage" in e.data]
    assert told and told[-1]["refused_calls"] == 1 and told[-1]["calls"] == 2
    metrics = requests.get(f"{server.metrics_base}/metrics", timeout=10).text
    assert 'outcome="refused_budget"' in metrics


def test_the_gateway_refuses_every_credential_but_a_live_variations_own(world):
    server, model, _ = world
    run_id = start_run(server)
    token = agent_env(run_id)["ANTHROPIC_API_KEY"]
    seen = len(model.requests)
    def signed(key: str, payload: list) -> str:
        return "aidg_" + URLSafeSerializer(key, salt="aideator.gateway").dumps(payload)
    expired = signed(SECRET_KEY, [run_id, 0, int(time.time()) - 1])
    other_key = signed("not-the-service-key", [run_id, 0, int(time.time()) + 3600])
    no_variation = signed(SECRET_KEY, [run_id, 7, int(time.time()) + 3600])
    unprefixed = token.removeprefix("aidg_")
    for bad in ("", "sk-ant-guess", token[:-2] + "xx", expired, other_key, no_variation,
                unprefixed, ADMIN):
        resp = call_model(server, bad)
        assert resp.status_code == 401, bad
        assert resp.json()["error"]["type"] == "authentication_error"
    assert len(model.requests) == seen

    # The variation ends: its credential is worth nothing from then on.
    assert call_model(server, token).status_code == 200
    api(server, "POST", f"/runs/{run_id}/cancel")
    wait_for(lambda: api(server, "GET", f"/runs/{run_id}").json()["status"] == "cancelled")
    resp = call_model(server, token)
    assert resp.status_code == 401 and "ended" in resp.json()["error"]["message"]


def test_a_gateway_credential_opens_nothing_else(world):
    server, model, _ = world
    run_id = start_run(server)
    token = agent_env(run_id)["ANTHROPIC_API_KEY"]
    for path in ("/runs", f"/runs/{run_id}", f"/runs/{run_id}/stream"):
        resp = api(server, "GET", path, token=token)
        assert resp.status_code == 401 and resp.json()["error"] == "unauthorized", path
    seen = len(model.requests)
    headers = {"x-api-key": token}
    for method, path in (("GET", "/gateway/anthropic/v1/models"),
                         ("POST", "/gateway/anthropic/v1/complete"),
                         ("GET", "/gateway/anthropic/v1/messages"),
                         ("POST", "/gateway/anthropic/v1/files"),
                         ("GET", "/gateway/api/v1/runs")):
        resp = requests.request(method, server.base + path, headers=headers, timeout=10)
        assert resp.status_code == 404, path
    assert len(model.requests) == seen
    api(server, "POST", f"/runs/{run_id}/cancel")


def test_git_clones_the_runs_repository_through_the_gateway_and_nothing_else(world, tmp_path):
    server, _, github = world
    run_id = start_run(server)
    env = git_config(agent_env(run_id))
    before = len(github.requests)
    done = git("clone", "-q", "https://github.com/acme/widgets", str(tmp_path / "w"), env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "w" / "greet.txt").read_text() == "hello world\n"
    assert any(path == "/acme/widgets/git-upload-pack" for _, path in github.requests[before:])

    # Another repository, with or without .git, in other case: refused by the gateway.
    for url in ("https://github.com/acme/secret-stuff", "https://github.com/acme/secret-stuff.git",
                "https://github.com/ACME/Secret-Stuff"):
        done = git("clone", "-q", url, str(tmp_path / "s"), env=env)
        assert done.returncode != 0 and "only the run's own repository" in done.stderr
    # Without the credential (or with a forged one): refused too.
    done = git("clone", "-q", "https://github.com/acme/widgets", str(tmp_path / "n"),
               env={**env, "GIT_CONFIG_COUNT": "1"})
    assert done.returncode != 0 and not (tmp_path / "n").exists()

    # A push: refused, however it is asked for.
    clone = tmp_path / "w"
    (clone / "greet.txt").write_text("pushed\n")
    git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qam", "push", env=env,
        cwd=clone)
    done = git("push", "-q", "origin", "HEAD:main", env=env, cwd=clone)
    assert done.returncode != 0
    token = env["GIT_CONFIG_VALUE_1"].split()[-1]
    resp = requests.get(f"{server.base}/gateway/git/acme/widgets/info/refs",
                        params={"service": "git-receive-pack"}, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and "read-only" in resp.text
    assert not any("secret-stuff" in path or "receive-pack" in path
                   for _, path in github.requests[before:])
    api(server, "POST", f"/runs/{run_id}/cancel")
