"""Events of the fake cluster, recorded the way each component of a real one records them.

core/v1 Events are objects of their own: ``involvedObject`` names what they are about,
``type`` is Normal or Warning. Two recorders coexist in a cluster, and clients see both
shapes through the core/v1 API:

- the legacy recorder (kubelet, Job controller): ``source.component``, ``count``,
  ``firstTimestamp``/``lastTimestamp``; a repeat of the same event increments ``count`` on
  the same object;
- the events.k8s.io recorder (the scheduler): ``eventTime``, ``reportingComponent``,
  ``action``, no ``count``/timestamps; a repeat updates ``series`` (count, lastObservedTime).

Names are ``<object name>.<hex of the time in ns>``, as the recorders make them.
"""
from __future__ import annotations

import datetime
import time
from typing import Any

from .store import Store, now_rfc3339

SCHEDULER = "default-scheduler"
KUBELET = "kubelet"
JOB_CONTROLLER = "job-controller"


def _micro_time() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventRecorder:
    def __init__(self, store: Store) -> None:
        self._store = store
        # (object uid, type, reason, message, component) -> event name, for repeats
        self._seen: dict[tuple[str, str, str, str, str], tuple[str, str]] = {}

    def emit(self, obj: dict[str, Any], type_: str, reason: str, message: str, *,
             component: str, node: str | None = None) -> dict[str, Any]:
        """Record an event about ``obj`` (a stored object); a repeat updates the first."""
        meta = obj["metadata"]
        key = (meta["uid"], type_, reason, message, component)
        with self._store.cond:
            known = self._seen.get(key)
            if known is not None and self._store.find("events", *known) is not None:
                return self._store.update("events", *known, self._repeat)
            event = self._new(obj, type_, reason, message, component, node)
            created = self._store.create("events", event)
            self._seen[key] = (meta["namespace"], created["metadata"]["name"])
            return created

    def _new(self, obj: dict[str, Any], type_: str, reason: str, message: str,
             component: str, node: str | None) -> dict[str, Any]:
        meta = obj["metadata"]
        event: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}",
                         "namespace": meta["namespace"]},
            "involvedObject": {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
                               "namespace": meta["namespace"], "name": meta["name"],
                               "uid": meta["uid"],
                               "resourceVersion": meta.get("resourceVersion", "")},
            "type": type_, "reason": reason, "message": message}
        if component == SCHEDULER:   # events.k8s.io/v1, read back through core/v1
            event.update(eventTime=_micro_time(), reportingComponent=component,
                         reportingInstance=f"{component}-fake", action="Scheduling",
                         source={}, firstTimestamp=None, lastTimestamp=None)
        else:
            now = now_rfc3339()
            event.update(source={"component": component, **({"host": node} if node else {})},
                         count=1, firstTimestamp=now, lastTimestamp=now, eventTime=None,
                         reportingComponent=component, reportingInstance=node or "")
        return event

    @staticmethod
    def _repeat(event: dict[str, Any]) -> None:
        if event.get("eventTime"):
            series = event.get("series") or {"count": 1}
            event["series"] = {"count": series["count"] + 1,
                               "lastObservedTime": _micro_time()}
        else:
            event["count"] = int(event.get("count") or 1) + 1
            event["lastTimestamp"] = now_rfc3339()
