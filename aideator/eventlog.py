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
from typing import Any, Iterator

import gevent
import gevent.lock

from . import metrics, notify, sse
from .events import RUN_FINISHED
from .fanout import Fanout
from .models import EventBatch, Run, Variation, connection, write_transaction
from .ownership import Leases

log = logging.getLogger(__name__)


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
        self._seq: dict[str, int] = {}
        # Uncommitted chunks of frames per run, the seq of each run's first event and when
        # it was queued (for the delivery lag).
        self._chunks: dict[str, list[bytes]] = {}
        self._first: dict[str, int] = {}
        self._queued_at: dict[str, float] = {}
        self._finished: set[str] = set()
        self._queued = 0
        self._variation_updates: dict[tuple[str, int], dict[str, Any]] = {}
        self._run_updates: dict[str, dict[str, Any]] = {}
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
        if run_id not in self._chunks:
            self._seq.pop(run_id, None)

    def disown(self, run_id: str) -> None:
        """Stop writing the run's log; anything still queued for it is dropped (flush
        first to keep it)."""
        self._epochs.pop(run_id, None)
        self._fenced.discard(run_id)
        self._drop(run_id)

    def pending(self, run_id: str) -> bool:
        """Whether anything of the run waits to be committed."""
        return (run_id in self._chunks or run_id in self._run_updates
                or any(key[0] == run_id for key in self._variation_updates))

    def _drop(self, run_id: str) -> None:
        chunks = self._chunks.pop(run_id, [])
        first = self._first.pop(run_id, None)
        self._queued_at.pop(run_id, None)
        if chunks and first is not None:
            self._queued = max(self._queued - (self._seq.get(run_id, first) - first + 1), 0)
        self._finished.discard(run_id)
        self._seq.pop(run_id, None)
        self._run_updates.pop(run_id, None)
        for key in [k for k in self._variation_updates if k[0] == run_id]:
            del self._variation_updates[key]

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
        chunks = self._chunks.setdefault(run_id, [])
        if not chunks:
            self._first[run_id] = first
            self._queued_at[run_id] = time.monotonic()
        chunks.append(sse.frames(first, name, datas))
        self._seq[run_id] = last = first + len(datas) - 1
        self._queued += len(datas)
        if name == RUN_FINISHED:
            self._finished.add(run_id)
        self.update(run_id, variation=variation, variation_update=variation_update,
                    run_update=run_update)
        return last

    def update(self, run_id: str, *, variation: int | None = None,
               variation_update: dict[str, Any] | None = None,
               run_update: dict[str, Any] | None = None) -> None:
        """Queue a state change for the next commit."""
        if run_id in self._fenced:
            return
        if variation_update:
            self._variation_updates.setdefault((run_id, variation), {}).update(variation_update)
        if run_update:
            self._run_updates.setdefault(run_id, {}).update(run_update)
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
        if not (self._chunks or self._variation_updates or self._run_updates):
            return
        batch = [(run_id, self._first[run_id], self._seq[run_id], b"".join(chunks),
                  run_id in self._finished)
                 for run_id, chunks in self._chunks.items()]
        variation_updates, run_updates = self._variation_updates, self._run_updates
        queued_at = self._queued_at
        self._chunks, self._first, self._finished, self._queued = {}, {}, set(), 0
        self._variation_updates, self._run_updates, self._queued_at = {}, {}, {}
        started = time.perf_counter()
        try:
            fenced = self._commit(batch, variation_updates, run_updates)
        except Exception:
            self._requeue(batch, variation_updates, run_updates, queued_at)
            raise
        metrics.DB_WRITE.observe(time.perf_counter() - started)
        stored = sum(last - first + 1 for run_id, first, last, _, _ in batch
                     if run_id not in fenced)
        if stored:
            metrics.EVENTS_STORED.inc(stored)
        for run_id in fenced:
            log.warning("the lease of %s is lost: %s event(s) of this replica dropped",
                        run_id, sum(last - first + 1 for r, first, last, _, _ in batch
                                    if r == run_id))
            self._fenced.add(run_id)
            self._drop(run_id)
            self._fanout.close(run_id)   # its clients here follow the store from now on
        for run_id, first, last, chunk, finished in batch:
            if run_id not in fenced:
                self._fanout.publish(run_id, first, last, chunk, finished,
                                     queued_at.get(run_id))

    def _commit(self, batch: list[tuple[str, int, int, bytes, bool]],
                variation_updates: dict[tuple[str, int], dict[str, Any]],
                run_updates: dict[str, dict[str, Any]]) -> set[str]:
        """Store what the lease allows, in one transaction; returns the runs fenced off."""
        now = time.time()
        with write_transaction():
            fenced = self._fence({run_id for run_id, *_ in batch}
                                 | {run_id for run_id, _ in variation_updates}
                                 | set(run_updates))
            batch = [row for row in batch if row[0] not in fenced]
            if batch:
                EventBatch.insert_many(
                    [(run_id, first, last, chunk, finished, now)
                     for run_id, first, last, chunk, finished in batch],
                    fields=[EventBatch.run, EventBatch.first_seq, EventBatch.last_seq,
                            EventBatch.frames, EventBatch.finished, EventBatch.created_at],
                ).execute()
            for (run_id, index), fields in variation_updates.items():
                if run_id not in fenced:
                    (Variation.update(**fields)
                     .where((Variation.run == run_id) & (Variation.index == index)).execute())
            for run_id, fields in run_updates.items():
                if run_id not in fenced:
                    Run.update(**fields).where(Run.id == run_id).execute()
            # Delivered when (and only if) the transaction commits.
            notify.announce(sorted({run_id for run_id, *_ in batch}))
        return fenced

    def _fence(self, run_ids: set[str]) -> set[str]:
        """The runs this replica may no longer write (checked inside the transaction)."""
        if self._leases is None:
            return set()
        return {run_id for run_id in run_ids
                if run_id not in self._epochs
                or not self._leases.fence(run_id, self._epochs[run_id])}

    def _requeue(self, batch: list[tuple[str, int, int, bytes, bool]],
                 variation_updates: dict[tuple[str, int], dict[str, Any]],
                 run_updates: dict[str, dict[str, Any]],
                 queued_at: dict[str, float]) -> None:
        for run_id, first, last, chunk, finished in batch:
            self._chunks[run_id] = [chunk, *self._chunks.get(run_id, [])]
            self._first[run_id] = first
            self._queued_at[run_id] = queued_at.get(run_id, time.monotonic())
            self._queued += last - first + 1
            if finished:
                self._finished.add(run_id)
        for key, fields in variation_updates.items():
            self._variation_updates[key] = {**fields, **self._variation_updates.get(key, {})}
        for key, fields in run_updates.items():
            self._run_updates[key] = {**fields, **self._run_updates.get(key, {})}


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
