"""Iterating on a variation on the Kubernetes runtime (the fake API server, whose kubelet
runs tests/fixtures/git_agent.py as each pod's container through pod_agent.py): the
child run's pods find the parent variation's change in their clone. The change is a key
of each Job's own Secret, mounted as a read-only file at BASE_PATCH_FILE: never in the
Job spec, never an environment variable, and larger (about 252 KiB) than one could hold.
"""
from __future__ import annotations

import base64
import sys

import pytest

from helpers import ROOT
from sse_client import read_events
from tests.fake_github import FakeGitHub

from .conftest import NAMESPACE

POD_AGENT = ROOT / "tests" / "fixtures" / "pod_agent.py"
GIT_AGENT = ROOT / "tests" / "fixtures" / "git_agent.py"
URL = "https://github.com/acme/widgets"


@pytest.fixture
def kubelet_command() -> list[str]:
    return [sys.executable, str(POD_AGENT), str(GIT_AGENT)]


def finished(server, run: dict) -> list:
    events = read_events(server.base + run["stream_url"], timeout=90)
    assert events[-1].data == {"run_id": run["run_id"], "status": "completed"}, \
        events[-1].data
    return events


def test_a_child_runs_pods_see_the_parents_change_in_their_clone(kube_server, fake,
                                                                   tmp_path):
    github = FakeGitHub(tmp_path / "github")
    github.repo("acme", "widgets", {"keep.txt": "one\n", "logo.bin": "not yet binary\n"})
    server = kube_server(github_url=github.start())
    try:
        parent = server.post("/runs", {"github_url": URL, "variations": 1,
                                       "prompt": "big=src/big.txt add=src/new.py "
                                                 "bin=logo.bin"}).json()
        finished(server, parent)
        change = server.get(f"/runs/{parent['run_id']}/variations/0/diff").json()["patch"]
        assert len(change.encode()) > 128 * 1024

        resp = server.post("/runs", {
            "github_url": URL, "variations": 2,
            "from": {"run_id": parent["run_id"], "variation_id": 0},
            "prompt": "v0.edit=src/new.py v0.tamper=1 v1.del=src/big.txt"})
        assert resp.status_code == 202, resp.text
        child = resp.json()
        events = finished(server, child)

        # Each pod's clone held the parent's change; each diff is the new work only.
        first = server.get(f"/runs/{child['run_id']}/variations/0/diff").json()
        assert first["files"] == ["src/new.py"]
        assert " added by variation 0\n+edited by variation 0\n" in first["patch"]
        second = server.get(f"/runs/{child['run_id']}/variations/1/diff").json()
        assert second["files"] == ["src/big.txt"]
        assert "-variation 0 src/big.txt line 02549 " in second["patch"]
        detail = server.get(f"/runs/{child['run_id']}").json()
        assert detail["parent"] == {"run_id": parent["run_id"], "variation_id": 0}
        assert all(e.data["pod"].startswith(f"agent-{child['run_id']}-")
                   for e in events if e.event == "agent_output")

        # The pod read it from its Secret volume: the whole change, a file of its own.
        tamper = [e.data["content"] for e in events
                  if e.event == "agent_output" and e.data["type"] == "change_file"]
        assert len(tamper) == 1 and tamper[0]["bytes"] == len(change.encode())
        assert "/volumes/secret-files/base.patch" in tamper[0]["path"]
        for variation in (0, 1):
            name = f"agent-{child['run_id']}-{variation}"
            job = fake.get("jobs", NAMESPACE, name)
            pod_spec = job["spec"]["template"]["spec"]
            container = pod_spec["containers"][0]
            env = {e["name"]: e for e in container["env"]}
            assert env["BASE_PATCH_FILE"] == {"name": "BASE_PATCH_FILE",
                                              "value": "/run/aideator-change/base.patch"}
            assert "BASE_PATCH" not in env
            assert "src/big.txt line" not in str(job)    # not in the Job spec
            (volume,) = [v for v in pod_spec["volumes"] if v["name"] == "secret-files"]
            assert volume["secret"] == {"secretName": name, "defaultMode": 0o440,
                                        "items": [{"key": "base.patch",
                                                   "path": "base.patch"}]}
            assert {"name": "secret-files", "mountPath": "/run/aideator-change",
                    "readOnly": True} in container["volumeMounts"]
            secret = fake.get("secrets", NAMESPACE, name)
            assert base64.b64decode(secret["data"]["base.patch"]) == change.encode()
            assert secret["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
        # The parent's Jobs had nothing of the kind.
        parent_job = fake.get("jobs", NAMESPACE, f"agent-{parent['run_id']}-0")
        assert "secret-files" not in str(parent_job)
    finally:
        server.stop()
        github.stop()
