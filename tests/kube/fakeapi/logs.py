"""Pod logs as the kubelet keeps and serves them.

Each line is stored with the nanosecond time it was read. Serving follows the kubelet:
``timestamps=true`` prefixes RFC3339Nano times with a fixed 9-digit fraction, ``sinceTime``
is inclusive but arrives with whole-second precision (the API server forwards it to the
kubelet formatted as RFC3339), so a client resuming from its last timestamp gets the lines
of that second again and must drop the ones it has seen.
"""
from __future__ import annotations

import datetime
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .status import bad_request

PodRef = tuple[str, str]  # (namespace, pod name)


class StreamCut(Exception):
    """A test cut this stream; ``abrupt`` means drop the connection mid-response."""

    def __init__(self, abrupt: bool) -> None:
        super().__init__("stream cut")
        self.abrupt = abrupt


def format_timestamp(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    day = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return f"{day:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def parse_since_time(text: str) -> int:
    """``sinceTime`` as whole seconds in nanoseconds (the fraction never reaches a kubelet)."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f'parsing time "{text}" as RFC3339: cannot parse') from None
    if moment.tzinfo is None:
        raise bad_request(f'parsing time "{text}" as RFC3339: missing time zone')
    return int(moment.timestamp()) * 1_000_000_000


@dataclass
class _PodLog:
    lines: list[tuple[int, bytes]] = field(default_factory=list)
    finished: bool = False


class LogBook:
    """Every pod's log, shared by the kubelet (writer) and the HTTP handlers (readers)."""

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._logs: dict[PodRef, _PodLog] = {}
        self._cuts: list[tuple[PodRef | None, bool]] = []

    def open(self, pod: PodRef) -> None:
        with self._cond:
            self._logs.setdefault(pod, _PodLog())

    def append(self, pod: PodRef, data: bytes) -> None:
        with self._cond:
            log = self._logs.setdefault(pod, _PodLog())
            ts = time.time_ns()
            if log.lines and ts <= log.lines[-1][0]:
                ts = log.lines[-1][0] + 1  # the CRI log keeps lines in time order
            log.lines.append((ts, data))
            self._cond.notify_all()

    def finish(self, pod: PodRef) -> None:
        with self._cond:
            self._logs.setdefault(pod, _PodLog()).finished = True
            self._cond.notify_all()

    def drop(self, pod: PodRef) -> None:
        with self._cond:
            self._logs.pop(pod, None)
            self._cond.notify_all()

    def content(self, pod: PodRef) -> bytes:
        with self._cond:
            log = self._logs.get(pod)
            return b"".join(data for _, data in log.lines) if log else b""

    def cut(self, pod: PodRef | None = None, *, abrupt: bool = False) -> None:
        """End open follow streams (of one pod, or all) now, while the container runs on."""
        with self._cond:
            self._cuts.append((pod, abrupt))
            self._cond.notify_all()

    def stream(self, pod: PodRef, *, follow: bool, timestamps: bool, since_ns: int | None,
               tail_lines: int | None, limit_bytes: int | None,
               alive: Callable[[], bool]) -> Iterator[bytes]:
        """The response body, chunk by chunk; with ``follow`` it waits for new lines until
        the container exits, the pod goes away (``alive`` false) or a cut."""
        with self._cond:
            cuts_seen = len(self._cuts)
            log = self._logs.get(pod) or _PodLog(finished=True)
            start = 0
            if since_ns is not None:
                start = next((i for i, (ts, _) in enumerate(log.lines) if ts >= since_ns),
                             len(log.lines))
            if tail_lines is not None:
                start = max(start, len(log.lines) - tail_lines)
        sent = 0
        while True:
            with self._cond:
                abrupt = self._cut_since(cuts_seen, pod) if follow else None
                if abrupt is not None:
                    raise StreamCut(abrupt)
                batch = log.lines[start:]
                start += len(batch)
                done = not follow or log.finished
                if not batch and not done:
                    if not alive():
                        return
                    self._cond.wait(0.1)
                    continue
            for ts, data in batch:
                chunk = (format_timestamp(ts).encode() + b" " + data) if timestamps else data
                if limit_bytes is not None and sent + len(chunk) >= limit_bytes:
                    yield chunk[:limit_bytes - sent]
                    return
                sent += len(chunk)
                yield chunk
            if done and not batch:
                return

    def _cut_since(self, seen: int, pod: PodRef) -> bool | None:
        for target, abrupt in self._cuts[seen:]:
            if target is None or target == pod:
                return abrupt
        return None
