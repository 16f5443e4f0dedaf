"""The SSE stream of a run: replay from the store after Last-Event-ID, then live.

Every client follows the same path: read what comes after its position (from this
process's fan-out window when it covers it, else from the database), send it as one
chunk, then wait. Nothing is sent that was not stored first, so replays, live clients and
clients of other replicas agree. When this process shuts down, streams end and clients
reconnect (to another replica) with Last-Event-ID.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from ..access import auth
from ..config import Settings
from ..ops import metrics
from ..store.models import connection
from ..stream import sse
from ..stream.direct import Direct, for_request
from ..stream.eventlog import stored_frames
from ..stream.fanout import Fanout
from ..stream.mirror import Mirror
from . import standing, views
from .errors import ApiError
from .runs import get_run
from .streamquota import StreamQuota

bp = Blueprint("streams", __name__)
QUOTA = "aideator.stream_quota"


# Event ids are database integers: a larger one cannot exist (and would not fit a query).
MAX_EVENT_ID = 2**53


def _event_id(raw: str, field: str) -> int:
    raw = raw.strip()
    if not raw.isdigit() or not raw.isascii() or len(raw) > 16 or int(raw) > MAX_EVENT_ID:
        raise ApiError(400, "invalid_parameter",
                       f"{field} must be an integer event id from 0 to {MAX_EVENT_ID}", field)
    return int(raw)


def _last_event_id() -> int:
    """Where to resume: the header (what browsers send), else the query parameter."""
    header = request.headers.get("Last-Event-ID")
    query = request.args.get("last_event_id")
    after = 0 if query is None else _event_id(query, "last_event_id")   # checked either way
    return after if header is None else _event_id(header, "Last-Event-ID")


def _stored(run_id: str, after: int) -> list[tuple[bytes, int, bool]]:
    with connection():
        return list(stored_frames(run_id, after))


CLOSED_DETAIL = {
    standing.REVOKED: "the token this stream was opened with has been revoked; "
                      "do not reconnect with it",
    standing.DELETED: "the run has been deleted",
}


def event_stream(fanout: Fanout, mirror: Mirror, run_id: str, after: int,
                 heartbeat: float,
                 recheck: Callable[[], str | None] | None = None,
                 direct: Direct | None = None) -> Iterator[bytes]:
    """The stream's frames. ``recheck`` is asked every half heartbeat whether the stream
    may go on (None) or why not: then a ``stream_closed`` frame ends it. With ``direct``
    (the client's socket), a caught-up stream parks it in the fan-out, which writes the
    live batches itself, and wakes only to send a heartbeat, recheck or finish."""
    yield sse.RETRY
    mirror.subscribe(run_id)
    metrics.SSE_CLIENTS.inc()
    try:
        connected = quiet_since = time.monotonic()
        period = heartbeat / 2
        next_check = connected + period
        while not fanout.closing:
            if recheck is not None and time.monotonic() >= next_check:
                reason = recheck()
                if reason is not None:
                    yield sse.closed(reason, CLOSED_DETAIL[reason])
                    return
                next_check = time.monotonic() + period
            window = fanout.read(run_id, after)
            if window is None:   # older than the window: from the store
                batches = _stored(run_id, after)
                if batches:
                    metrics.events_sent(batches[-1][1] - after, "store")
                    after = batches[-1][1]
                    yield b"".join(frames for frames, _, _ in batches)
                    quiet_since = time.monotonic()
                    if batches[-1][2]:
                        return
                    continue
            else:
                frames, last, finished = window
                if frames:
                    metrics.events_sent(last - after, "window",
                                        fanout.lag(run_id, after, connected))
                    after = last
                    yield frames
                    quiet_since = time.monotonic()
                if finished:
                    return
                if frames:
                    continue
            quiet = time.monotonic() - quiet_since
            if quiet >= heartbeat:
                yield sse.HEARTBEAT
                quiet_since, quiet = time.monotonic(), 0.0
            wait = heartbeat - quiet
            if recheck is not None:
                wait = min(wait, max(next_check - time.monotonic(), 0.0))
            if direct is not None and fanout.park(run_id, direct, after):
                direct.handed_back.wait(wait)
                fanout.unpark(run_id, direct)
                if direct.gone:
                    return
                if direct.after > after:
                    after, quiet_since = direct.after, max(quiet_since, direct.written_at)
                direct.flush()
            else:
                fanout.wait(run_id, after, wait)
    finally:
        if direct is not None:   # before the socket closes: nothing may write it after
            fanout.unpark(run_id, direct)
        metrics.SSE_CLIENTS.dec()
        mirror.unsubscribe(run_id)


STANDING = "aideator.stream_standing"


def init_app(app: Flask, settings: Settings) -> None:
    # Answers just younger than a check period: each check of a stream reads them afresh
    # at least every other time, so a revocation is seen within one heartbeat.
    app.extensions[STANDING] = standing.Standing(
        settings, max_age=settings.sse_heartbeat_seconds / 2 * 0.9)
    app.extensions[QUOTA] = StreamQuota(per_principal=settings.max_streams_per_principal,
                                        per_link=settings.max_streams_per_link,
                                        worker_connections=settings.worker_connections)


@bp.get("/runs/<run_id>/stream")
def stream(run_id: str) -> Any:
    run = get_run(run_id)
    after = _last_event_id()
    svc = current_app.extensions["aideator"]
    principal = auth.current()
    release = current_app.extensions[QUOTA].take(principal.id if principal else None,
                                                 request.args.get("token"))
    checks = current_app.extensions[STANDING]
    response = Response(event_stream(svc.fanout, svc.mirror, run.id, after,
                                     svc.settings.sse_heartbeat_seconds,
                                     recheck=lambda: checks.check(principal, run.id),
                                     direct=for_request(request.environ)),
                        mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # Called when the server closes the response, whether or not the stream ever started.
    response.call_on_close(release)
    return response


@bp.post("/runs/<run_id>/stream-token")
def stream_token(run_id: str) -> Any:
    """A fresh signed stream link for the run (for browsers, whose EventSource cannot send
    an Authorization header)."""
    run = get_run(run_id)
    settings = current_app.extensions["aideator"].settings
    return jsonify({"run_id": run.id, **views.stream_link(run.id, auth.current(), settings)})
