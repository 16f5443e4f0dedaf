"""One collector per variation: follows what its runtime reports and appends it to the
event log, one event per output line, with the state change each event announces."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import gevent.event

from agent import protocol

from . import events
from .eventlog import EventLog
from .models import utcnow
from .runtimes.base import Exited, Output, Runtime, Started, VariationSpec, Waiting


@dataclass(frozen=True)
class Resume:
    """What the store knows of a variation when its collector starts."""
    status: str
    source: str | None = None
    handle: Mapping[str, Any] | None = None
    cursor: str | None = None


def _agent_error(line: str) -> str | None:
    """The message of an agent ``error`` protocol line, to explain a failed exit."""
    if '"error"' not in line:
        return None
    obj = protocol.parse(line)
    if not obj or obj.get("type") != "error":
        return None
    message = obj.get("error") or obj.get("message")
    return message if isinstance(message, str) else None


def collect(*, runtime: Runtime, log: EventLog, spec: VariationSpec, resume: Resume,
            cancelled: gevent.event.Event) -> str:
    """Run the variation to its end; returns its final status."""
    run_id, index = spec.run_id, spec.index
    source, last_error = resume.source or spec.job_name, None
    for obs in runtime.watch(spec, handle=resume.handle, cursor=resume.cursor):
        if isinstance(obs, Output):
            last = len(obs.lines) - 1
            for i, line in enumerate(obs.lines):
                # The cursor rides with the batch's last line: stored together or not at all.
                log.append(run_id, events.agent_output(index, source, line), variation=index,
                           variation_update={"cursor": obs.cursor} if i == last else None)
                last_error = _agent_error(line) or last_error
        elif isinstance(obs, Started):
            source = obs.source
            log.append(run_id, events.variation_status(run_id, index, "running",
                                                       f"Started {source}", pod=source),
                       variation=index,
                       variation_update={"status": "running", "source": source,
                                         "handle": dict(obs.handle), "started_at": utcnow()})
        elif isinstance(obs, Waiting):
            log.append(run_id, events.variation_status(run_id, index, "queued", obs.reason),
                       variation=index)
        elif isinstance(obs, Exited):
            return _finish(log, spec, obs, cancelled.is_set(), last_error)
    return _finish(log, spec, Exited(False, "the runtime stopped reporting"),
                   cancelled.is_set(), last_error)


def _finish(log: EventLog, spec: VariationSpec, exited: Exited, cancelled: bool,
            last_error: str | None) -> str:
    update: dict[str, Any] = {"exit_code": exited.exit_code, "finished_at": utcnow()}
    if exited.ok:
        event, status = events.job_completed(spec.index, spec.job_name), "succeeded"
    elif cancelled:
        status = "cancelled"
        event = events.variation_status(spec.run_id, spec.index, status,
                                        f"Cancelled ({exited.reason})")
        update["error"] = "cancelled"
    else:
        status = "failed"
        reason = f"{exited.reason}: {last_error}" if last_error else exited.reason
        event = events.variation_error(spec.index, spec.job_name, reason)
        update["error"] = reason
    update["status"] = status
    log.append(spec.run_id, event, variation=spec.index, variation_update=update)
    return status
