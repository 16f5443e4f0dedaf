"""The SSE stream of a run: replay from the store after Last-Event-ID, then live.

Every client follows the same path: read what comes after its position (from the fan-out
window when it covers it, else from the database), send it as one chunk, then wait.
Nothing is sent that was not stored first, so replays and live clients agree.
"""
from __future__ import annotations

import time
from typing import Any, Iterator

from flask import Blueprint, Response, current_app, request

from .. import sse
from ..eventlog import stored_frames
from ..fanout import Fanout
from ..models import RUN_ENDED, Run
from .errors import ApiError
from .runs import get_run

bp = Blueprint("streams", __name__)

# How often a client re-reads the store for a run whose events are produced elsewhere.
POLL_SECONDS = 0.5


def _last_event_id() -> int:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    if not raw.strip().isdigit():
        raise ApiError(400, "invalid_parameter",
                       "Last-Event-ID must be a non-negative integer event id",
                       "Last-Event-ID")
    return int(raw)


def _run_over(run_id: str) -> bool:
    return Run.select(Run.status).where(Run.id == run_id).scalar() in RUN_ENDED


def event_stream(fanout: Fanout, run_id: str, after: int, heartbeat: float) -> Iterator[bytes]:
    yield sse.RETRY
    quiet_since = time.monotonic()
    while True:
        window = fanout.read(run_id, after)
        if window is not None:
            frames, last, finished = window
            if frames:
                after = last
                yield frames
                quiet_since = time.monotonic()
            if finished:
                return
            if frames:
                continue
        else:
            batches = list(stored_frames(run_id, after))
            if batches:
                after = batches[-1][1]
                yield b"".join(frames for frames, _, _ in batches)
                quiet_since = time.monotonic()
                if batches[-1][2]:
                    return
                continue
            if not fanout.is_live(run_id) and _run_over(run_id):
                return   # finished without a terminal event on record: nothing will come
        quiet = time.monotonic() - quiet_since
        if quiet >= heartbeat:
            yield sse.HEARTBEAT
            quiet_since, quiet = time.monotonic(), 0.0
        timeout = heartbeat - quiet
        fanout.wait(run_id, after, timeout if fanout.is_live(run_id)
                    else min(POLL_SECONDS, timeout))


@bp.get("/runs/<run_id>/stream")
def stream(run_id: str) -> Any:
    run = get_run(run_id)
    after = _last_event_id()
    svc = current_app.extensions["aideator"]
    return Response(event_stream(svc.fanout, run.id, after, svc.settings.sse_heartbeat_seconds),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
