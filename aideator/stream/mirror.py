"""Feeds this process's fan-out from the store, for runs whose events another replica (or
another worker) writes.

One greenlet per run with clients here, however many clients: the database sees
O(replicas x runs) reads, never O(clients). It reads when poked (a PostgreSQL notification,
or the run changing owners) and at least every ``poll_seconds``; while this process owns
the run, its event log publishes directly and the greenlet only waits.
"""
from __future__ import annotations

import logging

import gevent

from ..store.models import RUN_ENDED, Run, connection
from .eventlog import event_count, stored_frames
from .fanout import Fanout

log = logging.getLogger(__name__)

# While this process owns the run, how often to check whether it still does.
OWNED_RECHECK = 1.0


class Mirror:
    def __init__(self, fanout: Fanout, poll_seconds: float) -> None:
        self._fanout = fanout
        self._poll = poll_seconds
        self._greenlets: dict[str, gevent.Greenlet] = {}

    def subscribe(self, run_id: str) -> None:
        """A client of ``run_id`` is here (pair with :meth:`unsubscribe`)."""
        last = 0 if self._fanout.is_live(run_id) else self._stored_count(run_id)
        self._fanout.subscribe(run_id, last)
        greenlet = self._greenlets.get(run_id)
        if greenlet is None or greenlet.dead:
            self._greenlets[run_id] = gevent.spawn(self._follow, run_id)

    def unsubscribe(self, run_id: str) -> None:
        self._fanout.unsubscribe(run_id)

    @staticmethod
    def _stored_count(run_id: str) -> int:
        with connection():
            return event_count(run_id)

    def _follow(self, run_id: str) -> None:
        try:
            while True:
                feed = self._fanout.feed(run_id)
                if feed is None or feed.finished or self._fanout.closing:
                    return
                feed.poked.clear()
                if feed.owned:
                    feed.poked.wait(OWNED_RECHECK)
                    continue
                try:
                    self._catch_up(run_id, feed.last_seq)
                except Exception:  # noqa: BLE001 - the store may be briefly away: poll on
                    log.exception("reading the events of %s", run_id)
                feed.poked.wait(self._poll)
        finally:
            if self._greenlets.get(run_id) is gevent.getcurrent():
                del self._greenlets[run_id]

    def _catch_up(self, run_id: str, after: int) -> None:
        with connection():
            # Read before the events: a run that had ended then has all of them stored.
            ended = Run.select(Run.status).where(Run.id == run_id).scalar() in RUN_ENDED
            while True:
                batches = list(stored_frames(run_id, after))
                for frames, last, finished in batches:
                    self._fanout.publish(run_id, after + 1, last, frames, finished)
                    after = last
                if not batches:
                    break
            if ended:
                # (Normally its terminal event has ended the feed already.)
                self._fanout.end(run_id)
