"""The fake server as a whole: how code under test finds it, and a clean shutdown."""
from __future__ import annotations

import sys

from kubernetes import client, config

from .conftest import NAMESPACE, POD_SCRIPT, render
from .fakeapi import FakeKubeAPI


def test_kubeconfig_for_code_that_loads_its_own(tmp_path, fake_kube) -> None:
    path = fake_kube.write_kubeconfig(tmp_path / "kubeconfig")
    api = client.BatchV1Api(config.new_client_from_config(config_file=path))
    assert api.list_namespaced_job(NAMESPACE).items == []
    assert fake_kube.requests[-1].verb == "list"


def test_version_endpoint(api_client) -> None:
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.")


def test_stop_kills_running_pods() -> None:
    server = FakeKubeAPI(kubelet_command=[sys.executable, str(POD_SCRIPT)])
    server.start()
    server.create_secret(NAMESPACE, "anthropic-secret", {"api-key": "k"})
    batch = client.BatchV1Api(server.api_client())
    name = batch.create_namespaced_job(NAMESPACE, render(
        config={"fake_lines": 1000, "fake_interval": 0.05})).metadata.name
    server.wait_for(lambda: [p for p in server.pods_of(name) if p["status"]["phase"] == "Running"])
    runner = next(iter(server.kubelet._runners.values()))
    server.stop()
    assert runner.proc is not None and runner.proc.poll() is not None
