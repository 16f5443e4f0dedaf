"""The list-then-watch loop every watcher of the Kubernetes runtime runs (kubespawner's
reflector), on a greenlet of its own.

List, remember the list's resourceVersion, watch from it; when the server ends the watch,
watch again from the last version seen; on 410 Gone relist; on errors back off
0.1 s → 30 s. Subclasses say what to list and watch and what to do with the objects.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterator

import gevent

from . import client as kube

log = logging.getLogger(__name__)

BACKOFF_MIN, BACKOFF_MAX = 0.1, 30.0
# The server ends watches when it likes (30-60 min); asking for less keeps the read
# timeout meaningful on connections that silently died.
WATCH_TIMEOUT_SECONDS = 300


class Reflector:
    """Subclasses implement ``_list``, ``_watch``, ``_replace`` and ``_apply``; ``_failed``
    and ``_recovered`` hear about API trouble."""

    what = "watch"   # for the logs

    def __init__(self) -> None:
        self._greenlet: gevent.Greenlet | None = None
        self.synced = False            # a first list has been read

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    @property
    def running(self) -> bool:
        return self._greenlet is not None

    # -- what subclasses provide -----------------------------------------------------------
    def _list(self) -> dict[str, Any]:
        raise NotImplementedError

    def _watch(self, version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def _replace(self, items: list[dict[str, Any]]) -> None:
        """A fresh list: the whole truth (objects missing from it are gone)."""
        raise NotImplementedError

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        raise NotImplementedError

    def _failed(self, why: str) -> None:
        log.warning("%s: %s", self.what, why)

    def _recovered(self) -> None:
        pass

    # -- the loop ------------------------------------------------------------------------
    def _run(self) -> None:
        backoff, version = BACKOFF_MIN, None
        while True:
            try:
                if version is None:
                    listing = self._list()
                    self._replace(listing.get("items") or [])
                    self.synced = True
                    version = listing["metadata"]["resourceVersion"]
                events = self._watch(version, WATCH_TIMEOUT_SECONDS)
                self._recovered()
                backoff, opened, seen = BACKOFF_MIN, time.monotonic(), 0
                for event in events:
                    seen += 1
                    version = event["object"]["metadata"].get("resourceVersion") or version
                    if event["type"] != "BOOKMARK":
                        self._apply(event["type"], event["object"])
                # The server ended the watch: carry on from the last version seen (after a
                # pause if it ended at once, so a misbehaving server is not hammered).
                if not seen and time.monotonic() - opened < 1:
                    gevent.sleep(BACKOFF_MIN)
            except kube.Gone:
                log.info("%s: resourceVersion %s expired; relisting", self.what, version)
                version = None
            except kube.KubeError as exc:
                self._failed(str(exc))
                gevent.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            except Exception as exc:  # noqa: BLE001 - a surprise must not end the watch
                log.exception("%s failed", self.what)
                self._failed(f"unexpected {type(exc).__name__}: {exc}")
                version = None
                gevent.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
