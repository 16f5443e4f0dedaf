"""Fixtures for the Kubernetes runtime: the fake API server (whose kubelet runs the
fixture agent as each pod's container) and the real service pointed at it."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from helpers import FAKE_AGENT, REPO, ROOT, Server, start_run  # noqa: F401 - for the tests
from kube.fakeapi import FakeKubeAPI
from sse_client import SSEEvent, read_events

NAMESPACE = "default"
ENV_AGENT = ROOT / "tests" / "fixtures" / "env_agent.py"


@pytest.fixture
def kubelet_command() -> list[str]:
    return [sys.executable, str(FAKE_AGENT)]


@pytest.fixture
def fake(kubelet_command: list[str]) -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI(kubelet_command=kubelet_command, max_watch_seconds=30,
                      pod_grace_seconds=0.3, container_start_delay=0.05)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def kube_server(make_server: Callable[..., Server], fake: FakeKubeAPI,
                tmp_path: Path) -> Callable[..., Server]:
    """Start the service on the kubernetes runtime against ``fake`` (settings overridable;
    pass ``data_dir`` to restart on the same data)."""
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")

    def start(data_dir: Path | None = None, **settings: str) -> Server:
        values = {"runtime": "kubernetes", "kube_config": kubeconfig,
                  "kube_namespace": NAMESPACE, "agent_image": "aideator-agent:test",
                  "job_ttl_seconds": "600", "job_deadline_seconds": "120",
                  "agent_memory_limit": "512Mi", "sse_heartbeat_seconds": "1"}
        values.update(settings)
        return make_server(data_dir, **values)

    return start


def run_failing_four_ways(server: Server, fake: FakeKubeAPI) -> tuple[dict[str, Any],
                                                                 list[SSEEvent]]:
    """A run of 5 whose variations 0, 1, 3 and 4 fail (image pull, OOM, deadline with the
    server's job_deadline_seconds=2, unschedulable) and 2 succeeds; its whole stream."""
    fake.set_behaviour("agent-*-0", "ImagePullBackOff")
    fake.set_behaviour("agent-*-1", "OOMKilled")
    fake.set_behaviour("agent-*-4", "Unschedulable")
    run = start_run(server, "lines=10 v3.hang=1", 5)
    return run, read_events(server.base + run["stream_url"], timeout=30)


def numbered_lines(events: list[SSEEvent]) -> dict[int, Counter]:
    """How often each of the fixture agent's line numbers arrived, per variation."""
    seen: dict[int, Counter] = {}
    for e in events:
        if e.event != "agent_output":
            continue
        content = e.data["content"]
        if isinstance(content, dict):
            key = content.get("n", "status-line")
        else:
            key = int(content.split()[2]) if content.startswith("plain line ") else content
        seen.setdefault(e.data["variation_id"], Counter())[key] += 1
    return seen


def assert_every_line_once(events: list[SSEEvent], variation: int, lines: int) -> None:
    expected = Counter(["status-line", *range(lines)])
    assert numbered_lines(events).get(variation) == expected


def by_variation(events: list[SSEEvent], name: str) -> dict[int, dict[str, Any]]:
    return {e.data["variation_id"]: e.data for e in events if e.event == name}


def notices(events: list[SSEEvent], variation: int | None = None) -> list[str]:
    return [e.data["message"] for e in events if e.event == "status"
            and "variation_id" in e.data
            and (variation is None or e.data["variation_id"] == variation)]
