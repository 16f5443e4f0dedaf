"""Traces: off unless OTEL_* variables configure an exporter; on, a run's request, its
submission, each process created for it and each variation's time to first output are
spans with the right parents (an in-memory exporter, in this process)."""
from __future__ import annotations

import sys
import time
from typing import Any, Iterator

import gevent
import pytest
from helpers import FAKE_AGENT, REPO
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from aideator import create_app
from aideator.ops import tracing


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(spans))
    yield spans
    tracing.uninstall()


def run_to_its_end(client: Any, run_id: str, timeout: float = 30) -> None:
    """Collectors are greenlets of this process: let them run until the run has ended."""
    deadline = time.monotonic() + timeout
    while client.get(f"/api/v1/runs/{run_id}").get_json()["status"] not in (
            "completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, "the run did not end"
        gevent.sleep(0.05)


def test_a_run_is_traced_from_its_request_to_each_variation_first_output(exporter, tmp_path):
    app = create_app({"data_dir": str(tmp_path / "data"),
                      "agent_command": (sys.executable, str(FAKE_AGENT))})
    client = app.test_client()
    response = client.post("/api/v1/runs", json={"github_url": REPO,
                                                 "prompt": "lines=3 start_delay=0.2",
                                                 "variations": 2})
    assert response.status_code == 202
    run_id = response.get_json()["run_id"]
    run_to_its_end(client, run_id)

    spans = exporter.get_finished_spans()
    request = next(s for s in spans if s.name == "POST /api/v1/runs")
    assert request.kind == SpanKind.SERVER and request.parent is None
    assert request.attributes["http.route"] == "/api/v1/runs"
    submit = next(s for s in spans if s.name == "run.submit")
    assert submit.parent.span_id == request.context.span_id
    assert submit.attributes["aideator.run_id"] == run_id
    assert submit.attributes["aideator.variations"] == 2

    creates = [s for s in spans if s.name == "local.process.create"]
    firsts = [s for s in spans if s.name == "variation.first_output"]
    assert sorted(s.attributes["aideator.variation"] for s in creates) == [0, 1]
    assert sorted(s.attributes["aideator.variation"] for s in firsts) == [0, 1]
    for span in creates + firsts:
        assert span.parent.span_id == submit.context.span_id
        assert span.context.trace_id == request.context.trace_id
        assert span.attributes["aideator.run_id"] == run_id
    for first in firsts:
        create = next(c for c in creates
                      if c.attributes["aideator.variation"] == first.attributes[
                          "aideator.variation"])
        # From the submission (the run's creation) until the agent's first line, which
        # it printed after its start delay.
        assert submit.start_time <= first.start_time <= create.start_time
        assert first.end_time >= create.end_time
        assert first.end_time - first.start_time >= 0.2e9


def test_off_unless_the_environment_configures_an_exporter():
    assert not tracing.enabled()
    assert not tracing.configure({})
    assert not tracing.configure({"OTEL_SERVICE_NAME": "aideator"})
    assert not tracing.configure({"OTEL_TRACES_EXPORTER": "none",
                                  "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert not tracing.configure({"OTEL_SDK_DISABLED": "true",
                                  "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert not tracing.enabled()
    with tracing.span("nothing") as span:   # costs nothing when off
        assert span is None
    try:
        assert tracing.configure({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":
                                  "http://127.0.0.1:9/v1/traces"})
        assert tracing.enabled()
    finally:
        tracing.uninstall()


def test_requests_go_straight_to_flask_when_off(tmp_path):
    from flask import Flask
    app = create_app({"data_dir": str(tmp_path / "data")})
    assert not tracing.enabled()
    # Only the request ids' middleware, then Flask itself: no tracing in the way.
    assert getattr(app.wsgi_app._app, "__func__", None) is Flask.wsgi_app
    assert app.test_client().get("/api/v1/health").status_code == 200


def test_no_exported_span_holds_a_stream_link_token(exporter, tmp_path):
    """A browser's stream link carries its token in the query string, which the request's
    span would record (its target and URL): every span reaches the exporter without it."""
    app = create_app({"data_dir": str(tmp_path / "data"), "auth": "required",
                      "admin_token": "aid_" + "a" * 40,
                      "agent_command": (sys.executable, str(FAKE_AGENT))})
    client = app.test_client()
    bearer = {"Authorization": "Bearer aid_" + "a" * 40}
    response = client.post("/api/v1/runs", headers=bearer,
                           json={"github_url": REPO, "prompt": "lines=2", "variations": 1})
    assert response.status_code == 202
    run_id, stream_url = response.get_json()["run_id"], response.get_json()["stream_url"]
    token = stream_url.split("token=", 1)[1]
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/runs/{run_id}", headers=bearer).get_json()["status"] not in (
            "completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, "the run did not end"
        gevent.sleep(0.05)
    streamed = client.get(stream_url)     # the run has ended: the stream ends too
    assert streamed.status_code == 200 and b"run_finished" in streamed.data
    # A token that fails (another run's, or mangled) is not recorded either.
    assert client.get(f"/api/v1/runs/{run_id}/stream?token={token[:-4]}abcd"
                      ).status_code == 401

    spans = exporter.get_finished_spans()
    streams = [s for s in spans if s.attributes.get("http.route") ==
               "/api/v1/runs/<run_id>/stream"]
    assert streams
    # The span still says which request it was, without the secret.
    assert any("token=[redacted]" in str(v) for s in streams for v in s.attributes.values())
    for span in spans:
        recorded = repr((span.name, dict(span.attributes),
                         [(e.name, dict(e.attributes)) for e in span.events],
                         span.status.description))
        assert token not in recorded and token[:20] not in recorded, span.name
