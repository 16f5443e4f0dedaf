"""Pod logs on the fake, read with CoreV1Api like the service does: 400 while waiting,
follow until exit, RFC3339Nano timestamps, resuming by sinceTime, cuts, 404 when gone."""
from __future__ import annotations

import threading
import time

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from .conftest import NAMESPACE, render
from .kubeutil import TIMESTAMP, lines, log_request, status_of


def _pod(fake_kube, job_name: str, phase: str | None = None) -> str:
    pods = fake_kube.wait_for(lambda: [p for p in fake_kube.pods_of(job_name)
                                       if phase in (None, p["status"]["phase"])])
    return pods[0]["metadata"]["name"]


def _start(batch, fake_kube, **config) -> str:
    return batch.create_namespaced_job(NAMESPACE, render(config=config)).metadata.name


def test_waiting_container_is_400_then_follow_streams_timestamped_lines_until_exit(
        batch, core, fake_kube) -> None:
    fake_kube.hold_containers()
    job = _start(batch, fake_kube, fake_lines=5, fake_interval=0.05)
    pod = fake_kube.wait_for(lambda: [p for p in fake_kube.pods_of(job)
                                      if p["status"].get("containerStatuses")])[0]
    pod = pod["metadata"]["name"]
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log(pod, NAMESPACE)
    assert caught.value.status == 400
    assert status_of(caught.value)["message"] == (
        f'container "agent" in pod "{pod}" is waiting to start: ContainerCreating')

    fake_kube.release_containers()
    _pod(fake_kube, job, "Running")
    raw = core.read_namespaced_pod_log(pod, NAMESPACE, follow=True, timestamps=True,
                                       _preload_content=False)
    received = [TIMESTAMP.match(line).groups() for line in lines(raw)]
    assert [text for _, text in received] == [f"line {i}" for i in range(5)]
    stamps = [ts for ts, _ in received]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    # The stream ended because the container exited.
    assert fake_kube.get("pods", NAMESPACE, pod)["status"]["phase"] == "Succeeded"


def test_plain_read_returns_what_is_there_and_honours_tail_lines(batch, core, fake_kube) -> None:
    job = _start(batch, fake_kube, fake_lines=4)
    pod = _pod(fake_kube, job, "Succeeded")
    assert core.read_namespaced_pod_log(pod, NAMESPACE) == "line 0\nline 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log(pod, NAMESPACE, tail_lines=1) == "line 3\n"
    assert core.read_namespaced_pod_log(pod, NAMESPACE, container="agent", limit_bytes=8) == (
        "line 0\nl")


def test_stderr_is_interleaved_in_the_log(batch, core, fake_kube) -> None:
    job = _start(batch, fake_kube, fake_lines=1, fake_stderr="Traceback: boom", fake_exit=1)
    pod = _pod(fake_kube, job, "Failed")
    assert core.read_namespaced_pod_log(pod, NAMESPACE) == "line 0\nTraceback: boom\n"


def test_since_time_resumes_with_whole_second_precision(batch, core, api_client,
                                                        fake_kube) -> None:
    job = _start(batch, fake_kube, fake_lines=3)
    pod = _pod(fake_kube, job, "Succeeded")
    full = core.read_namespaced_pod_log(pod, NAMESPACE, timestamps=True).splitlines()
    last_seen = TIMESTAMP.match(full[1]).group(1)
    resumed = list(lines(log_request(api_client, NAMESPACE, pod, sinceTime=last_seen,
                                     timestamps=True)))
    # The fraction is dropped on the way to the kubelet, so everything from that whole
    # second comes back: the client drops lines with timestamps it has already seen.
    assert resumed[-2:] == full[1:]
    assert [line for line in resumed if TIMESTAMP.match(line).group(1) > last_seen] == full[2:]
    assert list(lines(log_request(api_client, NAMESPACE, pod,
                                  sinceTime="2999-01-01T00:00:00Z"))) == []
    with pytest.raises(ApiException) as caught:
        log_request(api_client, NAMESPACE, pod, sinceTime="yesterday")
    assert caught.value.status == 400


def test_cut_log_stream_ends_mid_run_and_a_resume_continues(batch, core, api_client,
                                                            fake_kube) -> None:
    job = _start(batch, fake_kube, fake_lines=60, fake_interval=0.03)
    pod = _pod(fake_kube, job, "Running")
    seen: list[str] = []
    raw = core.read_namespaced_pod_log(pod, NAMESPACE, follow=True, timestamps=True,
                                       _preload_content=False)
    for line in lines(raw):
        seen.append(line)
        if len(seen) == 3:
            fake_kube.cut_log_streams(NAMESPACE, pod)
    assert 3 <= len(seen) < 60
    last = TIMESTAMP.match(seen[-1]).group(1)
    rest = [line for line in lines(log_request(api_client, NAMESPACE, pod, sinceTime=last,
                                               follow=True, timestamps=True))
            if TIMESTAMP.match(line).group(1) > last]
    assert [TIMESTAMP.match(line).group(2) for line in seen + rest] == [
        f"line {i}" for i in range(60)]


def test_abrupt_log_cut_is_a_protocol_error(batch, core, fake_kube) -> None:
    job = _start(batch, fake_kube, fake_lines=100, fake_interval=0.02)
    pod = _pod(fake_kube, job, "Running")
    raw = core.read_namespaced_pod_log(pod, NAMESPACE, follow=True, _preload_content=False)
    threading.Timer(0.2, fake_kube.cut_log_streams, kwargs={"abrupt": True}).start()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        list(lines(raw))


def test_follow_ends_when_the_pod_is_deleted_then_404(batch, core, fake_kube) -> None:
    job = _start(batch, fake_kube, fake_lines=100, fake_interval=0.02)
    pod = _pod(fake_kube, job, "Running")
    raw = core.read_namespaced_pod_log(pod, NAMESPACE, follow=True, _preload_content=False)
    threading.Timer(0.2, batch.delete_namespaced_job, (job, NAMESPACE),
                    {"propagation_policy": "Background"}).start()
    started = time.monotonic()
    assert 0 < len(list(lines(raw))) < 100
    assert time.monotonic() - started < 3
    # Killed by the deletion, the container's log ends; once the pod is gone, so is the log.
    fake_kube.wait_for(lambda: fake_kube.get("pods", NAMESPACE, pod) is None)
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log(pod, NAMESPACE)
    assert caught.value.status == 404


def test_unscheduled_pod_log_is_empty(batch, core, fake_kube) -> None:
    fake_kube.set_behaviour("agent-*", "Unschedulable")
    job = _start(batch, fake_kube)
    pod = _pod(fake_kube, job)
    fake_kube.wait_for(lambda: fake_kube.get("pods", NAMESPACE, pod)["status"].get("conditions"))
    assert core.read_namespaced_pod_log(pod, NAMESPACE) == ""
    raw = core.read_namespaced_pod_log(pod, NAMESPACE, follow=True, _preload_content=False)
    assert list(lines(raw)) == []


def test_unknown_container_is_400(batch, core, fake_kube) -> None:
    pod = _pod(fake_kube, _start(batch, fake_kube), "Succeeded")
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log(pod, NAMESPACE, container="sidecar")
    assert caught.value.status == 400
