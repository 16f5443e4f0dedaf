"""In-process fan-out of stored events to any number of SSE clients.

Each live run keeps a window of its recent frames in memory, shared by every client (a
client holds only its position), and one gevent ``Event`` that is swapped on every
publish so that a single ``set()`` wakes all waiting clients. Anything older than the
window, and runs that are not live in this process, are read from the database.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import gevent.event


@dataclass
class _Feed:
    first_seq: int                      # seq of frames[0]
    frames: list[bytes] = field(default_factory=list)
    finished: bool = False
    changed: gevent.event.Event = field(default_factory=gevent.event.Event)

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.frames) - 1


class Fanout:
    def __init__(self, window: int) -> None:
        self._window = max(window, 1)
        self._feeds: dict[str, _Feed] = {}

    def open(self, run_id: str, last_seq: int) -> None:
        """Start keeping frames of a run whose events are produced in this process."""
        self._feeds.setdefault(run_id, _Feed(first_seq=last_seq + 1))

    def is_live(self, run_id: str) -> bool:
        return run_id in self._feeds

    def publish(self, run_id: str, first_seq: int, frames: list[bytes],
                finished: bool = False) -> None:
        """Frames ``first_seq..`` have been stored: hand them to every waiting client."""
        feed = self._feeds.get(run_id)
        if feed is None:
            return
        if first_seq != feed.last_seq + 1:
            # A gap can only mean frames were published out of order: restart the window
            # here; clients behind it read the database.
            feed.first_seq, feed.frames = first_seq, []
        feed.frames.extend(frames)
        feed.finished = feed.finished or finished
        if len(feed.frames) > self._window:
            drop = len(feed.frames) - self._window // 2
            del feed.frames[:drop]
            feed.first_seq += drop
        changed, feed.changed = feed.changed, gevent.event.Event()
        changed.set()

    def close(self, run_id: str) -> None:
        """The run is over here; its clients continue from the database."""
        feed = self._feeds.pop(run_id, None)
        if feed is not None:
            feed.changed.set()

    def read(self, run_id: str, after: int) -> tuple[list[bytes], bool] | None:
        """Frames after seq ``after`` and whether they end the run; None if not in memory."""
        feed = self._feeds.get(run_id)
        if feed is None or after + 1 < feed.first_seq:
            return None
        frames = feed.frames[after + 1 - feed.first_seq:]
        # The slice always runs to the newest frame, so a finished feed ends with it.
        return frames, feed.finished

    def wait(self, run_id: str, after: int, timeout: float) -> None:
        """Block until a frame after ``after`` is published, or ``timeout`` passes."""
        feed = self._feeds.get(run_id)
        if feed is None:
            gevent.sleep(timeout)
        elif feed.last_seq <= after and not feed.finished:
            feed.changed.wait(timeout)
