"""Watch streams: JSON lines of ADDED/MODIFIED/DELETED events, ended when the server likes.

Semantics of the real API server reproduced here: without a resourceVersion (or with "0")
a watch starts with a synthetic ADDED per existing object; with one, it replays every later
change; a version older than the history yields one ERROR event carrying a 410 Expired
Status (HTTP status stays 200) and the stream ends. Streams end cleanly after
``timeoutSeconds`` (capped by the server's maximum) or abruptly when a test cuts them.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterator

from .logs import StreamCut
from .status import ApiError
from .store import Store

_KINDS = {"jobs": ("batch/v1", "Job"), "pods": ("v1", "Pod"), "secrets": ("v1", "Secret"),
          "events": ("v1", "Event")}


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


class Watches:
    def __init__(self, store: Store, *, max_seconds: float, bookmark_seconds: float) -> None:
        self._store = store
        self._max_seconds = max_seconds
        self._bookmark_seconds = bookmark_seconds
        self._cuts: list[bool] = []
        self.open = 0
        self._lock = threading.Lock()

    def cut(self, *, abrupt: bool = False) -> None:
        """End every open watch now (cleanly, or by dropping the connection)."""
        with self._store.cond:
            self._cuts.append(abrupt)
            self._store.cond.notify_all()

    def stream(self, resource: str, namespace: str | None, *, resource_version: str | None,
               timeout_seconds: float | None, match: Callable[[dict[str, Any]], bool],
               bookmarks: bool) -> Iterator[bytes]:
        limit = self._max_seconds if timeout_seconds is None else min(timeout_seconds,
                                                                     self._max_seconds)
        deadline = time.monotonic() + limit
        with self._store.cond:
            cuts_seen = len(self._cuts)
            if resource_version in (None, "", "0"):
                items, cursor = self._store.list(resource, namespace, match)
                initial = [_line("ADDED", item) for item in items]
            else:
                cursor, initial = int(resource_version), []
        yield from initial
        last_bookmark = time.monotonic()
        with self._lock:
            self.open += 1
        try:
            while True:
                with self._store.cond:
                    if len(self._cuts) > cuts_seen:
                        raise StreamCut(any(self._cuts[cuts_seen:]))
                    if self._store.closed:
                        return
                    try:
                        events, latest = self._store.events_after(cursor, resource, namespace)
                    except ApiError as e:  # 410: the history no longer reaches back there
                        yield _line("ERROR", e.status())
                        return
                    if not events:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return
                        if not (bookmarks and time.monotonic() - last_bookmark
                                >= self._bookmark_seconds):
                            self._store.cond.wait(min(remaining, 0.1))
                            continue
                    cursor = latest
                for event in events:
                    if match(event.object):
                        yield _line(event.type, event.object)
                if bookmarks and time.monotonic() - last_bookmark >= self._bookmark_seconds:
                    last_bookmark = time.monotonic()
                    api_version, kind = _KINDS.get(resource, ("v1", resource))
                    yield _line("BOOKMARK", {"kind": kind, "apiVersion": api_version,
                                             "metadata": {"resourceVersion": str(cursor)}})
        finally:
            with self._lock:
                self.open -= 1
