"""In-process fan-out of stored events to any number of SSE clients.

Each live run keeps a window of its recent chunks of frames in memory, shared by every
client (a client holds only its position), and one gevent ``Event`` that is swapped on
every publish so that a single ``set()`` wakes all waiting clients. Anything older than
the window, and runs that are not live in this process, are read from the database.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import gevent.event

from .sse import frames_after


@dataclass
class _Feed:
    last_seq: int                                   # newest event published
    firsts: list[int] = field(default_factory=list)  # first seq of each chunk
    chunks: list[bytes] = field(default_factory=list)
    finished: bool = False
    changed: gevent.event.Event = field(default_factory=gevent.event.Event)

    @property
    def first_seq(self) -> int:
        return self.firsts[0] if self.firsts else self.last_seq + 1


class Fanout:
    def __init__(self, window: int) -> None:
        self._window = max(window, 1)
        self._feeds: dict[str, _Feed] = {}

    def open(self, run_id: str, last_seq: int) -> None:
        """Start keeping events of a run whose events are produced in this process."""
        self._feeds.setdefault(run_id, _Feed(last_seq=last_seq))

    def is_live(self, run_id: str) -> bool:
        return run_id in self._feeds

    def publish(self, run_id: str, first_seq: int, last_seq: int, chunk: bytes,
                finished: bool = False) -> None:
        """Events ``first_seq..last_seq`` have been stored: hand them to every client."""
        feed = self._feeds.get(run_id)
        if feed is None:
            return
        if first_seq != feed.last_seq + 1:
            # Only out-of-order publishing could cause a gap: restart the window here;
            # clients behind it read the database.
            feed.firsts, feed.chunks = [], []
        feed.firsts.append(first_seq)
        feed.chunks.append(chunk)
        feed.last_seq = last_seq
        feed.finished = feed.finished or finished
        while len(feed.chunks) > 1 and last_seq - feed.firsts[1] + 1 >= self._window:
            del feed.firsts[0], feed.chunks[0]
        changed, feed.changed = feed.changed, gevent.event.Event()
        changed.set()

    def close(self, run_id: str) -> None:
        """The run is over here; its clients continue from the database."""
        feed = self._feeds.pop(run_id, None)
        if feed is not None:
            feed.changed.set()

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

    def wait(self, run_id: str, after: int, timeout: float) -> None:
        """Block until an event after ``after`` is published, or ``timeout`` passes."""
        feed = self._feeds.get(run_id)
        if feed is None:
            gevent.sleep(timeout)
        elif feed.last_seq <= after and not feed.finished:
            feed.changed.wait(timeout)
