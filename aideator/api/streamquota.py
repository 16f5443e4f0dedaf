"""How many SSE streams a caller may hold open in this worker.

A stream holds one of the worker's connections for as long as the client likes, so one
token, or one leaked stream link, could otherwise take them all and leave none for the
health probes and the API. Each principal and each link gets a share (429 beyond it), and
all streams together stop ``HEADROOM`` short of the worker's connections (503 beyond).
Counted per worker: the connections being protected are the worker's own.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Callable

from .errors import ApiError

# Connections of a worker that streams never take: probes, API calls, the gateway.
HEADROOM = 100
RETRY_AFTER_SECONDS = 10


class StreamQuota:
    def __init__(self, *, per_principal: int, per_link: int, worker_connections: int) -> None:
        self._per_principal = per_principal
        self._per_link = per_link
        self._total = max(worker_connections - HEADROOM, 1)
        self._open: Counter[str] = Counter()
        self.streams = 0

    def take(self, principal_id: str | None, link: str | None) -> Callable[[], None]:
        """Count a new stream of this caller, or refuse it; returns its release."""
        keys = []
        if principal_id is not None:
            keys.append(("principal:" + principal_id, self._per_principal, "this token"))
        if link is not None:
            digest = hashlib.sha256(link.encode()).hexdigest()
            keys.append(("link:" + digest, self._per_link, "this stream link"))
        for key, limit, whose in keys:
            if self._open[key] >= limit:
                raise ApiError(429, "too_many_streams",
                               f"{whose} already holds {limit} open streams on this server: "
                               f"close one first", headers=self._retry())
        if self.streams >= self._total:
            raise ApiError(503, "too_many_streams",
                           "this server holds as many streams as it can: try again later",
                           headers=self._retry())
        for key, _, _ in keys:
            self._open[key] += 1
        self.streams += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.streams -= 1
            for key, _, _ in keys:
                self._open[key] -= 1
                if not self._open[key]:
                    del self._open[key]
        return release

    @staticmethod
    def _retry() -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
