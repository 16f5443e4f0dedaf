"""Following one variation's Job: its pod's states, its log and its outcome.

The run's shared :class:`PodWatcher` says what the pod is doing; this turns that into
observations (waiting reasons, a failed start, the start, output lines with a resume
cursor, the exit, and the cluster's warnings about the Job and its pods) and reads the
pod's log itself, on the variation's collector greenlet, one stream at a time. A log
stream that ends is resumed after the cursor unless the container had already ended when
the stream was opened (only then is the log complete).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator, Mapping

import gevent

from . import client as kube
from ..base import Exited, Notice, Observation, Output, Started, VariationSpec, Waiting
from .eventwatch import VariationWarnings
from .podlog import Cursor, LogReader
from .podstatus import (condition, container_exit, container_state, failure_cause, job_failure,
                        start_failure)
from .podwatch import PodState, PodWatcher

log = logging.getLogger(__name__)

# How often a variation without a pod (or waiting to start) checks on its Job.
JOB_POLL_SECONDS = 5.0
CANCEL_POLL_SECONDS = 0.5
# After a log stream ends cleanly: how long the pod watch gets to report the exit before
# the end is taken for a cut stream and the log is resumed.
SETTLE_SECONDS = 1.0
RETRY_MIN, RETRY_MAX = 0.1, 10.0
DELETE_ATTEMPTS = 3


class VariationFollower:
    """Observations of one variation whose Job exists, until it has exited."""

    def __init__(self, *, client: kube.Kube, spec: VariationSpec, watcher: PodWatcher,
                 warnings: VariationWarnings, handle: Mapping[str, Any], cursor: str | None,
                 cancelled: Callable[[], bool]) -> None:
        self._kube, self._spec, self._watcher = client, spec, watcher
        self._warnings = warnings
        self._pods_seen: set[str] = set()
        self._handle = dict(handle)
        self._job, self._namespace = handle["job"], handle["namespace"]
        self._cancelled = cancelled
        self._pod: str | None = handle.get("pod")
        # The cursor belongs to the pod that was being read.
        self._reader = LogReader(Cursor.parse(cursor) if self._pod else None)
        self._event = watcher.event(spec.index)
        self._notice_at = 0
        self._log_trouble = False
        self._ended: str | None = None  # a pod known (by a direct read) to have ended

    # -- the main loop -------------------------------------------------------------------
    def observations(self) -> Iterator[Observation]:
        try:
            for obs in self._observations():
                if isinstance(obs, Exited) and not obs.ok:
                    # Why it failed may be in a warning the watch has not brought yet.
                    settle = self._pod is None and bool(self._pods_seen) \
                        and not self._cancelled()
                    yield from self._warnings.final(self._pods_seen, settle=settle)
                yield obs
        finally:
            self._warnings.close()

    def _observations(self) -> Iterator[Observation]:
        waiting_said, job_checked = None, time.monotonic()
        while True:
            self._event.clear()
            yield from self._notices()
            state = self._watcher.pod(self._spec.index)
            if state is not None:
                self._pods_seen.add(state.pod["metadata"]["name"])
            if state is not None and self._pod and state.pod["metadata"]["name"] != self._pod:
                if state.deleted:  # an earlier pod's deletion: not ours
                    state = None
                else:  # a replacement pod: its log starts afresh
                    self._pod, self._reader = None, LogReader()
            if state is None:
                poll = CANCEL_POLL_SECONDS if self._cancelled() else JOB_POLL_SECONDS
                if self._watcher.synced and time.monotonic() - job_checked >= poll:
                    job_checked = time.monotonic()
                    ended = self._job_ended_without_pod()
                    if ended is not None:
                        yield ended
                        return
                self._event.wait(poll)
                continue
            pod, name = state.pod, state.pod["metadata"]["name"]
            if state.deleted:
                yield self._outcome(pod, deleted=True)
                return
            failure = start_failure(pod)
            if failure is not None:
                self.delete_job()
                yield Exited(False, f"Pod failed to start: {failure}",
                             cause=failure_cause(failure))
                return
            container = container_state(pod)
            if "running" in container or "terminated" in container:
                if self._pod is None:
                    self._pod = self._handle["pod"] = name
                    yield Started(name, dict(self._handle))
                yield (yield from self._follow_log(name))
                return
            waiting = (container.get("waiting") or {}).get("reason") or \
                (pod.get("status") or {}).get("phase") or "Pending"
            said = f"Pod {name}: {waiting}"
            if said != waiting_said:
                waiting_said = said
                yield Waiting(said)
            self._event.wait(CANCEL_POLL_SECONDS if self._cancelled() else JOB_POLL_SECONDS)

    def _notices(self) -> Iterator[Observation]:
        messages, self._notice_at = self._watcher.notices_since(self._notice_at)
        for message in messages:
            yield Notice(message)
        yield from self._warnings.pending()

    # -- the log -------------------------------------------------------------------------
    def _follow_log(self, name: str) -> Iterator[Observation]:
        """Read the pod's log to its end; returns (not yields) the variation's Exited."""
        backoff = RETRY_MIN
        while True:
            state = self._watcher.pod(self._spec.index)
            if state is None or state.deleted or state.pod["metadata"]["name"] != name:
                return self._outcome(state.pod if state else None, deleted=True)
            # Decided before opening: a log opened after the container ended is complete.
            final = "terminated" in container_state(state.pod) or self._ended == name
            since = self._reader.begin()
            try:
                stream = self._kube.pod_log(namespace=self._namespace, name=name,
                                            since_time=since)
            except kube.NotFound:  # the pod (and its log) is gone
                return self._outcome(state.pod, deleted=True)
            except kube.BadRequest:  # "waiting to start": the pod watch will say more
                self._event.clear()
                self._event.wait(JOB_POLL_SECONDS)
                continue
            except kube.KubeError as exc:
                yield from self._log_interrupted(name, exc)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            self._log_trouble, backoff = False, RETRY_MIN
            try:
                for chunk in stream:
                    lines = self._reader.feed(chunk)
                    if lines:
                        yield Output(lines, self._cursor())
                    yield from self._notices()
                    gevent.sleep(0)  # let the other variations and the clients run
            except kube.KubeError as exc:
                yield from self._log_interrupted(name, exc)
                continue
            if final:
                lines = self._reader.end()
                if lines:
                    yield Output(lines, self._cursor())
                latest = self._watcher.pod(self._spec.index) or state
                return self._outcome(self._ended_pod(latest), deleted=latest.deleted)
            if not self._settled(name):
                yield Notice(f"Log stream of pod {name} ended while its container runs; "
                             f"resuming after {self._cursor() or 'the start'}")

    def _settled(self, name: str) -> bool:
        """Whether the container has ended, as a clean end of its log suggests: the pod
        watch gets a moment to say so, then the pod itself is asked (the watch may lag)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            state = self._watcher.pod(self._spec.index)
            if (state is None or state.deleted or state.pod["metadata"]["name"] != name
                    or "terminated" in container_state(state.pod)):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._event.clear()
            self._event.wait(remaining)
        try:
            pod = self._kube.get_pod(namespace=self._namespace, name=name)
        except kube.NotFound:
            return True  # gone: the next log request says so too
        except kube.KubeError as exc:
            log.warning("reading pod %s: %s", name, exc)
            return False
        if "terminated" in container_state(pod):
            self._ended = name
            return True
        return False

    def _ended_pod(self, state: PodState) -> Mapping[str, Any]:
        """The pod with its container's end, read directly if the watch has not caught up."""
        if state.deleted or "terminated" in container_state(state.pod):
            return state.pod
        try:
            return self._kube.get_pod(namespace=self._namespace,
                                      name=state.pod["metadata"]["name"])
        except kube.KubeError:
            return state.pod

    def _log_interrupted(self, name: str, exc: kube.KubeError) -> Iterator[Notice]:
        if not self._log_trouble:
            self._log_trouble = True
            yield Notice(f"Log stream of pod {name} interrupted ({exc}); resuming after "
                         f"{self._cursor() or 'the start'}")

    def _cursor(self) -> str:
        return str(self._reader.cursor) if self._reader.cursor else ""

    # -- outcomes ------------------------------------------------------------------------
    def _outcome(self, pod: Mapping[str, Any] | None, *, deleted: bool) -> Exited:
        exited = container_exit(pod) if pod else None
        removed = deleted or bool(pod and pod["metadata"].get("deletionTimestamp"))
        if exited is not None and (exited.ok or not removed
                                   or exited.reason.startswith("OOMKilled")):
            return exited
        # The pod was deleted before its agent ended by itself: the Job says why.
        job = self._read_job()
        if job is None:
            return Exited(False, "the Job was deleted", cause="deleted")
        failure = job_failure(job) if job else None
        # BackoffLimitExceeded only repeats that the pod failed: its exit says more.
        if failure and not failure.startswith("BackoffLimitExceeded"):
            return Exited(False, failure, cause=failure_cause(failure))
        if job and job["metadata"].get("deletionTimestamp"):
            return Exited(False, "the Job was deleted", cause="deleted")
        if exited is not None:
            return exited
        if failure:
            return Exited(False, failure, cause=failure_cause(failure))
        name = pod["metadata"]["name"] if pod else "of the Job"
        return Exited(False, f"the pod {name} was deleted before the agent finished",
                      cause="deleted")

    def _job_ended_without_pod(self) -> Exited | None:
        """With no pod to follow: an Exited when the Job is gone or finished."""
        job = self._read_job()
        if job is None:
            return Exited(False, "the Job was deleted", cause="deleted")
        if not job:
            return None  # the API did not answer; the watch's notices say so
        failure = job_failure(job)
        if failure:
            return Exited(False, failure, cause=failure_cause(failure))
        if job["metadata"].get("deletionTimestamp") and self._cancelled():
            return Exited(False, "the Job was deleted", cause="deleted")
        if condition(job, "Complete"):
            return Exited(True, "the Job completed (its pod was gone before its log could "
                                "be read)", 0)
        return None

    def _read_job(self) -> dict[str, Any] | None:
        """The Job; None when it is gone; {} when the API does not answer."""
        for attempt in range(3):
            try:
                return self._kube.get_job(namespace=self._namespace, name=self._job)
            except kube.NotFound:
                return None
            except kube.KubeError as exc:
                log.warning("reading Job %s: %s", self._job, exc)
                gevent.sleep(RETRY_MIN * 2 ** attempt)
        return {}

    def delete_job(self) -> None:
        delete_job(self._kube, namespace=self._namespace, name=self._job)


def delete_job(client: kube.Kube, *, namespace: str, name: str) -> bool:
    """Delete a Job and its pods (Foreground); True once it is gone or going."""
    for attempt in range(DELETE_ATTEMPTS):
        try:
            client.delete_job(namespace=namespace, name=name)
            return True
        except kube.NotFound:
            return True
        except kube.KubeError as exc:
            log.warning("deleting Job %s: %s", name, exc)
            if attempt + 1 < DELETE_ATTEMPTS:
                gevent.sleep(RETRY_MIN * 2 ** attempt)
    return False


__all__ = ["VariationFollower", "delete_job"]
