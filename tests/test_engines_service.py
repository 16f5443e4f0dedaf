"""Engines and prompts per variation through the service (local runtime, the agent replaced
by one that reports its environment): each variation gets its engine, its model, only its
engine's gateway variables and its own prompt; an engine whose vendor key the service
lacks fails at once, and its siblings run on."""
from __future__ import annotations

import os
import sys

from helpers import ROOT, Server, start_run
from sse_client import read_events

OPENAI_KEY = "sk-openai-REAL-0123456789"
RUN_PROMPT = "Fix the bug in helpers.py"
OWN_PROMPT = "Rewrite helpers.py from scratch; it's \"quoted\" $(id)\nsecond line"


def test_engines_and_prompts_reach_only_their_variation_and_a_missing_key_fails_fast(
        tmp_path):
    server = Server(tmp_path / "data",
                    agent_command=f"{sys.executable} {ROOT / 'tests/fixtures/env_agent.py'}")
    server.env.pop("GEMINI_API_KEY", None)
    server.env.update({"OPENAI_API_KEY": OPENAI_KEY})
    server.start()
    try:
        run = start_run(server, RUN_PROMPT, 3, agent_config={"max_turns": 7},
                        variation_configs=[{}, {"engine": "codex", "prompt": OWN_PROMPT},
                                           {"engine": "gemini"}])
        events = read_events(server.base + run["stream_url"])
        reports = {e.data["variation_id"]: e.data["content"]["values"] for e in events
                   if e.event == "agent_output" and e.data["type"] == "env"}
        # The gemini variation never started: no process, so no report.
        assert set(reports) == {0, 1}
        claude, codex = reports[0], reports[1]
        assert (claude["ENGINE"], claude["MODEL"], claude["PROMPT"]) == \
            ("claude-code", "claude-sonnet-4-5", RUN_PROMPT)
        assert claude["ANTHROPIC_BASE_URL"].endswith("/gateway/anthropic")
        assert claude["OPENAI_API_KEY"] is None and claude["GEMINI_API_KEY"] is None
        # The codex variation: its own prompt byte-identical, its engine's default model,
        # the OpenAI route of the gateway with a gateway credential, not the real key.
        assert (codex["ENGINE"], codex["MODEL"], codex["PROMPT"]) == \
            ("codex", "gpt-5.5", OWN_PROMPT)
        assert codex["OPENAI_BASE_URL"].endswith("/gateway/openai/v1")
        assert codex["OPENAI_API_KEY"].startswith("aidg_")
        assert codex["ANTHROPIC_API_KEY"] is None and codex["ANTHROPIC_BASE_URL"] is None
        assert OPENAI_KEY not in "".join(e.raw.decode() for e in events)

        errors = [e.data for e in events if e.event == "error"]
        assert [(e["variation_id"], e["error"]) for e in errors] == [
            (2, "no GEMINI_API_KEY configured for the gemini engine")]
        assert not os.path.exists(tmp_path / "data" / "runs" / run["run_id"] / "2")

        detail = server.get(f"/runs/{run['run_id']}").json()
        assert detail["prompt"] == RUN_PROMPT
        assert [(v["status"], v["prompt"], v["config"]["engine"]) for v in
                detail["variations"]] == [
            ("succeeded", RUN_PROMPT, "claude-code"), ("succeeded", OWN_PROMPT, "codex"),
            ("failed", RUN_PROMPT, "gemini")]
        assert detail["variations"][2]["error"] == \
            "no GEMINI_API_KEY configured for the gemini engine"
        board = server.get(f"/runs/{run['run_id']}/comparison").json()
        assert [(r["engine"], r["model"], r["prompt"], r["own_prompt"])
                for r in board["rows"]] == [
            ("claude-code", "claude-sonnet-4-5", RUN_PROMPT, False),
            ("codex", "gpt-5.5", OWN_PROMPT, True),
            ("gemini", "gemini-2.5-pro", RUN_PROMPT, False)]
        assert OPENAI_KEY not in server.get(f"/runs/{run['run_id']}").text
    finally:
        server.stop()


def test_engine_and_variation_prompt_are_validated_and_nothing_is_stored(client):
    base = {"github_url": "https://github.com/o/r", "prompt": "p"}
    for body, field in [
            ({"agent_config": {"engine": "cursor"}}, "agent_config.engine"),
            ({"variation_configs": [{}, {"engine": "Codex"}]}, "variation_configs.1.engine"),
            ({"variation_configs": [{"prompt": " \n\t"}]}, "variation_configs.0.prompt"),
            ({"variation_configs": [{"prompt": "x" * 32001}]}, "variation_configs.0.prompt"),
            ({"variation_configs": [{"prompt": "a\x00b"}]}, "variation_configs.0.prompt"),
            ({"agent_config": {"prompt": "not here"}}, "agent_config.prompt")]:
        response = client.post("/api/v1/runs", json={**base, **body})
        assert response.status_code == 422, body
        assert response.get_json()["field"] == field
    assert client.get("/api/v1/runs").get_json()["runs"] == []
