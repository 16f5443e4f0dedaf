"""Checks on the Kubernetes runtime: the real agent, as each variation's pod (the fake
kubelet runs it), runs the run's checks inside that pod after its model — variation 0 also
the baseline before it — and their results arrive through the same log follower as the
rest of its output. No second Job: the fake API sees exactly one Job per variation."""
from __future__ import annotations

import sys

import pytest

from helpers import ROOT, Server
from sse_client import read_events
from tests.agent.fake_anthropic import FakeAnthropic, reply, text, tool_use
from tests.fake_github import FakeGitHub

from .conftest import NAMESPACE

POD_AGENT = ROOT / "tests" / "fixtures" / "pod_agent.py"
TEST_GREET = ("import unittest\n\n\nclass Greet(unittest.TestCase):\n"
              "    def test_greet(self):\n"
              "        self.assertEqual(open('greet.txt').read(), 'hello, friend\\n')\n")


@pytest.fixture
def kubelet_command() -> list[str]:
    return [sys.executable, str(POD_AGENT)]


def test_checks_run_in_each_pod_and_arrive_through_the_log_follower(fake, tmp_path):
    github = FakeGitHub(tmp_path / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\n", "test_greet.py": TEST_GREET})
    model = FakeAnthropic({"default": [
        reply(tool_use("Read", {"file_path": "greet.txt"})),
        reply(tool_use("Edit", {"file_path": "greet.txt", "old_string": "hello world",
                                "new_string": "hello, friend"})),
        reply(text("friendlier"))]})
    base_url = model.start()
    server = Server(tmp_path / "data", github_url=github.start(), runtime="kubernetes",
                    kube_config=fake.write_kubeconfig(tmp_path / "kubeconfig"),
                    kube_namespace=NAMESPACE, agent_image="aideator-agent:test",
                    job_ttl_seconds="600", job_deadline_seconds="120")
    server.env.update({"ANTHROPIC_API_KEY": "sk-ant-test-kube", "ANTHROPIC_BASE_URL": base_url})
    server.start()
    try:
        run = server.post("/runs", {
            "github_url": "https://github.com/acme/widgets", "prompt": "Be friendlier",
            "variations": 2,
            "checks": [{"name": "unit", "command": "python3 -m unittest test_greet"},
                       {"name": "where",
                        "command": "echo '$(RUN_ID) $$'; echo workspace=$PWD"}]}
        ).json()
        run_id = run["run_id"]
        events = read_events(server.base + run["stream_url"], timeout=120)
        assert events[-1].data == {"run_id": run_id, "status": "completed"}, events[-1].data

        for variation in (0, 1):
            lines = [e.data for e in events if e.event == "agent_output"
                     and e.data["variation_id"] == variation]
            finished = [d["content"] for d in lines if d["type"] == "check_finished"]
            assert [(c["name"], c["baseline"], c["passed"]) for c in finished] == (
                [("unit", True, False), ("where", True, True)] if variation == 0 else []
            ) + [("unit", False, True), ("where", False, True)]
            # Through the pod's log: every line of it came from that variation's pod.
            pods = {d["pod"] for d in lines}
            assert len(pods) == 1 and pods.pop().startswith(f"agent-{run_id}-{variation}-")
            where = [line for d in lines if d["type"] == "check_output"
                     and d["content"]["name"] == "where" and not d["content"]["baseline"]
                     for line in d["content"]["lines"]]
            # Run inside the pod: in the clone in its own /workspace mount (the fake
            # kubelet's directory for that pod).
            # (The command reached the pod as written: the kubelet expanded nothing in it.)
            assert len(where) == 2 and where[0] == "$(RUN_ID) $$"
            assert where[1].endswith("/volumes/workspace/repo")
            assert f"fakekube-agent-{run_id}-{variation}-" in where[1]

        detail = server.get(f"/runs/{run_id}").json()
        assert [c["status"] for c in detail["baseline"]["checks"]] == ["failed", "passed"]
        for variation in detail["variations"]:
            assert [(c["name"], c["status"]) for c in variation["checks"]] == [
                ("unit", "passed"), ("where", "passed")]
            assert variation["checks"][0]["tests"]["passed"] == 1
        board = server.get(f"/runs/{run_id}/comparison").json()
        assert [r["checks_passed"] for r in board["rows"]] == [2, 2]
        # One Job per variation: the baseline ran in variation 0's pod, not a Job of its own.
        assert sorted(j["metadata"]["name"] for j in fake.list("jobs", NAMESPACE)
                      if run_id in j["metadata"]["name"]) == [f"agent-{run_id}-0",
                                                              f"agent-{run_id}-1"]
    finally:
        server.stop()
        model.stop()
        github.stop()
