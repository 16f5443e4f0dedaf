"""Warning events of a variation's Job and pods reach its stream as one `status` notice each
and stay in its detail, through the real client, the runtime and the fake API server's
scheduler and kubelet: repeats, restarted watches and a restarted owner tell nothing twice,
and the cluster is asked with one events watch per process, not one per variation."""
from __future__ import annotations

from typing import Any

from helpers import wait_for
from kube.fakeapi.kubelet import FAILED_MOUNT, FAILED_MOUNT_MESSAGE, UNSCHEDULABLE_MESSAGE
from sse_client import SSEEvent, read_events

from .conftest import by_variation, start_run


def told(events: list[SSEEvent]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.event == "status" and "warning" in e.data]


def detail_warnings(server, run_id: str) -> list[list[dict[str, Any]]]:
    detail = server.get(f"/runs/{run_id}").json()
    return [v["warnings"] for v in detail["variations"]]


def event_requests(fake, verb: str) -> list:
    return [r for r in fake.requests if r.resource == "events" and r.verb == verb]


def test_failed_scheduling_is_one_notice_on_its_variation_and_in_its_detail(kube_server, fake):
    server = kube_server()
    fake.set_behaviour("agent-*-1", "Unschedulable")
    fake.set_behaviour("agent-*-2", "ImagePullBackOff")
    run = start_run(server, "lines=5", 3)
    run_id = run["run_id"]
    events = read_events(server.base + run["stream_url"], timeout=30)

    warnings = told(events)
    scheduling = [w for w in warnings if w["warning"]["reason"] == "FailedScheduling"]
    assert len(scheduling) == 1, warnings
    notice = scheduling[0]
    assert notice["variation_id"] == 1 and notice["run_id"] == run_id
    pod = notice["warning"]["object"]
    assert pod.startswith(f"pod/agent-{run_id}-1-")
    assert notice["message"] == f"Warning FailedScheduling on {pod}: {UNSCHEDULABLE_MESSAGE}"
    # Told before the failure it explains.
    errors = [i for i, e in enumerate(events) if e.event == "error"
              and e.data["variation_id"] == 1]
    assert events.index(next(e for e in events if e.data is notice)) < errors[0]
    assert by_variation(events, "error")[1]["error"].startswith(
        "Pod failed to start: Unschedulable: 0/1 nodes are available")
    # The image that cannot be pulled: the kubelet's two Warnings, once each, on variation 2.
    pulls = [(w["variation_id"], w["message"].split(": ", 1)[1]) for w in warnings
             if w["warning"]["reason"] == "Failed"]
    assert [v for v, _ in pulls] == [2, 2]
    assert pulls[0][1].startswith('Failed to pull image "aideator-agent:test"')
    assert pulls[1][1] == "Error: ErrImagePull"
    assert len(warnings) == 3
    assert sorted(by_variation(events, "job_completed")) == [0]

    first, second, third = detail_warnings(server, run_id)
    assert first == []
    (entry,) = second
    assert {k: entry[k] for k in ("reason", "message", "object")} == {
        "reason": "FailedScheduling", "message": UNSCHEDULABLE_MESSAGE, "object": pod}
    assert entry["count"] >= 1 and entry["first_seen"] <= entry["last_seen"]
    assert [w["message"] for w in third] == [m for _, m in pulls]

    # One Warning-only watch of the namespace for the whole run; direct lists only for the
    # failed variations' own objects; the watch ends with the last run this process follows.
    watches = event_requests(fake, "watch")
    assert len(watches) == 1 and watches[0].query["fieldSelector"] == "type=Warning"
    lists = [r.query["fieldSelector"] for r in event_requests(fake, "list")]
    assert lists[0] == "type=Warning"
    named = {s.split(",")[0].split("=")[1] for s in lists[1:]}
    assert named and all(n.startswith((f"agent-{run_id}-1", f"agent-{run_id}-2"))
                         for n in named)
    wait_for(lambda: not any(r.open for r in event_requests(fake, "watch")), timeout=10)


def test_a_repeating_warning_is_told_once_across_watch_restarts_and_a_new_owner(
        kube_server, fake, tmp_path):
    data = tmp_path / "data"
    first = kube_server(data)
    fake.set_behaviour("agent-*-0", FAILED_MOUNT)
    fake.hold_containers()   # the volume keeps failing to mount until released
    run = start_run(first, "lines=5", 1)
    run_id = run["run_id"]

    def count(server) -> int:
        warnings = detail_warnings(server, run_id)[0]
        return warnings[0]["count"] if warnings else 0

    # The kubelet retries: the same Event, its count growing, stored without a new notice.
    seen = wait_for(lambda: count(first) >= 3 and count(first), timeout=20)
    fake.cut_watches()                  # the watch ends: watched again from its version
    seen = wait_for(lambda: count(first) >= seen + 2 and count(first), timeout=20)
    fake.compact()
    fake.cut_watches()                  # 410 Gone: everything listed again
    seen = wait_for(lambda: count(first) >= seen + 2 and count(first), timeout=20)
    first.kill()                        # a new owner lists the same warning again
    second = kube_server(data)
    wait_for(lambda: count(second) >= seen + 2, timeout=30)
    fake.release_containers()

    events = read_events(second.base + run["stream_url"], timeout=30)
    warnings = told(events)
    assert len(warnings) == 1, warnings
    assert warnings[0]["variation_id"] == 0
    assert warnings[0]["warning"]["reason"] == "FailedMount"
    assert warnings[0]["message"].endswith(f": {FAILED_MOUNT_MESSAGE}")
    assert sum("took the run over" in e.data.get("message", "") for e in events
               if e.event == "status") == 1
    assert list(by_variation(events, "job_completed")) == [0]
    (entry,) = detail_warnings(second, run_id)[0]
    assert entry["reason"] == "FailedMount" and entry["count"] >= seen + 2
    assert entry["first_seen"] < entry["last_seen"]
    assert len(event_requests(fake, "watch")) >= 3   # cut, cut, and the new owner's
