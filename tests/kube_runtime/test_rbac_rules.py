"""Every Kubernetes API call the service makes is allowed by ``aideator.rbac``, and every
permission there is needed: one run that asks all the service ever asks of the API
(create, watch and follow, a log stream ended cleanly while its container runs, cancel)."""
from __future__ import annotations

from aideator.runtimes.kubernetes import rbac
from helpers import wait_for
from sse_client import read_events

from .conftest import start_run


def test_the_service_uses_exactly_its_rbac_rules(kube_server, fake):
    server = kube_server()
    run = start_run(server, "lines=3 hang=1", 2)
    run_id = run["run_id"]
    wait_for(lambda: all(j["phase"] == "running" for j in
                         server.get(f"/runs/{run_id}/status").json()["jobs"]), timeout=15)
    # A clean end of a log whose container still runs: the service asks the pod itself.
    fake.cut_log_streams()
    wait_for(lambda: ("get", "pods") in fake.permissions_used(), timeout=15)
    # Cancelling lists, deletes and watches the run's Jobs until they are gone.
    assert server.post(f"/runs/{run_id}/cancel", {}).status_code == 202
    assert read_events(server.base + run["stream_url"], timeout=30)[-1].data["status"] == \
        "cancelled"
    permissions_seen = fake.permissions_used()
    disallowed = sorted(p for p in permissions_seen if not rbac.allowed(*p))
    assert disallowed == []
    granted = {(verb, resource) for rule in rbac.RULES
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert sorted(granted - permissions_seen) == []
