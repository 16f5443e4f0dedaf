"""Fixtures for the Kubernetes tests: a running fake API server and clients bound to it."""
from __future__ import annotations

import pathlib
import sys
from typing import Any, Callable, Iterator

import pytest

# Make ``aideator`` importable when pytest is run without installing the project.
ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import kubernetes.client  # noqa: E402

from aideator.runtimes.kubernetes import manifests  # noqa: E402
from aideator.runtimes.agent_env import agent_environment  # noqa: E402

from .fakeapi import FakeKubeAPI  # noqa: E402

POD_SCRIPT = pathlib.Path(__file__).with_name("pod_script.py")
NAMESPACE = "default"
RUN_ID = "run-k3x9m2p7q1"


@pytest.fixture
def fake_kube() -> Iterator[FakeKubeAPI]:
    server = FakeKubeAPI(kubelet_command=[sys.executable, str(POD_SCRIPT)],
                         max_watch_seconds=5, pod_grace_seconds=0.5)
    server.start()
    server.create_secret(NAMESPACE, "anthropic-secret", {"api-key": "sk-test-key"})
    yield server
    server.stop()


@pytest.fixture
def api_client(fake_kube: FakeKubeAPI) -> Iterator[kubernetes.client.ApiClient]:
    client = fake_kube.api_client()
    yield client
    client.close()


@pytest.fixture
def batch(api_client: kubernetes.client.ApiClient) -> kubernetes.client.BatchV1Api:
    return kubernetes.client.BatchV1Api(api_client)


@pytest.fixture
def core(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client)


# Where the service's gateway is for the agents, and one variation's credential for it.
GATEWAY_URL = "http://aideator.aideator.svc:8000"
GATEWAY_TOKEN = "aidg_test-credential"


def render(*, run_id: str = RUN_ID, variation_id: int = 0, prompt: str = "Refactor main.py",
           config: dict[str, Any] | None = None, checks: list[dict[str, Any]] | None = None,
           **overrides: Any) -> dict[str, Any]:
    """A Job as the service renders it, with test-sized settings."""
    env = agent_environment(run_id=run_id, variation_id=variation_id,
                            repo_url="https://github.com/octocat/Hello-World", prompt=prompt,
                            config=config or {}, workspace=manifests.WORKSPACE,
                            gateway_url=GATEWAY_URL, gateway_token=GATEWAY_TOKEN,
                            checks=checks or ())
    args: dict[str, Any] = dict(
        run_id=run_id, variation_id=variation_id, env=env, image="aideator-agent:test",
        namespace=NAMESPACE, ttl_seconds=3600, deadline_seconds=600,
        resources={"requests": {"cpu": "100m", "memory": "128Mi"},
                   "limits": {"cpu": "1", "memory": "512Mi"}})
    args.update(overrides)
    return manifests.render_job(**args)


@pytest.fixture
def make_job() -> Callable[..., dict[str, Any]]:
    return render
