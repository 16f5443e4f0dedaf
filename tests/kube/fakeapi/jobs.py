"""The Job controller, garbage collector and TTL controller of the fake cluster.

It keeps a Job's status (active/ready/succeeded/failed, SuccessCriteriaMet → Complete,
FailureTarget → Failed with BackoffLimitExceeded or DeadlineExceeded) in line with its
pods, replaces failed pods within ``backoffLimit``, enforces ``activeDeadlineSeconds``,
deletes finished Jobs after ``ttlSecondsAfterFinished``, holds the pods of a suspended Job
(``spec.suspend``; a merge patch resumes it, and the deadline counts from then) and
applies deletion propagation (to other dependents through ``gc``).
It records the Job's Events (SuccessfulCreate; a Warning with the failure's reason when the
Job fails, Completed when it succeeds). Note the API default for deleting a batch/v1 Job
is *Orphan*: its pods keep running.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from . import objects
from .events import JOB_CONTROLLER, EventRecorder
from .gc import GarbageCollector
from .kubelet import Kubelet
from .logs import LogBook
from .status import ApiError, bad_request, invalid
from .store import Store, now_rfc3339

TERMINAL = ("Succeeded", "Failed")
POLICIES = ("Orphan", "Background", "Foreground")
# The patch types the API server takes for a built-in kind (plain JSON is 415).
PATCH_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


@dataclass
class _JobState:
    namespace: str
    name: str
    succeeded: int = 0
    failed: int = 0
    counted: set[str] = field(default_factory=set)
    # (condition type, reason, message) decided but not final until pods are gone.
    outcome: tuple[str, str, str] | None = None
    finished: bool = False
    deleting: bool = False


class JobController:
    def __init__(self, store: Store, logs: LogBook, *, pod_grace_seconds: float,
                 events: EventRecorder, gc: GarbageCollector) -> None:
        self._store, self._logs = store, logs
        self._gc = gc
        self._events = events
        self._grace = pod_grace_seconds
        self._jobs: dict[str, _JobState] = {}
        self._timers: list[threading.Timer] = []
        self.kubelet: Kubelet  # wired by the server (they call each other)

    # -- API entry points ----------------------------------------------------------------
    def create_job(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        objects.check_namespace(body, namespace)
        objects.validate_job(body)
        job = objects.default_job(body)
        with self._store.cond:
            created = self._store.create("jobs", job)
            uid = created["metadata"]["uid"]
            self._jobs[uid] = _JobState(namespace, created["metadata"]["name"])
            if not created["spec"].get("suspend"):
                created = self._store.update("jobs", namespace, created["metadata"]["name"],
                                             lambda j: j["status"].update(
                                                 startTime=now_rfc3339()))
            self._sync(uid)
        if not created["spec"].get("suspend"):
            self._start_deadline(created)
        return created

    def patch_job(self, namespace: str, name: str, patch: Any,
                  content_type: str) -> dict[str, Any]:
        """A merge patch; only what the API server lets change (suspend, labels, ...)."""
        if content_type.split(";")[0].strip() not in PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted "
                           f"media types include: {', '.join(PATCH_TYPES)}")
        if not isinstance(patch, dict) or "__invalid__" in patch:
            raise bad_request("the body of the request was in an unknown format")
        with self._store.cond:
            job = self._store.get("jobs", namespace, name)
            patched = _merge(job, patch)
            for field in ("template", "selector", "completions", "completionMode"):
                if patched["spec"].get(field) != job["spec"].get(field):
                    raise invalid("jobs", name, [(f"spec.{field}", "Invalid value: field "
                                                  "is immutable")])
            if patched["metadata"].get("uid") != job["metadata"]["uid"] or \
                    patched["metadata"].get("name") != name:
                raise invalid("jobs", name, [("metadata", "Invalid value: field is "
                                              "immutable")])
            resumed = job["spec"].get("suspend") and not patched["spec"].get("suspend")
            suspended = patched["spec"].get("suspend") and not job["spec"].get("suspend")

            def apply(j: dict[str, Any]) -> None:
                j["metadata"] = patched["metadata"]
                j["spec"] = patched["spec"]
                if resumed:
                    j["status"]["startTime"] = now_rfc3339()
                    for c in j["status"].get("conditions") or []:
                        if c["type"] == "Suspended":
                            c.update(status="False", reason="Resumed",
                                     message="Job resumed",
                                     lastTransitionTime=now_rfc3339())
            if patched != job:
                if patched["spec"] != job["spec"]:
                    patched["metadata"]["generation"] = job["metadata"].get("generation", 1) + 1
                job = self._store.update("jobs", namespace, name, apply)
            uid = job["metadata"]["uid"]
            active = [p["metadata"]["name"] for p in self._pods(namespace, uid)
                      if not _done(p)] if suspended else []
            self._sync(uid)
        for pod in active:  # suspending deletes the Job's running pods
            self.delete_pod(namespace, pod)
        if resumed:
            self._events.emit(job, "Normal", "Resumed", "Job resumed", component=JOB_CONTROLLER)
            self._start_deadline(job)
        return job

    def _start_deadline(self, job: dict[str, Any]) -> None:
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline:
            self._later(deadline, self._deadline_exceeded, job["metadata"]["uid"],
                        job["status"].get("startTime"))

    def delete_job(self, namespace: str, name: str, policy: str | None) -> dict[str, Any]:
        policy = policy or "Orphan"
        if policy not in POLICIES:
            raise bad_request(f"unsupported propagation policy {policy!r}")
        with self._store.cond:
            job = self._store.get("jobs", namespace, name)
            uid = job["metadata"]["uid"]
            state = self._jobs.get(uid)
            if job["metadata"].get("deletionTimestamp"):
                return job
            if state:
                state.deleting = True
            if policy == "Foreground":
                def mark(j: dict[str, Any]) -> None:
                    j["metadata"].update(deletionTimestamp=now_rfc3339(),
                                         deletionGracePeriodSeconds=0,
                                         finalizers=["foregroundDeletion"])
                job = self._store.update("jobs", namespace, name, mark)
            else:
                job = self._store.remove("jobs", namespace, name)
                self._jobs.pop(uid, None)
            pods = self._pods(namespace, uid)
            self._gc.owner_deleted(namespace, uid, policy)
            if policy == "Orphan":
                for pod in pods:
                    self._store.update("pods", namespace, pod["metadata"]["name"],
                                       lambda p: p["metadata"].pop("ownerReferences", None))
                return job
        self._spawn(self._collect, namespace, name, uid, pods, policy == "Foreground")
        return job

    def delete_pod(self, namespace: str, name: str,
                   grace: float | None = None) -> dict[str, Any] | None:
        """Graceful pod deletion: mark, stop the container, then remove pod and log."""
        grace = self._grace if grace is None else min(grace, self._grace)
        with self._store.cond:
            pod = self._store.find("pods", namespace, name)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                return pod
            pod = self._store.update("pods", namespace, name, lambda p: p["metadata"].update(
                deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=int(grace)))
            self._on_pod(pod)
        self._spawn(self._finish_pod_deletion, namespace, name, grace)
        return pod

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()

    # -- reactions -----------------------------------------------------------------------
    def on_pod_change(self, pod: dict[str, Any]) -> None:
        """Called by the kubelet (under the store lock) after each pod status change."""
        self._on_pod(pod)

    def _on_pod(self, pod: dict[str, Any]) -> None:
        uid = (pod["metadata"].get("labels") or {}).get("controller-uid")
        if uid in self._jobs:
            self._sync(uid)

    def _finish_pod_deletion(self, namespace: str, name: str, grace: float) -> None:
        self.kubelet.stop((namespace, name), grace)
        with self._store.cond:
            pod = self._store.find("pods", namespace, name)
            if pod is None:
                return
            self._store.remove("pods", namespace, name)
            self._logs.drop((namespace, name))
            uid = (pod["metadata"].get("labels") or {}).get("controller-uid")
            state = self._jobs.get(uid or "")
            if state and pod["metadata"]["uid"] not in state.counted:
                # A pod deleted before it finished counts as failed.
                state.counted.add(pod["metadata"]["uid"])
                state.failed += 1
            if uid in self._jobs:
                self._sync(uid)

    def _collect(self, namespace: str, name: str, uid: str, pods: list[dict[str, Any]],
                 then_remove_job: bool) -> None:
        """Garbage collection of a deleted Job's pods (and, in Foreground, the Job after)."""
        threads = [self._spawn(self.delete_pod, namespace, p["metadata"]["name"])
                   for p in pods]
        for thread in threads:
            thread.join()
        for pod in pods:
            self._wait_gone(namespace, pod["metadata"]["name"])
        if then_remove_job:
            with self._store.cond:
                if self._store.find("jobs", namespace, name):
                    self._store.remove("jobs", namespace, name)
                self._jobs.pop(uid, None)

    def _wait_gone(self, namespace: str, name: str) -> None:
        with self._store.cond:
            self._store.cond.wait_for(lambda: self._store.find("pods", namespace, name) is None
                                      or self._store.closed, timeout=15)

    def _deadline_exceeded(self, uid: str, started: str | None = None) -> None:
        with self._store.cond:
            state = self._jobs.get(uid)
            if state is None or state.outcome is not None:
                return
            job = self._store.find("jobs", state.namespace, state.name)
            if job is None or job["spec"].get("suspend") or \
                    job["status"].get("startTime") != started:
                return  # suspended since: the deadline counts again from the resume
            state.outcome = ("Failed", "DeadlineExceeded",
                             "Job was active longer than specified deadline")
            self._sync(uid)
            active = [p["metadata"]["name"] for p in self._pods(state.namespace, uid)
                      if not _done(p)]
        for name in active:
            self.delete_pod(state.namespace, name)

    def _ttl_expired(self, uid: str) -> None:
        state = self._jobs.get(uid)
        if state is not None:
            try:
                self.delete_job(state.namespace, state.name, "Foreground")
            except Exception:  # already deleted by someone else
                pass

    # -- status --------------------------------------------------------------------------
    def _sync(self, uid: str) -> None:
        """Recompute the Job's status from its pods (caller holds the store lock)."""
        state = self._jobs.get(uid)
        if state is None:
            return
        job = self._store.find("jobs", state.namespace, state.name)
        if job is None or job["metadata"]["uid"] != uid:
            return
        pods = self._pods(state.namespace, uid)
        for pod in pods:
            phase = pod["status"].get("phase")
            if phase in TERMINAL and pod["metadata"]["uid"] not in state.counted:
                state.counted.add(pod["metadata"]["uid"])
                if phase == "Succeeded":
                    state.succeeded += 1
                else:
                    state.failed += 1
        active = [p for p in pods if not _done(p)]
        # Pods being deleted still run until their grace period ends: the Job is not
        # finished, and not replaced, before they are gone.
        terminating = [p for p in pods if _done(p) and p["status"].get("phase") not in TERMINAL]
        spec = job["spec"]
        if state.outcome is None and not state.deleting:
            if state.succeeded >= spec.get("completions", 1):
                state.outcome = ("Complete", "CompletionsReached",
                                 "Reached expected number of succeeded pods")
            elif state.failed > spec.get("backoffLimit", 6):
                state.outcome = ("Failed", "BackoffLimitExceeded",
                                 "Job has reached the specified backoff limit")
            elif spec.get("suspend"):
                pass  # no pods while suspended
            elif not active and not terminating:
                new_pod = self._store.create("pods", objects.pod_for_job(job))
                self._events.emit(job, "Normal", "SuccessfulCreate",
                                  f"Created pod: {new_pod['metadata']['name']}",
                                  component=JOB_CONTROLLER)
                self.kubelet.start(new_pod)
                active = [new_pod]
        newly_finished = (state.outcome is not None and not active and not terminating
                          and not state.finished)
        if newly_finished:
            state.finished = True
        ready = sum(1 for p in active if _ready(p))

        def mutate(j: dict[str, Any]) -> None:
            status = j["status"]
            # Zero counts are omitted (omitempty) except ready/terminating.
            for key, value in (("active", len(active)), ("succeeded", state.succeeded),
                               ("failed", state.failed)):
                if value:
                    status[key] = value
                else:
                    status.pop(key, None)
            status.update(ready=ready, terminating=len(terminating), uncountedTerminatedPods={})
            if spec.get("suspend") and not any(c["type"] == "Suspended"
                                               and c["status"] == "True"
                                               for c in status.get("conditions") or []):
                now = now_rfc3339()
                status["conditions"] = [c for c in status.get("conditions") or []
                                        if c["type"] != "Suspended"] + [
                    {"type": "Suspended", "status": "True", "reason": "JobSuspended",
                     "message": "Job suspended", "lastProbeTime": now,
                     "lastTransitionTime": now}]
            if state.outcome is not None:
                _set_outcome(status, state.outcome, final=state.finished)

        if _changed(job, mutate):
            self._store.update("jobs", state.namespace, state.name, mutate)
        if newly_finished and state.outcome is not None:
            kind, reason, message = state.outcome
            if kind == "Failed":
                self._events.emit(job, "Warning", reason, message, component=JOB_CONTROLLER)
            else:
                self._events.emit(job, "Normal", "Completed", "Job completed",
                                  component=JOB_CONTROLLER)
        if newly_finished:
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None:
                self._later(ttl, self._ttl_expired, uid)

    def _pods(self, namespace: str, uid: str) -> list[dict[str, Any]]:
        pods, _ = self._store.list("pods", namespace, lambda p: (
            (p["metadata"].get("labels") or {}).get("controller-uid") == uid))
        return pods

    # -- plumbing ------------------------------------------------------------------------
    def _later(self, seconds: float, fn: Any, *args: Any) -> None:
        timer = threading.Timer(seconds, fn, args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    @staticmethod
    def _spawn(fn: Any, *args: Any) -> threading.Thread:
        thread = threading.Thread(target=fn, args=args, daemon=True)
        thread.start()
        return thread


def _done(pod: dict[str, Any]) -> bool:
    return (pod["status"].get("phase") in TERMINAL
            or bool(pod["metadata"].get("deletionTimestamp")))


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod["status"].get("conditions") or [])


def _set_outcome(status: dict[str, Any], outcome: tuple[str, str, str], final: bool) -> None:
    kind, reason, message = outcome
    interim = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
    conditions = status.setdefault("conditions", [])
    have = {c["type"] for c in conditions}
    for wanted in (interim, kind) if final else (interim,):
        if wanted not in have:
            now = now_rfc3339()
            conditions.append({"type": wanted, "status": "True", "reason": reason,
                               "message": message, "lastProbeTime": now,
                               "lastTransitionTime": now})
    if final and kind == "Complete":
        status.setdefault("completionTime", now_rfc3339())


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null deletes; objects merge; anything else replaces)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _changed(job: dict[str, Any], mutate: Any) -> bool:
    probe = copy.deepcopy(job)
    mutate(probe)
    return probe != job

