"""The fake cluster's state: objects, one global resourceVersion, and the watch history.

Like etcd behind the API server, every change gets the next resourceVersion and is kept in
a bounded history so watches can resume from a version; a version older than the history
answers 410 Expired, which is what forces clients to relist. One condition variable guards
everything (objects, history, pod logs, stream cuts) so any waiting stream wakes on change.
"""
from __future__ import annotations

import collections
import copy
import datetime
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from .status import already_exists, expired, not_found

Key = tuple[str, str, str]  # (resource, namespace, name)


def now_rfc3339() -> str:
    # metav1.Time serialises with second precision.
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    rv: int
    resource: str
    namespace: str
    type: str  # ADDED / MODIFIED / DELETED
    object: dict[str, Any]


class Store:
    """Thread-safe objects + history. Methods return deep copies: callers never alias state."""

    def __init__(self, *, history_limit: int = 10_000) -> None:
        self.cond = threading.Condition(threading.RLock())
        self._objects: dict[Key, dict[str, Any]] = {}
        self._history: collections.deque[Event] = collections.deque()
        self._history_limit = history_limit
        self._rv = 1000
        self._oldest = self._rv  # events after this version are still in the history
        self.closed = False

    @property
    def resource_version(self) -> int:
        with self.cond:
            return self._rv

    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        with self.cond:
            if key in self._objects:
                raise already_exists(resource, meta["name"])
            obj = copy.deepcopy(obj)
            obj["metadata"].setdefault("uid", str(uuid.uuid4()))
            obj["metadata"]["creationTimestamp"] = now_rfc3339()
            return self._commit(key, "ADDED", obj)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        with self.cond:
            obj = self._objects.get((resource, namespace, name))
            if obj is None:
                raise not_found(resource, name)
            return copy.deepcopy(obj)

    def find(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.cond:
            obj = self._objects.get((resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None,
             match: Callable[[dict[str, Any]], bool] = lambda o: True,
             ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects (namespace None = all) and the version they are current at."""
        with self.cond:
            items = [copy.deepcopy(o) for (res, ns, _), o in sorted(self._objects.items())
                     if res == resource and namespace in (None, ns) and match(o)]
            return items, self._rv

    def update(self, resource: str, namespace: str, name: str,
               mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``mutate`` to a copy and commit it as a MODIFIED event."""
        key = (resource, namespace, name)
        with self.cond:
            if key not in self._objects:
                raise not_found(resource, name)
            obj = copy.deepcopy(self._objects[key])
            mutate(obj)
            return self._commit(key, "MODIFIED", obj)

    def remove(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        key = (resource, namespace, name)
        with self.cond:
            obj = self._objects.get(key)
            if obj is None:
                raise not_found(resource, name)
            return self._commit(key, "DELETED", copy.deepcopy(obj))

    def events_after(self, rv: int, resource: str,
                     namespace: str | None) -> tuple[list[Event], int]:
        """Events newer than ``rv`` and the version to continue from; 410 once compacted."""
        with self.cond:
            if rv < self._oldest:
                raise expired(rv, self._oldest)
            events = [e for e in self._history if e.rv > rv and e.resource == resource
                      and namespace in (None, e.namespace)]
            return events, self._rv

    def compact(self) -> None:
        """Forget the history, as etcd compaction does: every older version becomes 410."""
        with self.cond:
            self._history.clear()
            self._oldest = self._rv
            self.cond.notify_all()

    def _commit(self, key: Key, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if kind == "DELETED":
            del self._objects[key]
        else:
            self._objects[key] = obj
        self._history.append(Event(self._rv, key[0], key[1], kind, copy.deepcopy(obj)))
        while len(self._history) > self._history_limit:
            self._oldest = self._history.popleft().rv
        self.cond.notify_all()
        return copy.deepcopy(obj)
