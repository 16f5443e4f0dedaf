"""The gateway's OpenAI Responses API, and the Codex engine through the real service.

A real gunicorn server whose gateway's upstream (``AIDEATOR_OPENAI_URL``) is the fake
Responses API (tests/fake_openai.py) holding the service's real ``OPENAI_API_KEY``.
First as an agent and an attacker see the route (the stand-in agent, unsandboxed, so its
credential can be used from here); then the real agent running the real Codex CLI in the
sandbox, reaching the model only through the gateway.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from helpers import Server, wait_for
from sse_client import read_events
from tests.fake_github import FakeGitHub
from tests.fake_openai import FakeOpenAI, message, patch, reasoning, reply, shell

ADMIN = "aid_admin-for-the-openai-gateway-tests-0123456789"
REAL_KEY = "sk-proj-REAL-openai-upstream-key-91"
CODEX = Path(__file__).resolve().parents[1] / "agent" / "node_modules" / ".bin" / "codex"
# $10,000 per million uncached input tokens, $1,000 per million cached and output ones:
# one scripted call (120 input of which 20 cached, 30 output) costs $1.00 + $0.02 + $0.03.
# A model of the Codex CLI's catalog (an unknown one gets its fallback tools, without
# apply_patch), priced here for the test.
MODEL = "gpt-5.5"
PRICES = f"{MODEL}: {{input: 10000, output: 1000, cache_write: 0, cache_read: 1000}}\n"
CALL_COST = 1.05
EDIT = ("*** Begin Patch\n*** Update File: greet.txt\n@@\n-hello world\n+hello, codex\n"
        "*** End Patch\n")
SCRIPTS = {
    "quick": [reply(message("ok"))],
    "codex": [reply(reasoning("greet.txt needs warmth"), message("Editing."), patch(EDIT)),
              reply(shell("cat greet.txt")),
              reply(message("Warmer now."))],
}


@pytest.fixture(scope="module")
def openai_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway-openai")
    github = FakeGitHub(tmp / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    github_url = github.start()
    model = FakeOpenAI(SCRIPTS)
    model_url = model.start()
    prices = tmp / "prices.yaml"
    prices.write_text(PRICES)
    server = Server(tmp / "data", auth="required", admin_token=ADMIN,
                    github_url=github_url, prices_file=str(prices), sandbox="off")
    server.env.update({"OPENAI_API_KEY": REAL_KEY, "AIDEATOR_OPENAI_URL": f"{model_url}/v1"})
    server.start()
    yield server, model
    server.stop()
    model.stop()
    github.stop()


def api(server: Server, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, server.url(path), json=body, timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN}"})


def hanging_run(server: Server, **config: Any) -> tuple[str, str]:
    """A run of the stand-in agent (it hangs, so its credential stays valid)."""
    resp = api(server, "POST", "/runs", {
        "github_url": "https://github.com/acme/widgets", "prompt": "lines=1 hang=1",
        "variation_configs": [{"model": MODEL, **config}]})
    assert resp.status_code == 202, resp.text
    run_id = resp.json()["run_id"]

    def token() -> str | None:
        for proc in psutil.process_iter():
            try:
                env = proc.environ()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if env.get("RUN_ID") == run_id and env.get("VARIATION_ID") == "0":
                return env["ANTHROPIC_API_KEY"]    # the variation's aidg_ credential
        return None
    return run_id, wait_for(token, timeout=20)


def respond(server: Server, token: str, script: str = "quick", **body: Any):
    return requests.post(f"{server.base}/gateway/openai/v1/responses", timeout=20,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"model": MODEL, "stream": True,
                               "input": [{"type": "message", "role": "user", "content": [
                                   {"type": "input_text", "text": f"[[fake:{script}]]"}]}],
                               **body})


def usage_of(server: Server, run_id: str) -> dict[str, Any]:
    return api(server, "GET", f"/runs/{run_id}").json()["variations"][0]["usage"]


def test_a_responses_stream_passes_with_the_real_key_and_is_metered(openai_world):
    server, model = openai_world
    run_id, token = hanging_run(server)
    seen = len(model.requests)
    resp = respond(server, token)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert "event: response.completed" in resp.text
    upstream = model.requests[seen]
    assert upstream.path == "/v1/responses"
    assert upstream.headers["authorization"] == f"Bearer {REAL_KEY}"
    assert token not in json.dumps(upstream.headers)

    usage = wait_for(lambda: (u := usage_of(server, run_id))["calls"] == 1 and u)
    assert usage["input_tokens"] == 100 and usage["output_tokens"] == 30
    assert usage["cache_read_input_tokens"] == 20
    assert usage["cost_usd"] == pytest.approx(CALL_COST)
    models = requests.get(f"{server.base}/gateway/openai/v1/models", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    assert models.status_code == 200 and models.json()["data"]
    api(server, "POST", f"/runs/{run_id}/cancel")


def test_the_openai_route_refuses_strangers_other_paths_and_a_spent_budget(openai_world):
    server, model = openai_world
    run_id, token = hanging_run(server, max_budget_usd=1.0)
    seen = len(model.requests)
    for credential in ("", REAL_KEY, "aidg_forged"):
        refused = respond(server, credential)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
    other = requests.post(f"{server.base}/gateway/openai/v1/files", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}, json={})
    assert other.status_code == 404
    assert len(model.requests) == seen                     # none of those left

    assert respond(server, token).status_code == 200        # $1.05 of $1.00: spent
    wait_for(lambda: usage_of(server, run_id)["calls"] == 1)
    refused = respond(server, token)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("aideator gateway: budget exhausted")
    assert len(model.requests) == seen + 1
    assert usage_of(server, run_id)["refused_calls"] == 1
    api(server, "POST", f"/runs/{run_id}/cancel")


@pytest.fixture(scope="module")
def codex_server(tmp_path_factory):
    """The real agent (``python -m agent``) in the sandbox, the fake model upstream."""
    tmp = tmp_path_factory.mktemp("codex-service")
    github = FakeGitHub(tmp / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    model = FakeOpenAI(SCRIPTS)
    model_url = model.start()
    prices = tmp / "prices.yaml"
    prices.write_text(PRICES)
    server = Server(tmp / "data", github_url=github.start(), prices_file=str(prices))
    del server.env["AIDEATOR_AGENT_COMMAND"]          # the real default: python -m agent
    server.env.update({"OPENAI_API_KEY": REAL_KEY, "AIDEATOR_OPENAI_URL": f"{model_url}/v1",
                       "ANTHROPIC_API_KEY": "sk-ant-unused-in-this-test-0000"})
    server.start()
    yield server, model
    server.stop()
    model.stop()
    github.stop()


def test_codex_through_the_service_streams_the_protocol_and_is_metered(codex_server):
    assert CODEX.exists(), "the Codex CLI is not installed: sh scripts/install-engines.sh"
    server, model = codex_server
    resp = server.post("/runs", {
        "github_url": "https://github.com/acme/widgets", "prompt": "[[fake:codex]] Warmer",
        "variation_configs": [{"engine": "codex", "model": MODEL}]})
    assert resp.status_code == 202, resp.text
    run = resp.json()
    run_id = run["run_id"]
    events = read_events(server.base + run["stream_url"], timeout=120)
    assert events[-1].data == {"run_id": run_id, "status": "completed"}, events[-1].data
    lines = [e.data["content"] for e in events
             if e.event == "agent_output" and e.data["type"] != "log"]
    types = [line["type"] for line in lines]
    assert lines[0]["engine"]["name"] == "codex"
    order = [types.index(t) for t in ("thinking", "text", "tool_use", "tool_result",
                                      "result", "diff")]
    assert order == sorted(order), types
    assert [line["name"] for line in lines if line["type"] == "tool_use"] == [
        "apply_patch", "shell"]
    shell_result = [line for line in lines if line["type"] == "tool_result"][-1]
    assert shell_result["content"] == "hello, codex\n"
    diff = server.get(f"/runs/{run_id}/variations/0/diff").json()
    assert diff["files"] == ["greet.txt"] and "+hello, codex" in diff["patch"]

    calls = model.response_requests("codex")
    assert len(calls) == 3
    assert all(c.headers["authorization"] == f"Bearer {REAL_KEY}" for c in calls)
    usage = wait_for(lambda: (u := server.get(f"/runs/{run_id}").json()["variations"][0]
                              ["usage"])["calls"] == 3 and u)
    assert usage["input_tokens"] == 300 and usage["output_tokens"] == 90
    assert usage["cost_usd"] == pytest.approx(3 * CALL_COST)
    # The agent never saw the real key: not in its stream, its files or the service's.
    assert REAL_KEY not in "".join(e.raw.decode() for e in events)
    for file in server.data_dir.rglob("*"):
        if file.is_file():
            assert REAL_KEY.encode() not in file.read_bytes(), file
