"""Render the agent Job from ``job.yaml`` (beside this module): pure data in, a batch/v1 Job
dict out.

Like kubespawner's ``objects.py`` this never calls the API, so it is tested by comparing to
a literal dict. The template is loaded once and deep-copied; every per-variation field is set
structurally, never by substituting text into YAML, and user text (PROMPT, REPO_URL, …)
only ever lands in env *values*.
"""
from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ...naming import DNS1123_LABEL, job_name

__all__ = ["APP_LABEL", "TEMPLATE_PATH", "WORKSPACE", "escape_env_value", "job_name",
           "label_selector", "load_template", "render_job"]

# Shipped inside the package (setup.cfg package_data), so an installed service finds it.
TEMPLATE_PATH = Path(__file__).resolve().with_name("job.yaml")
APP_LABEL = "aideator-agent"
CONTAINER = "agent"
# Where the template mounts the workspace volume: what the runtime passes as WORKSPACE.
WORKSPACE = "/workspace"

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
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
               runtime_class: str = "", cache_claim: str = "",
               cache_dir: str = "") -> dict[str, Any]:
    """The batch/v1 Job running one variation; raises ValueError on anything the API
    server would reject (names, labels, env names) rather than letting it answer 422.
    ``cache_claim``: a PersistentVolumeClaim mounted at ``cache_dir``, the setup's package
    cache (the chart's ``agents.setupCache``)."""
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
    container["env"] = _env(container.get("env", []), env)
    if cache_claim:
        if not cache_dir.startswith("/"):
            raise ValueError(f"cache_dir must be an absolute path: {cache_dir!r}")
        pod["spec"]["volumes"].append({"name": "setup-cache", "persistentVolumeClaim": {
            "claimName": _check(_DNS1123_SUBDOMAIN, "cache_claim", cache_claim, 253)}})
        container["volumeMounts"].append({"name": "setup-cache", "mountPath": cache_dir})
    return job


def _env(fixed: list[dict[str, Any]], env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The template's entries, then ``env``: the agent's whole contract, its gateway
    credential included (no Secret: the model key stays with the service's gateway)."""
    reserved = {entry["name"] for entry in fixed}
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
