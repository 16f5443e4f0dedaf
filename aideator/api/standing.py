"""Whether an open SSE stream may go on: the principal that opened it still exists (its
token was not revoked) and so does its run (not deleted).

A stream is authorised once, when it opens, and may then stay open for hours: each stream
asks again every half heartbeat, so a revoked principal's streams, and the streams of a
deleted run, end within one heartbeat. The answers are shared by every stream of this
process for just under that half heartbeat: a principal's hundred streams cost one
indexed query per half heartbeat, not a hundred.
"""
from __future__ import annotations

import time
from typing import Callable

from ..access.auth import ENV_ADMIN_ID, Principal, principal_by_id
from ..config import Settings
from ..store.models import Run, connection

# Why a stream ended for good: the reason of its final ``stream_closed`` event.
REVOKED = "revoked"
DELETED = "deleted"


class Standing:
    """Answers shared by the streams of one process, each re-read when older than
    ``max_age`` seconds."""

    def __init__(self, settings: Settings, max_age: float) -> None:
        self._settings = settings
        self._max_age = max_age
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}

    def _fresh(self, key: tuple[str, str], read: Callable[[], bool]) -> bool:
        now = time.monotonic()
        known = self._known.get(key)
        if known is not None and now - known[0] < self._max_age:
            return known[1]
        if len(self._known) > 10_000:   # forget answers nobody asked for lately
            self._known = {k: v for k, v in self._known.items()
                           if now - v[0] < self._max_age}
        with connection():
            alive = read()
        self._known[key] = (time.monotonic(), alive)
        return alive

    def check(self, principal: Principal | None, run_id: str) -> str | None:
        """None while the stream may go on, else why it may not (REVOKED, DELETED)."""
        if principal is not None and principal.id != ENV_ADMIN_ID:
            if not self._fresh(("principal", principal.id),
                               lambda: principal_by_id(principal.id, self._settings)
                               is not None):
                return REVOKED
        if not self._fresh(("run", run_id),
                           lambda: Run.select(Run.id).where(Run.id == run_id).exists()):
            return DELETED
        return None
