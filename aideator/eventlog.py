"""The append-only event log: every event gets a per-run sequence number, is committed
to the database in batches, and only then is published to the fan-out.

Variation and run state changes ride in the same transaction as the events that announce
them, together with each variation's output cursor, so after a crash the store never
says more (or less) than what was sent, and a resumed collector neither loses nor repeats
a line.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterator

import gevent

from . import sse
from .events import RUN_FINISHED
from .fanout import Fanout
from .models import Event, Run, Variation, db

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    run_id: str
    seq: int
    variation: int | None
    name: str
    data: str
    created_at: float


class EventLog:
    def __init__(self, fanout: Fanout, flush_interval: float, batch_size: int = 2000) -> None:
        self._fanout = fanout
        self._interval = flush_interval
        self._batch_size = batch_size
        self._seq: dict[str, int] = {}
        self._pending: list[_Pending] = []
        self._variation_updates: dict[tuple[str, int], dict[str, Any]] = {}
        self._run_updates: dict[str, dict[str, Any]] = {}
        self._timer: gevent.Greenlet | None = None
        self._retry_delay = flush_interval

    def last_seq(self, run_id: str) -> int:
        if run_id not in self._seq:
            self._seq[run_id] = (Event.select(Event.seq).where(Event.run == run_id)
                                 .order_by(Event.seq.desc()).limit(1).scalar() or 0)
        return self._seq[run_id]

    def append(self, run_id: str, event: tuple[str, str], *, variation: int | None = None,
               variation_update: dict[str, Any] | None = None,
               run_update: dict[str, Any] | None = None) -> int:
        """Queue one event (and the state it announces) for the next commit."""
        seq = self.last_seq(run_id) + 1
        self._seq[run_id] = seq
        name, data = event
        self._pending.append(_Pending(run_id, seq, variation, name, data, time.time()))
        self.update(run_id, variation=variation, variation_update=variation_update,
                    run_update=run_update)
        return seq

    def update(self, run_id: str, *, variation: int | None = None,
               variation_update: dict[str, Any] | None = None,
               run_update: dict[str, Any] | None = None) -> None:
        """Queue a state change that announces nothing (e.g. a cursor moving)."""
        if variation_update:
            self._variation_updates.setdefault((run_id, variation), {}).update(variation_update)
        if run_update:
            self._run_updates.setdefault(run_id, {}).update(run_update)
        if len(self._pending) >= self._batch_size and self._retry_delay == self._interval:
            self.flush()
        elif self._timer is None:
            self._timer = gevent.spawn_later(self._interval, self.flush)

    def forget(self, run_id: str) -> None:
        """Drop a finished run's counter (kept while any of its events is uncommitted)."""
        if not any(e.run_id == run_id for e in self._pending):
            self._seq.pop(run_id, None)

    def flush(self) -> None:
        """Commit and publish what is queued; if the database refuses, keep it all and
        retry with backoff."""
        if self._timer is not None and self._timer is not gevent.getcurrent():
            self._timer.kill(block=False)
        self._timer = None
        try:
            self._flush()
        except Exception:  # noqa: BLE001 - the batch stays queued for the retry
            self._retry_delay = min(self._retry_delay * 2, 5.0)
            log.exception("event log commit failed; retrying in %.2fs", self._retry_delay)
            self._timer = gevent.spawn_later(self._retry_delay, self.flush)
        else:
            self._retry_delay = self._interval

    def _flush(self) -> None:
        """Commit everything queued, then publish it. On failure nothing is published."""
        if not (self._pending or self._variation_updates or self._run_updates):
            return
        pending, variation_updates, run_updates = (
            self._pending, self._variation_updates, self._run_updates)
        self._pending, self._variation_updates, self._run_updates = [], {}, {}
        try:
            self._commit(pending, variation_updates, run_updates)
        except Exception:
            self._requeue(pending, variation_updates, run_updates)
            raise
        self._publish(pending)

    def _commit(self, pending: list[_Pending],
                variation_updates: dict[tuple[str, int], dict[str, Any]],
                run_updates: dict[str, dict[str, Any]]) -> None:
        with db.atomic():
            if pending:
                # executemany: one prepared statement for the whole batch.
                p = db.param
                sql = (f'INSERT INTO "{Event._meta.table_name}" '
                       f'("run_id", "seq", "variation", "name", "data", "created_at") '
                       f'VALUES ({p}, {p}, {p}, {p}, {p}, {p})')
                db.cursor().executemany(sql, [
                    (e.run_id, e.seq, e.variation, e.name, e.data, e.created_at)
                    for e in pending])
            for (run_id, index), fields in variation_updates.items():
                (Variation.update(**fields)
                 .where((Variation.run == run_id) & (Variation.index == index)).execute())
            for run_id, fields in run_updates.items():
                Run.update(**fields).where(Run.id == run_id).execute()

    def _requeue(self, pending: list[_Pending],
                 variation_updates: dict[tuple[str, int], dict[str, Any]],
                 run_updates: dict[str, dict[str, Any]]) -> None:
        self._pending[:0] = pending
        for key, fields in variation_updates.items():
            self._variation_updates[key] = {**fields, **self._variation_updates.get(key, {})}
        for key, fields in run_updates.items():
            self._run_updates[key] = {**fields, **self._run_updates.get(key, {})}

    def _publish(self, pending: list[_Pending]) -> None:
        by_run: dict[str, list[_Pending]] = {}
        for e in pending:
            by_run.setdefault(e.run_id, []).append(e)
        for run_id, events in by_run.items():
            self._fanout.publish(run_id, events[0].seq,
                                 [sse.frame(e.seq, e.name, e.data) for e in events],
                                 finished=events[-1].name == RUN_FINISHED)


def stored_frames(run_id: str, after: int, limit: int = 1000) -> Iterator[tuple[int, str, bytes]]:
    """Stored events after seq ``after`` as (seq, name, frame), oldest first."""
    rows = (Event.select(Event.seq, Event.name, Event.data)
            .where((Event.run == run_id) & (Event.seq > after))
            .order_by(Event.seq).limit(limit).tuples())
    for seq, name, data in rows:
        yield seq, name, sse.frame(seq, name, data)
