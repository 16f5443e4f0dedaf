"""What the cluster sees does not depend on who watches, and /health asks the cluster."""
from __future__ import annotations

import threading
from collections import Counter

from sse_client import read_events

from .conftest import assert_every_line_once, start_run


def _requests_of_one_run(server, fake, clients: int) -> Counter:
    fake.clear_requests()
    run = start_run(server, "lines=40 delay=0.01", 3)
    results: list[list] = []

    def read() -> None:
        results.append(read_events(server.base + run["stream_url"], timeout=30))

    threads = [threading.Thread(target=read) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    assert len(results) == clients
    for events in results:
        assert events[-1].data["status"] == "completed"
        for i in range(3):
            assert_every_line_once(events, i, 40)
    # Wait for the run's pod watch to be closed before counting.
    fake.wait_for(lambda: fake.watches.open == 0, timeout=5)
    return Counter((r.verb, r.resource) for r in fake.requests)


def test_api_calls_per_run_do_not_grow_with_sse_clients(kube_server, fake):
    server = kube_server()
    one = _requests_of_one_run(server, fake, 1)
    fifty = _requests_of_one_run(server, fake, 50)
    # Watches are capped at 30 s by the fake, so none restarts mid-run: every count,
    # watches included, is comparable.
    assert one == fifty
    assert one[("create", "jobs")] == 3
    assert one[("list", "pods")] == 1 and one[("watch", "pods")] == 1
    assert 3 <= one[("get", "pods/log")] <= 6  # a follow per pod, plus a final read


def _health(server) -> tuple[int, dict]:
    # The response is dropped here: one kept alive holds its keep-alive connection open,
    # and a stopping gunicorn waits for that.
    response = server.get("/health")
    return response.status_code, response.json()


def test_health_reports_whether_the_cluster_answers(kube_server, fake):
    server = kube_server()
    code, body = _health(server)
    assert code == 200
    assert body["kubernetes"] is True and body["runtime"] == "kubernetes"
    fake.stop()
    code, body = _health(server)
    assert code == 503
    assert body["kubernetes"] is False and body["status"] == "unhealthy"
