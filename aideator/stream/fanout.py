"""In-process fan-out of stored events to any number of SSE clients.

Each run with clients here, or written here, has a feed: a window of its recent chunks of
frames in memory, shared by every client (a client holds only its position), and one
gevent ``Event`` that is swapped on every publish so that a single ``set()`` wakes all
waiting clients. Anything older than the window is read from the database.

A feed has two possible producers, and both publish only what is stored: the event log
of the replica that owns the run (right after its commit), or, for a run owned by another
replica, a follower that reads the store when poked (``mirror``). Publishing is
idempotent, so a run changing owners never shows a client an event twice.

A client that has caught up may park its socket here (``direct``): then the publisher
writes each batch to it, framed once for all parked clients, instead of waking it.
"""
from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

import gevent.event

from ..ops import metrics
from .direct import Direct, frame
from .sse import frames_after


@dataclass
class _Feed:
    last_seq: int                                   # newest event published
    firsts: list[int] = field(default_factory=list)  # first seq of each chunk
    chunks: list[bytes] = field(default_factory=list)
    # When each chunk's first event was queued (time.monotonic), if it was queued here.
    queued_at: list[float | None] = field(default_factory=list)
    finished: bool = False
    changed: gevent.event.Event = field(default_factory=gevent.event.Event)
    owned: bool = False          # produced by this process's event log
    clients: int = 0
    # Set when the store may hold more than the feed (a notification, an ownership change).
    poked: gevent.event.Event = field(default_factory=gevent.event.Event)
    # Caught-up clients whose sockets the publisher writes (see aideator.stream.direct).
    parked: set[Direct] = field(default_factory=set)

    @property
    def first_seq(self) -> int:
        return self.firsts[0] if self.firsts else self.last_seq + 1

    def wake(self) -> None:
        changed, self.changed = self.changed, gevent.event.Event()
        changed.set()

    def hand_back(self, client: Direct) -> None:
        self.parked.discard(client)
        client.handed_back.set()

    def hand_back_all(self) -> None:
        for client in list(self.parked):
            self.hand_back(client)


class Fanout:
    def __init__(self, window: int) -> None:
        self._window = max(window, 1)
        self._feeds: dict[str, _Feed] = {}
        self.closing = False

    # -- producers -----------------------------------------------------------------------
    def open(self, run_id: str, last_seq: int) -> None:
        """This process now writes the run's events (from ``last_seq`` + 1)."""
        feed = self._feeds.setdefault(run_id, _Feed(last_seq=last_seq))
        feed.owned = True

    def close(self, run_id: str) -> None:
        """This process no longer writes the run; clients still here continue from the
        store (poked, so a follower takes over at once)."""
        feed = self._feeds.get(run_id)
        if feed is None:
            return
        feed.owned = False
        feed.poked.set()
        self._drop_if_unused(run_id, feed)
        feed.hand_back_all()
        feed.wake()

    def publish(self, run_id: str, first_seq: int, last_seq: int, chunk: bytes,
                finished: bool = False, queued_at: float | None = None) -> None:
        """Events ``first_seq..last_seq`` have been stored: hand them to every client.
        ``queued_at``: when the first of them was queued by this process's event log."""
        feed = self._feeds.get(run_id)
        if feed is None or last_seq <= feed.last_seq:
            return
        if first_seq <= feed.last_seq:   # partly published already
            chunk, first_seq = frames_after(chunk, first_seq, feed.last_seq), feed.last_seq + 1
        elif first_seq != feed.last_seq + 1:
            # A gap (events stored while nobody here published): restart the window here;
            # clients behind it read the database.
            feed.firsts, feed.chunks, feed.queued_at = [], [], []
            feed.hand_back_all()
        feed.firsts.append(first_seq)
        feed.chunks.append(chunk)
        feed.queued_at.append(queued_at)
        feed.last_seq = last_seq
        feed.finished = feed.finished or finished
        while len(feed.chunks) > 1 and last_seq - feed.firsts[1] + 1 >= self._window:
            del feed.firsts[0], feed.chunks[0], feed.queued_at[0]
        if feed.parked:
            self._write_parked(feed, chunk, first_seq, last_seq, queued_at)
        feed.wake()

    @staticmethod
    def _write_parked(feed: _Feed, chunk: bytes, first_seq: int, last_seq: int,
                      queued_at: float | None) -> None:
        """The batch to every parked client, framed once per framing; those whose socket
        did not take it whole go back to their greenlets (which send the rest)."""
        framed: dict[bool, bytes] = {}
        now = time.monotonic()
        written = 0
        for client in list(feed.parked):
            data = framed.get(client.chunked)
            if data is None:
                data = framed[client.chunked] = frame(chunk, client.chunked)
            whole = client.write(data)
            client.after, client.written_at = last_seq, now
            written += 1
            if not whole or feed.finished:
                feed.hand_back(client)
        if written:
            metrics.events_sent((last_seq - first_seq + 1) * written, "window",
                                None if queued_at is None else now - queued_at, written)

    def end(self, run_id: str) -> None:
        """Nothing more will be stored for the run (it ended without a terminal event)."""
        feed = self._feeds.get(run_id)
        if feed is not None and not feed.finished:
            feed.finished = True
            feed.hand_back_all()
            feed.wake()

    # -- clients -------------------------------------------------------------------------
    def subscribe(self, run_id: str, last_seq: int) -> bool:
        """A client of the run is here; True when its feed was just created (nobody here
        produces it yet)."""
        feed = self._feeds.get(run_id)
        created = feed is None
        if created:
            feed = self._feeds[run_id] = _Feed(last_seq=last_seq)
        feed.clients += 1
        return created

    def unsubscribe(self, run_id: str) -> None:
        feed = self._feeds.get(run_id)
        if feed is not None:
            feed.clients -= 1
            self._drop_if_unused(run_id, feed)

    def _drop_if_unused(self, run_id: str, feed: _Feed) -> None:
        if feed.clients <= 0 and not feed.owned and self._feeds.get(run_id) is feed:
            del self._feeds[run_id]
            feed.poked.set()   # its follower, if any, ends

    def poke(self, run_id: str) -> None:
        """The store may have more events of this run than the feed."""
        feed = self._feeds.get(run_id)
        if feed is not None:
            feed.poked.set()

    def poke_all(self) -> None:
        for feed in self._feeds.values():
            feed.poked.set()

    def close_all(self) -> None:
        """The process is going away: every client's stream ends (they reconnect to
        another replica with Last-Event-ID)."""
        self.closing = True
        for feed in list(self._feeds.values()):
            feed.hand_back_all()
            feed.wake()

    # -- reading -------------------------------------------------------------------------
    def feed(self, run_id: str) -> _Feed | None:
        return self._feeds.get(run_id)

    def is_live(self, run_id: str) -> bool:
        return run_id in self._feeds

    def read(self, run_id: str, after: int) -> tuple[bytes, int, bool] | None:
        """Frames after event ``after``: (frames, the last one's seq, whether they end the
        run); None when the window does not reach back to ``after``."""
        feed = self._feeds.get(run_id)
        if feed is None or after + 1 < feed.first_seq:
            return None
        if after >= feed.last_seq:
            return b"", after, feed.finished
        # The chunk holding event after + 1 (clients usually sit at a chunk's start).
        i = max(bisect.bisect_right(feed.firsts, after + 1) - 1, 0)
        parts = [frames_after(feed.chunks[i], feed.firsts[i], after), *feed.chunks[i + 1:]]
        # What is returned always runs to the newest event, so a finished feed ends there.
        return b"".join(parts), feed.last_seq, feed.finished

    def lag(self, run_id: str, after: int, since: float) -> float | None:
        """Seconds since event ``after`` + 1 was queued, if this process queued it after
        ``since`` (a client's arrival: older events are history, not late) and the window
        still holds it."""
        feed = self._feeds.get(run_id)
        if feed is None or not feed.firsts or not feed.firsts[0] <= after + 1 <= feed.last_seq:
            return None
        queued_at = feed.queued_at[bisect.bisect_right(feed.firsts, after + 1) - 1]
        if queued_at is None or queued_at < since:
            return None
        return time.monotonic() - queued_at

    def park(self, run_id: str, client: Direct, after: int) -> bool:
        """Park a client that has been sent every event up to ``after``: the publisher
        writes its socket from now on, until it is handed back (``client.handed_back``).
        False when it cannot park (it is behind, or the run or this process is ending)."""
        feed = self._feeds.get(run_id)
        if (feed is None or feed.last_seq != after or feed.finished or self.closing
                or client.pending or client.gone):
            return False
        client.after = after
        client.handed_back.clear()
        feed.parked.add(client)
        return True

    def unpark(self, run_id: str, client: Direct) -> None:
        """The client's greenlet writes its socket again (nothing else does from now)."""
        feed = self._feeds.get(run_id)
        if feed is not None:
            feed.parked.discard(client)

    def wait(self, run_id: str, after: int, timeout: float) -> None:
        """Block until an event after ``after`` is published, or ``timeout`` passes."""
        feed = self._feeds.get(run_id)
        if feed is None:
            gevent.sleep(timeout)
        elif feed.last_seq <= after and not feed.finished and not self.closing:
            feed.changed.wait(timeout)
