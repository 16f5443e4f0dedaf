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
