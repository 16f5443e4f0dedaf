"""The server's output: one JSON object per line (gunicorn's own lines and the access log
too) with the request id and the run's ids, text on a terminal, and never a secret."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import REPO, ROOT, Server
from sse_client import read_events

from aideator.ops import logs

SECRET = "sk-ant-test-LOGSECRET-4242-abcdef"
ADMIN = "aid_admin-LOGTOKEN-0123456789abcdef"
TOKEN = "aid_LOGTOKEN-0123456789abcdefghij"
# An agent that fails saying what it was given (a leak the logs must stop).
LEAKY_AGENT = """\
import json, os, sys
print(json.dumps({"v": 1, "type": "status", "phase": "starting"}), flush=True)
print(json.dumps({"v": 1, "type": "error", "code": "model_error",
                  "message": "Invalid API key " + os.environ["ANTHROPIC_API_KEY"]}), flush=True)
sys.exit(4)
"""


def lines_of(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n") or not text
    return [json.loads(line) for line in text.splitlines()]   # every line is JSON


def test_a_full_run_logs_json_lines_with_ids_and_no_secret(tmp_path):
    agent = tmp_path / "leaky_agent.py"
    agent.write_text(LEAKY_AGENT)
    # Unsandboxed (the opt-out), so the agent is given the key and can leak it; a
    # sandboxed one never holds it (tests/test_sandbox.py).
    server = Server(tmp_path / "data", agent_command=f"{sys.executable} {agent}",
                    log_level="debug", auth="required", admin_token=ADMIN, sandbox="off")
    server.env["ANTHROPIC_API_KEY"] = SECRET
    server.start()
    try:
        created = requests.post(server.url("/tokens"), json={"name": "alice"}, timeout=10,
                                headers={"Authorization": f"Bearer {ADMIN}"})
        assert created.status_code == 201
        alice = created.json()["token"]
        started = requests.post(server.url("/runs"), timeout=10,
                                json={"github_url": REPO, "prompt": "Fix it", "variations": 2},
                                headers={"X-Request-ID": "req-create-1",
                                         "Authorization": f"Bearer {alice}"})
        assert started.status_code == 202
        assert started.headers["X-Request-ID"] == "req-create-1"
        run = started.json()
        stream_token = run["stream_url"].split("?token=")[1]
        events = read_events(server.base + run["stream_url"])   # a signed stream link
        assert events[-1].data["status"] == "failed"
        refused = requests.get(server.url(f"/runs/{run['run_id']}?token=forged-LOGTOKEN-1"),
                               timeout=10)
        assert refused.status_code == 401
        # An id that is not short and plain is replaced by one of the server's own.
        for bad in ("two words", "x" * 129, "quote\"", "new\\nline"):
            answered = server.get("/health", headers={"X-Request-ID": bad})
            assert answered.headers["X-Request-ID"] not in ("", bad)
        generated = requests.get(server.url(f"/runs/{run['run_id']}"), timeout=10,
                                 headers={"Authorization": f"Bearer {alice}"}
                                 ).headers["X-Request-ID"]
    finally:
        server.stop()
    run_id = run["run_id"]
    output = server.log_path.read_text()
    for secret in (SECRET, ADMIN, alice, stream_token, "LOGSECRET", "LOGTOKEN"):
        assert secret not in output, secret

    lines = lines_of(server.log_path)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    create = next(line for line in access if line["request_id"] == "req-create-1")
    assert create["method"] == "POST" and create["path"] == "/api/v1/runs"
    assert create["status"] == 202 and create["run_id"] == run_id
    stream = next(line for line in access if line["path"].endswith("/stream"))
    assert stream["query"] == "token=[redacted]" and stream["run_id"] == run_id
    assert stream["status"] == 200 and stream["request_id"] != "req-create-1"
    assert any(line["status"] == 401 and line["query"] == "token=[redacted]"
               for line in access)
    assert any(line["request_id"] == generated and line["path"] == f"/api/v1/runs/{run_id}"
               for line in access)
    # The run's own lines carry the request that started it and the run's ids.
    submitted = next(line for line in lines if line["logger"] == "aideator.runs.orchestrator"
                     and "submitted" in line["message"])
    assert submitted["request_id"] == "req-create-1" and submitted["run_id"] == run_id
    ended = [line for line in lines if line["logger"] == "aideator.runs.collector"
             and " failed: " in line["message"]]
    assert sorted(line["variation"] for line in ended) == [0, 1]
    for line in ended:
        assert line["run_id"] == run_id and line["request_id"] == "req-create-1"
        assert line["job_name"] == f"agent-{run_id}-{line['variation']}"
        assert "Invalid API key [redacted]" in line["message"]
    # gunicorn's own messages, from the master and the worker, are JSON too.
    said = [line["message"] for line in lines if line["logger"] == "gunicorn.error"]
    assert any(m.startswith("Listening at: ") for m in said)
    assert any(m.startswith("Booting worker") for m in said)
    assert any(m == "Shutting down: Master" for m in said)
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id", "pid"} <= set(line)
    assert any(line["level"] == "debug" for line in lines)   # AIDEATOR_LOG_LEVEL=debug


def test_levels_come_from_the_configuration(tmp_path):
    server = Server(tmp_path / "data", log_level="warning")
    server.start()
    try:
        assert server.get("/health").status_code == 200
        assert server.get("/runs/run-0000000000").status_code == 404
    finally:
        server.stop()
    lines = lines_of(server.log_path)   # no access lines, no start and stop messages
    assert all(line["level"] in ("warning", "error", "critical") for line in lines), lines


def test_text_on_a_terminal_json_elsewhere(monkeypatch):
    assert logs.resolve_format("json") == "json" and logs.resolve_format("text") == "text"
    with open(os.devnull, "w") as devnull:
        monkeypatch.setattr(sys, "stdout", devnull)
        assert logs.resolve_format("") == "json"
    controller, terminal = os.openpty()
    try:
        with os.fdopen(terminal, "w", closefd=False) as tty:
            monkeypatch.setattr(sys, "stdout", tty)
            assert logs.resolve_format("") == "text"
    finally:
        os.close(controller)
        os.close(terminal)


def record(message: str, *args: object, name: str = "aideator.test",
           level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


def test_a_line_carries_the_ids_bound_in_its_context():
    import contextvars

    def in_a_run() -> str:
        logs.bind(run_id="run-abcdefghij", variation=2, job_name="agent-run-abcdefghij-2")
        return logs.JsonFormatter().format(record("variation %d ended", 2))

    line = json.loads(contextvars.copy_context().run(in_a_run))
    assert line["message"] == "variation 2 ended" and line["level"] == "info"
    assert (line["run_id"], line["variation"], line["job_name"]) == \
        ("run-abcdefghij", 2, "agent-run-abcdefghij-2")
    # Outside that context, nothing of it.
    assert "run_id" not in json.loads(logs.JsonFormatter().format(record("idle")))
    text = contextvars.copy_context().run(
        lambda: (logs.bind(run_id="run-abcdefghij"),
                 logs.TextFormatter().format(record("hello")))[1])
    assert "INFO" in text and "hello" in text and "run_id=run-abcdefghij" in text


def test_access_lines_hold_the_path_and_a_redacted_query_never_the_request_line():
    atoms = {"m": "GET", "U": "/api/v1/runs/run-abcdefghij/stream",
             "q": f"last_event_id=4&token={TOKEN}", "s": "200", "B": 512, "D": 12500,
             "h": "10.0.0.1", "a": "curl/8", "{x-request-id}o": "abc",
             "r": f"GET /api/v1/runs/run-abcdefghij/stream?token={TOKEN} HTTP/1.1"}
    access = record("%(r)s %(s)s", name="gunicorn.access")
    access.args = atoms
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        assert TOKEN not in formatter.format(access)
    line = json.loads(logs.JsonFormatter().format(access))
    assert line["path"] == "/api/v1/runs/run-abcdefghij/stream"
    assert line["query"] == "last_event_id=4&token=[redacted]"
    assert (line["status"], line["bytes"], line["duration_ms"]) == (200, 512, 12.5)
    assert line["request_id"] == "abc" and line["run_id"] == "run-abcdefghij"


@pytest.mark.parametrize("leak", [
    f"GET /api/v1/runs/run-x/stream?token={TOKEN}",
    f"stream_url=/api/v1/runs/run-x/stream?last_event_id=3&token={TOKEN}",
    f"Authorization: Bearer {TOKEN}",
    f"the key {SECRET} was refused",
    f"token {TOKEN} was revoked",
    f"postgresql://aideator:{TOKEN}@db:5432/aideator is down",
])
def test_secrets_are_redacted_from_messages_and_exceptions(leak):
    assert TOKEN not in logs.redact(leak) and SECRET not in logs.redact(leak)
    try:
        raise RuntimeError(leak)
    except RuntimeError:
        failing = logging.LogRecord("aideator.x", logging.ERROR, __file__, 1, "failed: %s",
                                    (leak,), sys.exc_info())
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        out = formatter.format(failing)
        assert TOKEN not in out and SECRET not in out and "[redacted]" in out


def test_the_values_of_this_process_secrets_are_redacted(monkeypatch):
    monkeypatch.setattr(logs, "_secrets", logs._secret_values(
        {"AIDEATOR_ADMIN_TOKEN": "opaque-admin-7f3a9c", "PATH": "/usr/bin:/bin",
         "SHORT_KEY": "abc"}))
    assert logs.redact("token opaque-admin-7f3a9c in a message") == \
        "token [redacted] in a message"
    assert logs.redact("/usr/bin:/bin abc") == "/usr/bin:/bin abc"


def test_request_ids_are_honoured_when_plain_and_returned(client):
    answered = client.get("/api/v1/health", headers={"X-Request-ID": "edge-7f3a:1"})
    assert answered.headers["X-Request-ID"] == "edge-7f3a:1"
    fresh = client.get("/api/v1/health").headers["X-Request-ID"]
    assert len(fresh) == 32 and fresh != client.get("/api/v1/health").headers["X-Request-ID"]
    for bad in ("a b", "x" * 129, "<script>"):
        replaced = client.get("/api/v1/openapi.json", headers={"X-Request-ID": bad})
        assert len(replaced.headers["X-Request-ID"]) == 32
    missing = client.get("/api/v1/runs/run-0000000000")
    assert missing.status_code == 404 and missing.headers["X-Request-ID"]


def test_gunicorn_master_imports_no_database_driver():
    # The master reads gunicorn.conf.py (and so aideator.ops.logs) before forking; psycopg
    # imported there would pick blocking waits for every worker.
    probe = ("import runpy, sys; runpy.run_path('gunicorn.conf.py'); "
             "print(sorted(m for m in ('psycopg', 'peewee', 'flask', 'aideator.store.models') "
             "if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
