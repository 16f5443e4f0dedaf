"""User text reaches the agent's environment byte-identical through the whole service:
request → the Job's Secret (never the Job spec) → API → kubelet → process."""
from __future__ import annotations

import base64
import json
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


def test_a_prompt_full_of_metacharacters_arrives_byte_identical(kube_server, fake):
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

    # Issue 20: neither the prompt nor the variation's credential is in a Job spec (what
    # `get jobs` shows and etcd keeps); they are in each Job's own Secret, owned by it.
    for name in run["job_names"]:
        job = fake.get("jobs", "default", name)
        secret = fake.get("secrets", "default", name)
        token = base64.b64decode(secret["data"]["ANTHROPIC_API_KEY"]).decode()
        assert token.startswith("aidg_")
        assert base64.b64decode(secret["data"]["PROMPT"]).decode() == NASTY
        spec = json.dumps(job)
        assert token not in spec and "rm -rf" not in spec and "Authorization" not in spec
        assert secret["metadata"]["ownerReferences"] == [{
            "apiVersion": "batch/v1", "kind": "Job", "name": name,
            "uid": job["metadata"]["uid"]}]
    # Deleting the run (issue 20) deletes its Jobs, and their Secrets go with them.
    assert server.delete(f"/runs/{run['run_id']}").status_code == 204
    assert server.get(f"/runs/{run['run_id']}").status_code == 404
    fake.wait_for(lambda: not any(fake.get(kind, "default", name)
                                  for kind in ("jobs", "secrets")
                                  for name in run["job_names"]), timeout=10)


def test_each_jobs_secret_holds_its_own_prompt_and_only_its_engines_credential(
        kube_server, fake, monkeypatch):
    # Issue 18: a variation's own prompt and a Codex or Gemini engine's gateway credential
    # travel like the run's prompt and Claude's: in the Job's Secret, never its spec.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-REAL-kube")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-REAL-kube")
    server = kube_server()
    run = start_run(server, "the run's prompt", 3, variation_configs=[
        {}, {"engine": "codex", "prompt": NASTY}, {"engine": "gemini"}])
    events = read_events(server.base + run["stream_url"], timeout=30)
    reports = {e.data["variation_id"]: e.data["content"] for e in events
               if e.event == "agent_output" and e.data["type"] == "env"}
    assert [reports[i]["values"]["PROMPT"] for i in range(3)] == [
        "the run's prompt", NASTY, "the run's prompt"]
    assert [reports[i]["values"]["ENGINE"] for i in range(3)] == ["claude-code", "codex",
                                                                  "gemini"]
    credential = {0: "ANTHROPIC_API_KEY", 1: "OPENAI_API_KEY", 2: "GEMINI_API_KEY"}
    for index, name in enumerate(run["job_names"]):
        job = fake.get("jobs", "default", name)
        secret = fake.get("secrets", "default", name)
        keys = {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"} & set(secret["data"])
        assert keys == {credential[index]}
        token = base64.b64decode(secret["data"][credential[index]]).decode()
        assert token.startswith("aidg_") and token not in json.dumps(job)
        assert "rm -rf" not in json.dumps(job)
        names = set(reports[index]["names"])
        assert not (keys ^ {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"}) & names
    text = "".join(e.raw.decode() for e in events)
    assert "sk-openai-REAL-kube" not in text and "gemini-REAL-kube" not in text
