"""Render the agent Job from ``job.yaml`` (beside this module): pure data in, a batch/v1 Job
dict out.

Like kubespawner's ``objects.py`` this never calls the API, so it is tested by comparing to
a literal dict. The template is loaded once and deep-copied; every per-variation field is set
structurally, never by substituting text into YAML, and user text (PROMPT, REPO_URL, …)
only ever lands in env *values*. What must not be readable with ``get jobs`` (the prompt,
the variation's gateway credential) goes into a Secret of its own (:func:`render_secret`,
named as the Job and owned by it, so it is deleted with it); the Job reads it with
``secretKeyRef`` and is created suspended, to be resumed once that Secret exists. What is
too large for an environment variable (the parent variation's change of a run iterating
on one) is a key of the same Secret mounted as a read-only file instead.
"""
from __future__ import annotations

import base64
import copy
import functools
import re
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

import yaml

from ...naming import DNS1123_LABEL, job_name

__all__ = ["APP_LABEL", "TEMPLATE_PATH", "WORKSPACE", "escape_env_value", "job_name",
           "label_selector", "load_template", "render_job", "render_secret"]

# Shipped inside the package (setup.cfg package_data), so an installed service finds it.
TEMPLATE_PATH = Path(__file__).resolve().with_name("job.yaml")
APP_LABEL = "aideator-agent"
CONTAINER = "agent"
# Where the template mounts the workspace volume: what the runtime passes as WORKSPACE.
WORKSPACE = "/workspace"
# The volume of the Job's Secret keys given as files (render_job's ``secret_files``).
SECRET_FILES_VOLUME = "secret-files"
# Their mode: readable by the owner and the group, which the kubelet makes the pod's
# fsGroup (the template's runAsGroup too); no one else, no writing.
SECRET_FILE_MODE = 0o440
# The API server refuses a Secret whose values add up to more than this (MaxSecretSize).
MAX_SECRET_BYTES = 1024 * 1024

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
# A Secret's key, and a file name; not "." or "..", nor a name the kubelet keeps for itself.
_SECRET_KEY = re.compile(r"^(?!\.\.?$)(?!\.\.)[-._a-zA-Z0-9]+$")
_PULL_POLICIES = {"Always", "IfNotPresent", "Never"}


@functools.cache
def _template(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """A private copy of the Job template (the file is read once per process)."""
    return copy.deepcopy(_template(path))


def label_selector(run_id: str, variation_id: int | None = None) -> str:
    """The label selector for a run's Jobs and pods (or one variation's)."""
    selector = f"app={APP_LABEL},run-id={_label_value('run_id', run_id)}"
    if variation_id is not None:
        selector += f",variation-id={_variation(variation_id)}"
    return selector


def escape_env_value(value: str) -> str:
    """Protect a value from the kubelet's ``$(VAR)`` expansion.

    The kubelet rewrites ``$(NAME)`` to the value of an earlier env var and ``$$`` to ``$``,
    so a prompt mentioning ``$(RUN_ID)`` or ``$$`` would reach the agent altered. ``$$`` is
    the documented escape, and doubling every ``$`` round-trips exactly.
    """
    return value.replace("$", "$$")


def render_job(*, run_id: str, variation_id: int, env: Mapping[str, str], image: str,
               namespace: str, ttl_seconds: int,
               deadline_seconds: int, resources: Mapping[str, Any],
               image_pull_policy: str | None = None,
               image_pull_secrets: Sequence[str] = (),
               runtime_class: str = "", secret_env: Collection[str] = (),
               secret_files: Collection[str] = (), files_dir: str = "",
               cache_claim: str = "", cache_dir: str = "") -> dict[str, Any]:
    """The batch/v1 Job running one variation; raises ValueError on anything the API
    server would reject (names, labels, env names) rather than letting it answer 422.

    The variables named in ``secret_env`` are read from the Job's Secret (same name, see
    :func:`render_secret`) instead of being written into the spec; the keys named in
    ``secret_files`` of that Secret are files in the directory ``files_dir`` (read-only,
    SECRET_FILE_MODE). With any of either the Job is created suspended (no pod can start
    before its Secret exists). ``cache_claim``: a
    PersistentVolumeClaim mounted at ``cache_dir``, the setup's package cache (the chart's
    ``agents.setupCache``)."""
    name = job_name(_label_value("run_id", run_id), _variation(variation_id))
    _check(DNS1123_LABEL, "namespace", namespace, 63)
    if not isinstance(image, str) or not image or any(c.isspace() for c in image):
        raise ValueError(f"invalid image: {image!r}")
    if image_pull_policy is not None and image_pull_policy not in _PULL_POLICIES:
        raise ValueError(f"invalid image_pull_policy: {image_pull_policy!r}")
    _non_negative("ttl_seconds", ttl_seconds)
    _non_negative("deadline_seconds", deadline_seconds, minimum=1)
    if not set(resources) <= {"requests", "limits"}:
        raise ValueError(f"resources may only hold requests/limits, got {sorted(resources)}")

    job = load_template()
    labels = {"app": APP_LABEL, "run-id": run_id, "variation-id": str(variation_id)}
    job["metadata"].update(name=name, namespace=namespace, labels=dict(labels))
    job["spec"]["ttlSecondsAfterFinished"] = ttl_seconds
    job["spec"]["activeDeadlineSeconds"] = deadline_seconds
    if secret_env or secret_files:
        job["spec"]["suspend"] = True
    pod = job["spec"]["template"]
    pod["metadata"]["labels"] = dict(labels)
    if runtime_class:
        # gVisor/Kata: the sandbox gets its own kernel. Absent means the cluster default.
        pod["spec"]["runtimeClassName"] = _check(_DNS1123_SUBDOMAIN, "runtime_class",
                                                 runtime_class, 253)
    if image_pull_secrets:
        pod["spec"]["imagePullSecrets"] = [
            {"name": _check(_DNS1123_SUBDOMAIN, "image_pull_secrets", s, 253)}
            for s in image_pull_secrets]

    container = _agent_container(pod["spec"])
    container["image"] = image
    if image_pull_policy is not None:
        container["imagePullPolicy"] = image_pull_policy
    container["resources"] = copy.deepcopy(dict(resources))
    container["env"] = _env(container.get("env", []), env, secret=name,
                            secret_env=frozenset(secret_env))
    if secret_files:
        if not files_dir.startswith("/"):
            raise ValueError(f"files_dir must be an absolute path: {files_dir!r}")
        for key in secret_files:
            _check(_SECRET_KEY, "secret file", key, 253)
        pod["spec"]["volumes"].append({"name": SECRET_FILES_VOLUME, "secret": {
            "secretName": name, "defaultMode": SECRET_FILE_MODE,
            "items": [{"key": key, "path": key} for key in sorted(secret_files)]}})
        container["volumeMounts"].append({"name": SECRET_FILES_VOLUME,
                                          "mountPath": files_dir, "readOnly": True})
    if cache_claim:
        if not cache_dir.startswith("/"):
            raise ValueError(f"cache_dir must be an absolute path: {cache_dir!r}")
        pod["spec"]["volumes"].append({"name": "setup-cache", "persistentVolumeClaim": {
            "claimName": _check(_DNS1123_SUBDOMAIN, "cache_claim", cache_claim, 253)}})
        container["volumeMounts"].append({"name": "setup-cache", "mountPath": cache_dir})
    return job


def render_secret(*, job: Mapping[str, Any], env: Mapping[str, str],
                  secret_env: Collection[str],
                  files: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """The Secret holding ``job``'s ``secret_env`` variables (from ``env``) and its
    ``files`` (key -> content: the Job's ``secret_files``), owned by the Job as created
    (its uid), so the garbage collector deletes it with the Job; ValueError when it would
    be larger than the API server takes.

    No ``blockOwnerDeletion``: setting it needs update rights on ``jobs/finalizers``, and
    the Job need not wait for it. Immutable: nothing rewrites it, and the kubelet need not
    watch it."""
    meta = job["metadata"]
    if not meta.get("uid"):
        raise ValueError("the Secret's owner must be the Job as created (with its uid)")
    missing = [name for name in secret_env if name not in env]
    if missing:
        raise ValueError(f"no value for the Secret's {', '.join(sorted(missing))}")
    values = {name: env[name].encode() for name in secret_env}
    for key, content in (files or {}).items():
        if key in values:
            raise ValueError(f"the Secret's key {key!r} is both a variable and a file")
        values[key] = bytes(content)
    size = sum(len(v) for v in values.values())
    if size > MAX_SECRET_BYTES:
        raise ValueError(f"its Secret would hold {size} bytes, more than the "
                         f"{MAX_SECRET_BYTES} Kubernetes allows")
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "immutable": True,
        "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                     "labels": dict(meta.get("labels") or {}),
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                          "name": meta["name"], "uid": meta["uid"]}]},
        # Secret values are not expanded by the kubelet: no "$" escaping here.
        "data": {name: base64.b64encode(values[name]).decode() for name in sorted(values)},
    }


def _env(fixed: list[dict[str, Any]], env: Mapping[str, str], *, secret: str,
         secret_env: frozenset[str]) -> list[dict[str, Any]]:
    """The template's entries, then ``env``: the agent's whole contract, the variables of
    ``secret_env`` as references to the Job's Secret (named ``secret``)."""
    reserved = {entry["name"] for entry in fixed}
    unknown = secret_env - set(env)
    if unknown:
        raise ValueError(f"secret_env names variables not in env: {sorted(unknown)}")
    entries = list(fixed)
    for name, value in env.items():
        _check(_ENV_NAME, "env name", name, 1024)
        if name in reserved:
            raise ValueError(f"env name {name!r} is set by the Job template")
        if not isinstance(value, str):
            raise ValueError(f"env value for {name} must be a string, got {type(value).__name__}")
        if "\0" in value:
            # A process environment cannot hold NUL: the container would never start.
            raise ValueError(f"env value for {name} contains a NUL character")
        if name in secret_env:
            entries.append({"name": name, "valueFrom": {"secretKeyRef": {
                "name": secret, "key": name}}})
        else:
            entries.append({"name": name, "value": escape_env_value(value)})
    return entries


def _agent_container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    for container in pod_spec["containers"]:
        if container["name"] == CONTAINER:
            return container
    raise ValueError(f"the Job template has no {CONTAINER!r} container")


def _check(pattern: re.Pattern[str], what: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str) or len(value) > max_len or not pattern.match(value):
        raise ValueError(f"invalid {what}: {value!r}")
    return value


def _label_value(what: str, value: Any) -> str:
    return _check(_LABEL_VALUE, what, value, 63)


def _variation(variation_id: Any) -> int:
    if isinstance(variation_id, bool) or not isinstance(variation_id, int) or variation_id < 0:
        raise ValueError(f"invalid variation_id: {variation_id!r}")
    return variation_id


def _non_negative(what: str, value: Any, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"invalid {what}: {value!r}")
