"""Warning events of the agents' Jobs and pods: one watch per namespace per process.

Kubernetes records why a pod does not run as Events (FailedScheduling with the
scheduler's message, FailedMount, image pulls that fail, a Job past its deadline). Events
are objects of their own and carry no labels of the object they are about, so they cannot
be selected by run: watching them per variation (by ``involvedObject.name``) would take a
watch for its Job and one for each of its pods. Instead the runtime keeps a single watch of
its namespace's Warning events (``type=Warning``) while it follows any variation, keeps
those about agent Jobs and pods, and hands each variation the ones of its own Job and pods.
API traffic stays one watch per process, whatever the number of runs and variations (in a
namespace of their own, as in the production values, nearly every Warning is an agent's).

When a variation fails, its warnings are also listed directly by object name, so one
recorded just before the end (the scheduler's reason for an unschedulable pod) is never
left behind the end in the stream by a watch that lags.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Iterable, Iterator

import gevent.event

from ... import naming
from . import client as kube
from ..base import WarningEvent
from .reflector import Reflector

log = logging.getLogger(__name__)

WARNINGS = "type=Warning"
KINDS = {"Job": "job", "Pod": "pod"}   # the objects of a variation, as kubectl names them
MAX_CACHED = 5000                       # events kept (all runs' agents in the namespace)
MAX_MESSAGE = 2000
# A pod that failed to start: how long its scheduler's or kubelet's Warning may take to
# arrive after the pod's status said so (they are recorded separately).
SETTLE_SECONDS = 1.0


def job_of(event: dict[str, Any]) -> str | None:
    """The agent Job the event is about (its own, or one of its pods'), else None."""
    obj = event.get("involvedObject") or {}
    name = obj.get("name") or ""
    if not name.startswith(naming.JOB_PREFIX):
        return None
    if obj.get("kind") == "Job":
        return name
    if obj.get("kind") == "Pod":
        return name.rsplit("-", 1)[0]   # the Job controller names pods <job>-<5 characters>
    return None


def _time(value: Any) -> str | None:
    """RFC 3339 as the API gives it (seconds or microseconds), in the API's own format."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(
        timespec="milliseconds") + "Z"


def warning_of(event: dict[str, Any]) -> WarningEvent:
    """The warning an Event records. Both recorders' shapes: legacy (count, first/last
    timestamp) and events.k8s.io (eventTime, series), as core/v1 shows them."""
    obj, series = event.get("involvedObject") or {}, event.get("series") or {}
    created = (event.get("metadata") or {}).get("creationTimestamp")
    first = event.get("firstTimestamp") or event.get("eventTime") or created
    last = (series.get("lastObservedTime") or event.get("lastTimestamp")
            or event.get("eventTime") or first)
    return WarningEvent(
        reason=str(event.get("reason") or "Unknown"),
        message=str(event.get("message") or "").strip()[:MAX_MESSAGE],
        object=f"{KINDS.get(obj.get('kind'), str(obj.get('kind')).lower())}/{obj.get('name')}",
        count=int(series.get("count") or event.get("count") or 1),
        first_seen=_time(first), last_seen=_time(last))


class WarningWatcher(Reflector):
    """The namespace's Warning events about agent Jobs and pods (run by the runtime while
    it follows variations)."""

    def __init__(self, client: kube.Kube, *, namespace: str) -> None:
        super().__init__()
        self._kube, self._namespace = client, namespace
        self.what = f"warning events watch in {namespace}"
        self._events: dict[str, dict[str, Any]] = {}     # uid -> event, oldest first
        self._jobs: dict[str, dict[str, None]] = {}      # job -> uids of its events, in order
        self._wake: dict[str, gevent.event.Event] = {}   # job -> its follower's wake-up
        self._failures = 0

    def subscribe(self, job: str, wake: gevent.event.Event) -> None:
        self._wake[job] = wake

    def unsubscribe(self, job: str) -> None:
        self._wake.pop(job, None)

    def events_of(self, job: str) -> list[dict[str, Any]]:
        return [self._events[uid] for uid in self._jobs.get(job, ())]

    # -- the reflector ---------------------------------------------------------------------
    def _list(self) -> dict[str, Any]:
        return self._kube.list_events(namespace=self._namespace, field_selector=WARNINGS)

    def _watch(self, version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        return self._kube.watch_events(namespace=self._namespace, field_selector=WARNINGS,
                                       resource_version=version,
                                       timeout_seconds=timeout_seconds)

    def _replace(self, items: list[dict[str, Any]]) -> None:
        self._events.clear()
        self._jobs.clear()
        for event in items:
            self._apply("ADDED", event)
        for wake in self._wake.values():
            wake.set()

    def _apply(self, kind: str, event: dict[str, Any]) -> None:
        job = job_of(event)
        if job is None:
            return
        uid = event["metadata"].get("uid") or event["metadata"]["name"]
        self._forget(uid)
        if kind != "DELETED":   # events expire (1 h by default); what was said stays said
            self._events[uid] = event
            self._jobs.setdefault(job, {})[uid] = None
            while len(self._events) > MAX_CACHED:
                self._forget(next(iter(self._events)))
        if job in self._wake:
            self._wake[job].set()

    def _forget(self, uid: str) -> None:
        event = self._events.pop(uid, None)
        if event is not None:
            self._jobs.get(job_of(event) or "", {}).pop(uid, None)

    def _failed(self, why: str) -> None:
        # The pod watch tells users about API trouble; this only tells the operator (a 403
        # here is a Role without events list/watch: an older chart).
        self._failures += 1
        if self._failures == 1:
            log.warning("%s: %s; retrying", self.what, why)

    def _recovered(self) -> None:
        if self._failures:
            log.info("%s: answering again", self.what)
        self._failures = 0


class VariationWarnings:
    """The warnings of one variation's Job and pods, each passed on when first seen here and
    again when it changes (a repeat); whoever stores them decides what is news."""

    def __init__(self, watcher: WarningWatcher, client: kube.Kube, *, namespace: str,
                 job: str, wake: gevent.event.Event) -> None:
        self._watcher, self._kube = watcher, client
        self._namespace, self._job, self._wake = namespace, job, wake
        self._passed: dict[tuple[str, str, str], tuple[int, str | None]] = {}
        watcher.subscribe(job, wake)

    def pending(self) -> list[WarningEvent]:
        return self._changed(self._watcher.events_of(self._job))

    def final(self, pods: Iterable[str], *, settle: bool) -> list[WarningEvent]:
        """At a failed end: the warnings listed directly, then, when ``settle`` (a pod that
        never started) and none of a pod is known yet, what the watch brings in a moment."""
        listed: list[dict[str, Any]] = []
        for name in (self._job, *sorted(set(pods))):
            try:
                listed += self._kube.list_events(
                    namespace=self._namespace,
                    field_selector=f"involvedObject.name={name},{WARNINGS}").get("items") or []
            except kube.KubeError as exc:
                log.warning("listing the warnings of %s: %s", name, exc)
        found = self._changed([*listed, *self._watcher.events_of(self._job)])
        deadline = time.monotonic() + SETTLE_SECONDS
        while settle and not self._about_a_pod() and time.monotonic() < deadline:
            self._wake.clear()
            self._wake.wait(deadline - time.monotonic())
            found += self.pending()
        return found

    def close(self) -> None:
        self._watcher.unsubscribe(self._job)

    def _about_a_pod(self) -> bool:
        return any(obj.startswith("pod/") for obj, _, _ in self._passed)

    def _changed(self, events: list[dict[str, Any]]) -> list[WarningEvent]:
        latest: dict[tuple[str, str, str], WarningEvent] = {}
        for event in events:
            if job_of(event) != self._job:
                continue
            warning = warning_of(event)
            key = (warning.object, warning.reason, warning.message)
            if key not in latest or _later(warning, latest[key]):
                latest[key] = warning
        changed = []
        # In the order the cluster first saw them (stable: ties keep the order of arrival).
        for key, warning in sorted(latest.items(), key=lambda kv: kv[1].first_seen or ""):
            state = (warning.count, warning.last_seen)
            if self._passed.get(key) != state:
                self._passed[key] = state
                changed.append(warning)
        return changed


def _later(a: WarningEvent, b: WarningEvent) -> bool:
    return (a.last_seen or "", a.count) > (b.last_seen or "", b.count)


__all__ = ["VariationWarnings", "WarningWatcher", "job_of", "warning_of"]
