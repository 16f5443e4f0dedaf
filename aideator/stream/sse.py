"""Server-Sent Events wire format. Events travel in chunks of consecutive frames, built
once and shared as-is by the store, the fan-out and every client."""
from __future__ import annotations

import json

RETRY = b"retry: 3000\n\n"
HEARTBEAT = b": heartbeat\n\n"
# The last frame of a stream that ends for good although its run may not have: it has no
# ``id:`` (nothing stored), and tells the client not to reconnect.
STREAM_CLOSED = "stream_closed"


def closed(reason: str, detail: str) -> bytes:
    """The ``stream_closed`` frame: why the stream ended (``revoked``, ``deleted``)."""
    data = json.dumps({"reason": reason, "detail": detail}, separators=(",", ":"))
    return f"event: {STREAM_CLOSED}\ndata: {data}\n\n".encode()


def frames(first_seq: int, name: str, datas: list[str]) -> bytes:
    """Frames for events ``first_seq``, ``first_seq + 1``, ... of one kind.

    Each ``data`` is single-line JSON, so one ``data:`` field carries it whole, and a frame
    can only end where a blank line is.
    """
    return "".join([f"id: {seq}\nevent: {name}\ndata: {data}\n\n"
                    for seq, data in enumerate(datas, first_seq)]).encode()


def frames_after(chunk: bytes, first_seq: int, after: int) -> bytes:
    """The frames of ``chunk`` (whose first event is ``first_seq``) after event ``after``."""
    if after < first_seq:
        return chunk
    at = chunk.find(b"\n\nid: %d\n" % (after + 1))
    return b"" if at < 0 else chunk[at + 2:]
