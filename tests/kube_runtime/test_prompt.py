"""User text reaches the agent's environment byte-identical through the whole service:
request → Job env (structurally rendered, ``$`` escaped) → API → kubelet → process."""
from __future__ import annotations

import sys

import pytest

from sse_client import read_events

from .conftest import ENV_AGENT, REPO, start_run

NASTY = (
    "Fix it's \"quoted\" 'single' `backticks` $(rm -rf /) $$ $$(RUN_ID) $(RUN_ID) ${HOME} $\n"
    "key: value\n- item\n---\n...\n{{ .Values.secret }} {% raw %} #comment &a *a !!python/x\n"
    "| > @ % \\ \\n \t tab ünïcödé ☃ 🚀 \u200b \u202e\n"
    "trailing newline\n"
)


@pytest.fixture
def kubelet_command() -> list[str]:
    return [sys.executable, str(ENV_AGENT)]


def test_a_prompt_full_of_metacharacters_arrives_byte_identical(kube_server):
    server = kube_server()
    run = start_run(server, NASTY, 2)
    events = read_events(server.base + run["stream_url"], timeout=30)
    reports = [e.data["content"] for e in events
               if e.event == "agent_output" and e.data["type"] == "env"]
    assert len(reports) == 2
    for report in reports:
        assert report["values"]["PROMPT"] == NASTY
        assert report["values"]["REPO_URL"] == REPO
        assert report["values"]["RUN_ID"] == run["run_id"]
        assert report["values"]["WORKSPACE"] == "/workspace"
        assert "ANTHROPIC_API_KEY" in report["names"]
    assert sorted(r["values"]["VARIATION_ID"] for r in reports) == ["0", "1"]
    detail = server.get(f"/runs/{run['run_id']}").json()
    assert detail["prompt"] == NASTY
