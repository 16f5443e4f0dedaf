"""Reading a pod's timestamped log so that it can be resumed without loss or repeats.

With ``timestamps=true`` every line starts with its RFC3339Nano time. The cursor is the
time of the last delivered line plus how many lines carrying exactly that time were
delivered (``2026-11-24T05:50:01.123456789Z#2``). A resumed stream asks for ``sinceTime``
= the cursor's whole second (the kubelet drops any fraction) and this reader drops the
lines at or before the cursor. A real kubelet trims trailing zeros of the fraction, so
times are compared as numbers (seconds, nanoseconds), never as strings.
"""
from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

# (seconds since the epoch, nanoseconds)
Instant = tuple[int, int]


def parse_timestamp(text: str) -> Instant:
    """``2026-11-24T05:50:01.1234Z`` (any fraction length, or none; Z or an offset)."""
    if len(text) < 20 or text[10] != "T":
        raise ValueError(f"not an RFC3339 time: {text!r}")
    whole, fraction, zone = text[:19], "", text[19:]
    if zone.startswith("."):
        digits = len(zone) - len(zone[1:].lstrip("0123456789"))
        fraction, zone = zone[1:digits], zone[digits:]
    moment = datetime.datetime.fromisoformat(whole)
    seconds = calendar.timegm(moment.timetuple())
    if zone not in ("Z", "z"):
        offset = datetime.datetime.fromisoformat("2000-01-01T00:00:00" + zone).utcoffset()
        if offset is None:
            raise ValueError(f"not an RFC3339 time: {text!r}")
        seconds -= int(offset.total_seconds())
    if len(fraction) > 9 or not fraction.isdigit() and fraction:
        raise ValueError(f"not an RFC3339 time: {text!r}")
    return seconds, int(fraction.ljust(9, "0") or 0)


def since_time(instant: Instant) -> str:
    """The RFC3339 ``sinceTime`` that includes ``instant`` (its whole second)."""
    moment = datetime.datetime.fromtimestamp(instant[0], datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Cursor:
    """Where a pod's log was read up to."""
    stamp: str          # the last delivered line's timestamp, as the server wrote it
    instant: Instant
    count: int          # delivered lines with exactly this instant

    def __str__(self) -> str:
        return f"{self.stamp}#{self.count}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        stamp, _, count = text.rpartition("#")
        try:
            return cls(stamp, parse_timestamp(stamp), int(count))
        except ValueError:
            return None  # not ours (e.g. another runtime's): start from the beginning


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")


class LogReader:
    """Turns the chunks of successive log streams of one pod into new lines.

    Call :meth:`begin` before each stream (it rewinds the duplicate check to the cursor),
    :meth:`feed` each chunk, and :meth:`end` when the stream ended for good to get a last
    line that had no newline.
    """

    def __init__(self, cursor: Cursor | None = None) -> None:
        self.cursor = cursor
        self._pending = b""
        self._skip = 0

    def begin(self) -> str | None:
        """Start a stream; the ``sinceTime`` it should ask for (None: from the start)."""
        # A broken-off partial line will come again whole: its time is after the cursor.
        self._pending = b""
        self._skip = self.cursor.count if self.cursor else 0
        return since_time(self.cursor.instant) if self.cursor else None

    def feed(self, chunk: bytes) -> list[str]:
        data = self._pending + chunk
        *complete, self._pending = data.split(b"\n")
        return self._accept(complete)

    def end(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return self._accept([rest]) if rest else []

    def _accept(self, raw_lines: list[bytes]) -> list[str]:
        out: list[str] = []
        for raw in raw_lines:
            stamp_bytes, sep, text = raw.partition(b" ")
            try:
                stamp = stamp_bytes.decode("ascii")
                instant = parse_timestamp(stamp) if sep else None
            except ValueError:
                instant = None
            if instant is None:
                # Not a timestamped line (never from a kubelet): keep it, cursor unmoved.
                out.append(_decode(raw))
                continue
            cursor = self.cursor
            if cursor is not None and instant < cursor.instant:
                continue
            if cursor is not None and instant == cursor.instant:
                if self._skip > 0:
                    self._skip -= 1
                    continue
                cursor.count += 1
            else:
                self.cursor = Cursor(stamp, instant, 1)
                self._skip = 0
            out.append(_decode(text))
        return out
