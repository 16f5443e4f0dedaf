"""What the Kubernetes runtime tells a platform team: each way a variation can fail counted
by its reason, every API request by verb, resource and status, and the spans of a run
exported over OTLP to a collector."""
from __future__ import annotations

from collections import Counter

from helpers import wait_for
from otlp_collector import OTLPCollector
from prom import scrape
from sse_client import read_events

from .conftest import by_variation, run_failing_four_ways, start_run


def test_failure_reasons_and_api_requests_are_counted(kube_server, fake):
    server = kube_server(job_deadline_seconds="2")
    run, events = run_failing_four_ways(server, fake)
    assert sorted(by_variation(events, "error")) == [0, 1, 3, 4]
    # A Job the API refuses to create, every time.
    fake.fail_next("create", "jobs", times=10, code=500, name="agent-*-0")
    refused = start_run(server, "lines=3", 1)
    assert read_events(server.base + refused["stream_url"], timeout=30)[-1].data[
        "status"] == "failed"

    m = scrape(server.metrics_base)
    reasons = {s.labels["reason"]: s.value for s in m.samples
               if s.name == "aideator_variations_finished_total"
               and s.labels["outcome"] == "failed"}
    assert reasons == {"image_pull": 1, "oom": 1, "deadline": 1, "unschedulable": 1,
                       "create_failed": 1}
    assert m.value("aideator_variations_finished_total", outcome="succeeded",
                   reason="none") == 1
    assert m.value("aideator_runs_finished_total", status="completed") == 1
    assert m.value("aideator_runs_finished_total", status="failed") == 1
    assert m.value("aideator_first_output_seconds_count", runtime="kubernetes") >= 2

    # Every answered request the fake API saw, counted once under the same verb, resource
    # and status (watches and log streams when they began).
    def seen_and_counted() -> tuple[Counter, Counter, object]:
        seen = Counter((r.verb, r.resource, str(r.code)) for r in fake.requests
                       if r.code is not None)
        m = scrape(server.metrics_base)
        counted = Counter({(s.labels["verb"], s.labels["resource"], s.labels["code"]):
                           s.value for s in m.samples
                           if s.name == "aideator_kube_requests_total"})
        return seen, counted, m

    def settled() -> bool:
        seen, counted, _ = seen_and_counted()
        return seen == counted

    wait_for(settled, timeout=10)
    seen, counted, m = seen_and_counted()
    assert counted == seen
    assert counted[("create", "jobs", "201")] == 5
    assert counted[("create", "jobs", "500")] == 3   # three attempts
    assert counted[("get", "pods/log", "200")] >= 2
    calls: Counter = Counter()
    for (verb, resource, _), n in counted.items():
        calls[(verb, resource)] += n
    for (verb, resource), n in calls.items():
        assert m.value("aideator_kube_request_seconds_count", verb=verb,
                       resource=resource) == n


def test_spans_of_a_run_reach_an_otlp_collector_with_their_parents(kube_server, fake,
                                                                   monkeypatch):
    collector = OTLPCollector().start()
    try:
        # Only the standard variables (the server's environment is the test's).
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        server = kube_server()
        run = start_run(server, "lines=5", 2)
        assert read_events(server.base + run["stream_url"], timeout=30)[-1].data[
            "status"] == "completed"
        scrape(server.metrics_base)
        wait_for(lambda: len(collector.named("variation.first_output")) == 2, timeout=15)
        request = collector.named("POST /api/v1/runs")[0]
        submit = collector.named("run.submit")[0]
        assert request.parent_span_id == b"" and submit.parent_span_id == request.span_id
        assert submit.attributes["aideator.run_id"] == run["run_id"]
        creates = collector.named("kubernetes.job.create")
        assert sorted(s.attributes["k8s.job.name"] for s in creates) == \
            sorted(run["job_names"])
        for span in creates + collector.named("variation.first_output"):
            assert span.parent_span_id == submit.span_id
            assert span.trace_id == request.trace_id
        assert request.resource["service.name"] == "aideator"
        assert set(collector.paths) == {"/v1/traces"}
        # Probes and scrapes are left out.
        assert not collector.named("GET /api/v1/health")
        assert not collector.named("GET /metrics")
    finally:
        collector.stop()
