"""Secret volumes on the fake, as a kubelet mounts them: the pod's container finds the
Secret's decoded keys as files (the atomic writer's ``..data`` links, the volume's mode);
a pod whose Secret does not exist yet waits in ContainerCreating with FailedMount Events
and runs once it exists; and the API server refuses a Secret over 1 MiB. Also the
service's side, rendered: a Job whose Secret key is a read-only file, and a Secret that
would be too large refused before any request."""
from __future__ import annotations

import base64
import json

import kubernetes_validate
import pytest
from kubernetes.client.exceptions import ApiException

from aideator.runtimes.kubernetes import manifests
from helpers import wait_for

from .conftest import NAMESPACE, render
from .fakeapi import FakeKubeAPI
from .kubeutil import status_of

FILE = "/run/aideator-change/base.patch"


def _job(batch):
    body = render(config={"fake_read": FILE}, secret_files=["base.patch"],
                  files_dir="/run/aideator-change")
    return batch.create_namespaced_job(NAMESPACE, body)


def _secret(core, job, content: bytes) -> None:
    core.create_namespaced_secret(NAMESPACE, {
        "metadata": {"name": job.metadata.name,
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                          "name": job.metadata.name,
                                          "uid": job.metadata.uid}]},
        "immutable": True, "data": {"base.patch": base64.b64encode(content).decode()}})


def _read_line(fake: FakeKubeAPI, job: str) -> dict:
    pod = fake.wait_for(lambda: [p for p in fake.pods_of(job)
                                 if p["status"].get("phase") == "Succeeded"], timeout=10)[0]
    log = fake.pod_log(NAMESPACE, pod["metadata"]["name"]).decode()
    return next(json.loads(line[line.index("{"):]) for line in log.splitlines()
                if '"read"' in line)


def test_a_pod_reads_its_secret_key_as_a_file_in_the_mounted_directory(
        batch, core, fake_kube: FakeKubeAPI) -> None:
    job = _job(batch)
    assert job.spec.suspend is True   # no pod before its Secret exists
    content = "diff --git a/x b/x\n" + "+$(HOME) $$ é\n" * 20000
    _secret(core, job, content.encode())
    batch.patch_namespaced_job(job.metadata.name, NAMESPACE, {"spec": {"suspend": False}})
    read = _read_line(fake_kube, job.metadata.name)
    # Decoded, byte for byte (no $(VAR) expansion: it is no env value), with its mode,
    # through the ..data link as a kubelet writes it.
    assert read == {"read": FILE, "content": content, "link": True, "mode": "0o440"}


def test_a_missing_secret_fails_the_mount_until_it_exists(
        batch, core, fake_kube: FakeKubeAPI) -> None:
    job = _job(batch)
    batch.patch_namespaced_job(job.metadata.name, NAMESPACE, {"spec": {"suspend": False}})
    pod = fake_kube.wait_for(lambda: fake_kube.pods_of(job.metadata.name))[0]
    name = pod["metadata"]["name"]
    (event,) = wait_for(lambda: core.list_namespaced_event(
        NAMESPACE, field_selector=f"involvedObject.name={name},type=Warning").items,
        timeout=10)
    assert event.reason == "FailedMount"
    assert event.message == ('MountVolume.SetUp failed for volume "secret-files" : '
                             f'secret "{job.metadata.name}" not found')
    assert (fake_kube.get("pods", NAMESPACE, name)["status"]["containerStatuses"][0]
            ["state"]["waiting"]["reason"]) == "ContainerCreating"
    _secret(core, job, b"late\n")
    assert _read_line(fake_kube, job.metadata.name)["content"] == "late\n"


def test_a_secret_over_one_mebibyte_is_refused(core) -> None:
    for data in ({"a": base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()},
                 {"a": base64.b64encode(b"x" * (512 * 1024)).decode(),
                  "b": base64.b64encode(b"x" * (512 * 1024 + 1)).decode()}):
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "big"},
                                                      "data": data})
        assert caught.value.status == 422
        assert "data: Too long: must have at most 1048576 bytes" in \
            status_of(caught.value)["message"]
    core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "big"}, "data": {
        "a": base64.b64encode(b"x" * (1024 * 1024)).decode()}})


def test_the_service_renders_a_secret_file_and_refuses_a_secret_too_large() -> None:
    job = render(secret_env=["PROMPT"], secret_files=["base.patch"],
                 files_dir="/run/aideator-change")
    assert job["spec"]["suspend"] is True
    job["metadata"]["uid"] = "6f1c0c36-2f5e-4d0e-9a55-2d1b3c4d5e6f"
    secret = manifests.render_secret(job=job, env={"PROMPT": "p"}, secret_env=["PROMPT"],
                                     files={"base.patch": b"change\n"})
    assert secret["data"] == {"PROMPT": base64.b64encode(b"p").decode(),
                              "base.patch": base64.b64encode(b"change\n").decode()}
    with pytest.raises(ValueError, match="more than the 1048576 Kubernetes allows"):
        manifests.render_secret(job=job, env={"PROMPT": "p" * 1024}, secret_env=["PROMPT"],
                                files={"base.patch": b"x" * (1024 * 1024 - 1023)})
    # Valid as Kubernetes' own schema says (strict: no unknown fields).
    assert kubernetes_validate.validate(job, "1.37.0", strict=True) == "1.37"
    for bad in ("..data", "a/b", ".."):
        with pytest.raises(ValueError, match="invalid secret file"):
            render(secret_files=[bad], files_dir="/run/x")
    with pytest.raises(ValueError, match="files_dir"):
        render(secret_files=["base.patch"], files_dir="relative")
