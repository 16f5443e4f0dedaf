"""The append-only event log: every event gets a per-run sequence number, is committed
to the database in batches, and only then is published to the fan-out.

Events are stored as the SSE frames clients receive, a batch of consecutive frames per
row: an agent can print thousands of lines a second, and one row per batch keeps the
database's cost per line small. Variation and run state changes ride in the same
transaction as the events that announce them, with each variation's output cursor, so
after a crash the store never says more (or less) than what was sent, and a resumed
collector neither loses nor repeats a line.

With several replicas, only a run's owner appends to its log, and each commit is fenced by
the owner's lease epoch (``own``): a replica that has lost a run stores nothing more for
it. After each commit, other replicas are told which runs have new events (``notify``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

import gevent
import gevent.lock

from ..ops import metrics
from ..store.models import EventBatch, Run, Variation, connection, write_transaction
from ..store.ownership import Leases
from . import notify, sse
from .events import RUN_FINISHED
from .fanout import Fanout

log = logging.getLogger(__name__)


class Batch(NamedTuple):
    """One run's queued events as one stored row: frames ``first`` to ``last``."""
    run_id: str
    first: int
    last: int
    frames: bytes
    finished: bool   # the frames end with run_finished

    @property
    def events(self) -> int:
        return self.last - self.first + 1


@dataclass
class _Pending:
    """What of one run waits for the next commit: its events (chunks of SSE frames) and
    the state changes they announce."""
    chunks: list[bytes] = field(default_factory=list)
    first: int = 0            # seq of the first queued event (while chunks is not empty)
    last: int = 0
    queued_at: float = 0.0    # when the first was queued (for the delivery lag)
    finished: bool = False
    variation_updates: dict[int | None, dict[str, Any]] = field(default_factory=dict)
    run_update: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return self.last - self.first + 1 if self.chunks else 0

    def batch(self, run_id: str) -> Batch:
        return Batch(run_id, self.first, self.last, b"".join(self.chunks), self.finished)

    def after(self, later: _Pending | None) -> _Pending:
        """This (older, uncommitted) state followed by what was queued ``later``: the
        later events come after these, the later field values win."""
        if later is None:
            return self
        older_events = bool(self.chunks)
        return _Pending(
            chunks=self.chunks + later.chunks,
            first=self.first if older_events else later.first,
            last=later.last if later.chunks else self.last,
            queued_at=self.queued_at if older_events else later.queued_at,
            finished=self.finished or later.finished,
            variation_updates={
                key: {**self.variation_updates.get(key, {}),
                      **later.variation_updates.get(key, {})}
                for key in self.variation_updates.keys() | later.variation_updates.keys()},
            run_update={**self.run_update, **later.run_update})


class EventLog:
    def __init__(self, fanout: Fanout, flush_interval: float, batch_size: int = 2000,
                 leases: Leases | None = None) -> None:
        self._fanout = fanout
        # Without leases (a single process that owns everything) commits are not fenced.
        self._leases = leases
        self._epochs: dict[str, int] = {}
        self._fenced: set[str] = set()
        self._interval = flush_interval
        self._batch_size = batch_size
        # The seq of each run's last event, stored or queued.
        self._seq: dict[str, int] = {}
        # Per run, what waits for the next commit; and how many events that is in all.
        self._pending: dict[str, _Pending] = {}
        self._queued = 0
        self._timer: gevent.Greenlet | None = None
        self._last_flush = 0.0
        self._retry_delay = flush_interval
        self._flushing = gevent.lock.Semaphore()

    def last_seq(self, run_id: str) -> int:
        if run_id not in self._seq:
            with connection():
                self._seq[run_id] = event_count(run_id)
        return self._seq[run_id]

    def own(self, run_id: str, epoch: int) -> None:
        """This process now writes the run's log, under lease ``epoch``: its next event
        continues from what is stored."""
        self._epochs[run_id] = epoch
        self._fenced.discard(run_id)
        pending = self._pending.get(run_id)
        if pending is None or not pending.chunks:
            self._seq.pop(run_id, None)

    def disown(self, run_id: str) -> None:
        """Stop writing the run's log; anything still queued for it is dropped (flush
        first to keep it)."""
        self._epochs.pop(run_id, None)
        self._fenced.discard(run_id)
        self._drop(run_id)

    def pending(self, run_id: str) -> bool:
        """Whether anything of the run waits to be committed."""
        return run_id in self._pending

    def _drop(self, run_id: str) -> None:
        pending = self._pending.pop(run_id, None)
        if pending is not None:
            self._queued = max(self._queued - pending.events, 0)
        self._seq.pop(run_id, None)

    def append(self, run_id: str, event: tuple[str, str], *, variation: int | None = None,
               variation_update: dict[str, Any] | None = None,
               run_update: dict[str, Any] | None = None) -> int:
        """Queue one event (and the state it announces) for the next commit."""
        name, data = event
        return self.extend(run_id, name, [data], variation=variation,
                           variation_update=variation_update, run_update=run_update)

    def extend(self, run_id: str, name: str, datas: list[str], *,
               variation: int | None = None,
               variation_update: dict[str, Any] | None = None,
               run_update: dict[str, Any] | None = None) -> int:
        """Queue several events of one kind at once; returns the last one's seq."""
        if run_id in self._fenced:
            return 0   # another replica owns the run now: this one's words are void
        first = self.last_seq(run_id) + 1
        pending = self._pending.setdefault(run_id, _Pending())
        if not pending.chunks:
            pending.first, pending.queued_at = first, time.monotonic()
        pending.chunks.append(sse.frames(first, name, datas))
        self._seq[run_id] = pending.last = first + len(datas) - 1
        self._queued += len(datas)
        if name == RUN_FINISHED:
            pending.finished = True
        self.update(run_id, variation=variation, variation_update=variation_update,
                    run_update=run_update)
        return pending.last

    def update(self, run_id: str, *, variation: int | None = None,
               variation_update: dict[str, Any] | None = None,
               run_update: dict[str, Any] | None = None) -> None:
        """Queue a state change for the next commit."""
        if run_id in self._fenced:
            return
        if variation_update or run_update:
            pending = self._pending.setdefault(run_id, _Pending())
            if variation_update:
                pending.variation_updates.setdefault(variation, {}).update(variation_update)
            if run_update:
                pending.run_update.update(run_update)
        if self._queued >= self._batch_size and self._retry_delay == self._interval:
            self.flush()
        elif self._timer is None:
            # At most one commit per interval, but no waiting after a quiet spell: a
            # lone event goes out at once, a burst is batched.
            delay = self._last_flush + self._interval - time.monotonic()
            self._timer = gevent.spawn_later(max(delay, 0.0), self.flush)

    def flush(self) -> None:
        """Commit and publish what is queued; if the database refuses, keep it all and
        retry with backoff.

        The work runs in a greenlet of its own, one flush at a time: a caller that is killed
        meanwhile (a collector stopped for a hand-over) cannot cut a commit in half, and on
        PostgreSQL, where a commit yields, batches still commit and publish in order.
        """
        gevent.spawn(self._flush_serialized).join()

    def _flush_serialized(self) -> None:
        with self._flushing:
            self._flush_now()

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.kill(block=False)   # a pending flush, or one waiting on this one
        self._timer = None
        self._last_flush = time.monotonic()
        try:
            with connection():
                self._flush()
        except Exception:  # noqa: BLE001 - the batch stays queued for the retry
            self._retry_delay = min(self._retry_delay * 2, 5.0)
            log.exception("event log commit failed; retrying in %.2fs", self._retry_delay)
            self._timer = gevent.spawn_later(self._retry_delay, self.flush)
        else:
            self._retry_delay = self._interval

    def _flush(self) -> None:
        """Commit everything queued, then publish it. On failure nothing is published."""
        if not self._pending:
            return
        # Taken out whole: what is queued while the commit runs waits for the next one.
        taken, self._pending, self._queued = self._pending, {}, 0
        batches = [pending.batch(run_id) for run_id, pending in taken.items()
                   if pending.chunks]
        started = time.perf_counter()
        try:
            fenced = self._commit(batches, taken)
        except Exception:
            self._requeue(taken)
            raise
        metrics.DB_WRITE.observe(time.perf_counter() - started)
        stored = sum(b.events for b in batches if b.run_id not in fenced)
        if stored:
            metrics.EVENTS_STORED.inc(stored)
        for run_id in fenced:
            log.warning("the lease of %s is lost: %s event(s) of this replica dropped",
                        run_id, taken[run_id].events)
            self._fenced.add(run_id)
            self._drop(run_id)
            self._fanout.close(run_id)   # its clients here follow the store from now on
        for b in batches:
            if b.run_id not in fenced:
                self._fanout.publish(b.run_id, b.first, b.last, b.frames, b.finished,
                                     taken[b.run_id].queued_at)

    def _commit(self, batches: list[Batch], taken: dict[str, _Pending]) -> set[str]:
        """Store what the lease allows, in one transaction; returns the runs fenced off."""
        now = time.time()
        with write_transaction():
            fenced = self._fence(set(taken))
            batches = [b for b in batches if b.run_id not in fenced]
            if batches:
                EventBatch.insert_many(
                    [(b.run_id, b.first, b.last, b.frames, b.finished, now) for b in batches],
                    fields=[EventBatch.run, EventBatch.first_seq, EventBatch.last_seq,
                            EventBatch.frames, EventBatch.finished, EventBatch.created_at],
                ).execute()
            kept = [(run_id, pending) for run_id, pending in taken.items()
                    if run_id not in fenced]
            # Variations first, then runs: always the same order of row locks.
            for run_id, pending in kept:
                for index, fields in pending.variation_updates.items():
                    (Variation.update(**fields)
                     .where((Variation.run == run_id) & (Variation.index == index)).execute())
            for run_id, pending in kept:
                if pending.run_update:
                    Run.update(**pending.run_update).where(Run.id == run_id).execute()
            # Delivered when (and only if) the transaction commits.
            notify.announce(sorted({b.run_id for b in batches}))
        return fenced

    def _fence(self, run_ids: set[str]) -> set[str]:
        """The runs this replica may no longer write (checked inside the transaction)."""
        if self._leases is None:
            return set()
        return {run_id for run_id in run_ids
                if run_id not in self._epochs
                or not self._leases.fence(run_id, self._epochs[run_id])}

    def _requeue(self, taken: dict[str, _Pending]) -> None:
        """Put back what a failed commit took, before anything queued since."""
        for run_id, pending in taken.items():
            self._pending[run_id] = pending.after(self._pending.get(run_id))
            self._queued += pending.events


def stored_frames(run_id: str, after: int, max_batches: int = 8) -> Iterator[
        tuple[bytes, int, bool]]:
    """Stored frames after seq ``after``, oldest first, a batch at a time:
    (frames, seq of the last one, whether they end the run)."""
    rows = (EventBatch.select(EventBatch.first_seq, EventBatch.last_seq, EventBatch.frames,
                              EventBatch.finished)
            .where((EventBatch.run == run_id) & (EventBatch.last_seq > after))
            .order_by(EventBatch.first_seq).limit(max_batches).tuples())
    for first, last, frames, finished in rows:
        yield sse.frames_after(bytes(frames), first, after), last, finished


def event_count(run_id: str) -> int:
    """How many events of the run are stored (ids run from 1 to this)."""
    # Batches are consecutive, so the newest by first_seq (indexed) holds the last event.
    return (EventBatch.select(EventBatch.last_seq).where(EventBatch.run == run_id)
            .order_by(EventBatch.first_seq.desc()).limit(1).scalar() or 0)
