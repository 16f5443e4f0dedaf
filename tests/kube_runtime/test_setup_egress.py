"""Kubernetes: each pod's setup reaches the allowed registries through the service's own
port, with its variation's credential, only until its setup has ended."""
from __future__ import annotations

import base64
import sys

import pytest

from helpers import ROOT
from package_index import Listener, PackageIndex
from sse_client import read_events

AGENT = ROOT / "tests" / "fixtures" / "setup_pod_agent.py"


@pytest.fixture
def kubelet_command() -> list[str]:
    return [sys.executable, str(AGENT)]


def test_the_proxy_serves_a_pods_setup_and_closes_when_its_setup_ends(kube_server, fake):
    index, listener = PackageIndex().start(), Listener()
    try:
        server = kube_server(egress_allow=f"127.0.0.1:{index.port}")
        allowed = f"{index.url}/simple/aideator-fixture-pkg/"
        run = server.post("/runs", {
            "github_url": "https://github.com/octocat/hello-world", "variations": 1,
            "prompt": f"allowed={allowed} forbidden=http://127.0.0.1:{listener.port}/",
            "setup": "pip install -r requirements.txt"}).json()
        events = read_events(server.base + run["stream_url"], timeout=30)
        probes = {(e.data["content"]["when"], e.data["content"]["what"]):
                  e.data["content"]["answer"] for e in events
                  if e.event == "agent_output" and e.data["type"] == "probe"}
        assert probes[("setup", "allowed")].endswith("200 OK"), probes
        assert " 403 " in probes[("setup", "forbidden")], probes
        assert probes[("setup", "connect")] == "HTTP/1.1 200 Connection established", probes
        assert " 403 " in probes[("setup", "connect forbidden")], probes
        assert " 407 " in probes[("setup", "no credential")], probes
        # The setup reported its end: the same credential opens nothing any more.
        assert " 407 " in probes[("model", "allowed")], probes
        assert listener.connections == 0
        assert index.paths == ["/simple/aideator-fixture-pkg/"]
        # The setup command and the proxy URL (it holds the credential) reach the pod
        # through the Job's Secret, not its spec.
        (job,) = fake.list("jobs")
        spec_env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        for name in ("SETUP", "SETUP_PROXY"):
            assert spec_env[name]["valueFrom"]["secretKeyRef"]["key"] == name
        secret = fake.get("secrets", "default", job["metadata"]["name"])
        values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert values["SETUP"] == "pip install -r requirements.txt"
        assert values["SETUP_PROXY"].startswith("http://setup:aidg_")
        detail = server.get(f"/runs/{run['run_id']}").json()
        assert detail["variations"][0]["setup"]["passed"] is True
    finally:
        index.stop()
        listener.stop()
