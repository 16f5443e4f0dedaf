"""What a pod's and a Job's status say about a variation: pure functions of the objects
as the API returns them (no API calls), so each reading is tested on plain dicts."""
from __future__ import annotations

from typing import Any, Mapping

from ..base import Exited

# Waiting reasons that will not fix themselves: the variation fails at once.
FAIL_TO_START = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                           "CreateContainerConfigError"})
# The Kubernetes reasons a failure is described by, as causes (``base.CAUSES``).
CAUSE_OF_REASON = {"Unschedulable": "unschedulable", "ErrImagePull": "image_pull",
                   "ImagePullBackOff": "image_pull", "InvalidImageName": "image_pull",
                   "CreateContainerConfigError": "start_failed",
                   "DeadlineExceeded": "deadline", "BackoffLimitExceeded": "exit_code"}


def container_state(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The agent container's ``state`` ({} before the kubelet reports it)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == "agent":
            return status.get("state") or {}
    return (statuses[0].get("state") or {}) if statuses else {}


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """A true condition of this type, looked up by type (their order means nothing)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def start_failure(pod: Mapping[str, Any]) -> str | None:
    """Why the pod will never start, or None."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if (cond.get("type") == "PodScheduled" and cond.get("status") == "False"
                and cond.get("reason") == "Unschedulable"):
            return f"Unschedulable: {cond.get('message') or 'no node fits the pod'}"
    waiting = container_state(pod).get("waiting") or {}
    if waiting.get("reason") in FAIL_TO_START:
        return f"{waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
    return None


def failure_cause(failure: str) -> str:
    """The cause of a failure told by :func:`start_failure` or :func:`job_failure`
    (``"<Kubernetes reason>: <message>"``)."""
    return CAUSE_OF_REASON.get(failure.split(":", 1)[0], "other")


def memory_limit(pod: Mapping[str, Any]) -> str:
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") == "agent":
            return ((container.get("resources") or {}).get("limits") or {}).get(
                "memory", "none")
    return "none"


def container_exit(pod: Mapping[str, Any]) -> Exited | None:
    """The outcome the container's own end tells, or None while it has not ended."""
    term = container_state(pod).get("terminated")
    if term is None:
        return None
    code, reason = term.get("exitCode"), term.get("reason") or "Error"
    if code == 0:
        return Exited(True, "exit code 0", 0)
    if reason == "OOMKilled":
        return Exited(False, f"OOMKilled: the agent ran out of memory (limit "
                             f"{memory_limit(pod)})", 137 if code is None else code, "oom")
    return Exited(False, f"the agent exited with code {code} ({reason})", code, "exit_code")


def job_failure(job: Mapping[str, Any]) -> str | None:
    # FailureTarget comes first (while pods are being removed), Failed once they are gone.
    cond = condition(job, "Failed") or condition(job, "FailureTarget")
    if cond is None:
        return None
    return f"{cond.get('reason') or 'Failed'}: {cond.get('message') or ''}".rstrip(": ")
