"""One collector per variation: follows what its runtime reports and appends it to the
event log, one event per output line, with the state change each event announces."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

import gevent.event
from peewee import fn

from agent import check_problems, protocol

from ..ops import logs, metrics, tracing
from ..runtimes.base import (
    Exited,
    Notice,
    Output,
    Runtime,
    Started,
    VariationSpec,
    Waiting,
    WarningEvent,
)
from ..store import usage
from ..store.models import SETUP_FIELDS, Run, utcnow
from ..stream import events
from ..stream.eventlog import EventLog
from . import cluster_warnings

log = logging.getLogger(__name__)

# Agent lines that say how the variation went, and the fields of each that are stored.
OUTCOME_TYPES = frozenset({protocol.RESULT, protocol.DIFF, protocol.ERROR,
                           protocol.SETUP_FINISHED})
RESULT_FIELDS = ("subtype", "is_error", "num_turns", "duration_ms", "total_cost_usd",
                 "usage", "stop_reason")
DIFF_FIELDS = ("patch", "truncated", "bytes", "files", "additions", "deletions")
# Agent lines about the run's checks, and the fields of a finished one that are stored.
CHECK_TYPES = frozenset({protocol.CHECK_STARTED, protocol.CHECK_FINISHED})
CHECK_FIELDS = ("exit_code", "passed", "duration_ms", "timed_out", "lines", "truncated",
                "tests", "problem")
PROBLEM_KINDS = (check_problems.COMMAND_NOT_FOUND, check_problems.MISSING_MODULE)


def _problem(value: Any) -> dict[str, str] | None:
    """A check's environment problem as the agent named it, if well formed (an agent's
    line is untrusted input: a known kind, short strings, nothing else)."""
    if not isinstance(value, dict) or value.get("kind") not in PROBLEM_KINDS:
        return None
    fields = {k: value.get(k) for k in ("kind", "name", "summary")}
    if not all(isinstance(v, str) and 0 < len(v) <= 300 for v in fields.values()):
        return None
    return fields


@dataclass(frozen=True)
class Resume:
    """What the store knows of a variation when its collector starts."""
    status: str
    source: str | None = None
    handle: Mapping[str, Any] | None = None
    cursor: str | None = None
    # When the run was submitted (Unix seconds): its time to first output is from there.
    submitted_at: float | None = None
    warnings: list[dict[str, Any]] | None = None
    # Check results stored so far (name -> fields): on its work, and the baseline.
    checks: Mapping[str, Any] | None = None
    baseline_checks: Mapping[str, Any] | None = None


def _outcome_update(obj: dict[str, Any]) -> dict[str, Any] | None:
    """What an agent protocol line tells about the variation's outcome, as stored fields."""
    kind = obj.get("type")
    if kind == protocol.RESULT:
        return {"result": {k: obj.get(k) for k in RESULT_FIELDS}}
    if kind == protocol.DIFF:
        return {"diff": {k: obj.get(k) for k in DIFF_FIELDS}}
    if kind == protocol.SETUP_FINISHED:
        return {"setup": {k: obj.get(k) for k in SETUP_FIELDS}}
    return None


class _Checks:
    """The variation's check results as stored: each ``check_started`` and
    ``check_finished`` line changes one entry, and the column with it."""

    def __init__(self, resume: Resume) -> None:
        self._stored = {"checks": dict(resume.checks or {}),
                        "baseline_checks": dict(resume.baseline_checks or {})}

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj.get("name")
        if not isinstance(name, str) or not name or len(name) > 100:
            return {}
        column = "baseline_checks" if obj.get("baseline") is True else "checks"
        if obj.get("type") == protocol.CHECK_STARTED:
            entry: dict[str, Any] = {"state": "running"}
        else:
            entry = {k: obj.get(k) for k in CHECK_FIELDS}
            entry["problem"] = _problem(entry["problem"])
            entry["state"] = ("timed_out" if entry["timed_out"] else
                              "passed" if entry["passed"] is True else "failed")
        self._stored[column][name] = entry
        return {column: dict(self._stored[column])}
def _base_commit(line: str) -> str | None:
    """The commit a ``status cloned`` line reports: what the variation's diff is against
    (its patch applies there, its pull request's branch starts there)."""
    if '"cloned"' not in line:   # most status lines are progress: skip the parse
        return None
    obj = protocol.parse(line) or {}
    commit = obj.get("commit")
    if (obj.get("phase") == "cloned" and isinstance(commit, str)
            and len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit)):
        return commit
    return None


def _error_message(obj: dict[str, Any]) -> str | None:
    """The message of an agent ``error`` line, to explain a failed exit."""
    if obj.get("type") != protocol.ERROR:
        return None
    message = obj.get("message") or obj.get("error")
    return message if isinstance(message, str) else None


def collect(*, runtime: Runtime, event_log: EventLog, spec: VariationSpec, resume: Resume,
            cancelled: gevent.event.Event) -> str:
    """Run the variation to its end; returns its final status."""
    run_id, index = spec.run_id, spec.index
    logs.bind(run_id=run_id, variation=index, job_name=spec.job_name)
    source, last_error = resume.source or spec.job_name, None
    encoder = events.OutputEncoder(index, source)
    status = resume.status
    awaiting_output = resume.cursor is None
    warnings = cluster_warnings.Warnings(resume.warnings)
    # The gateway stores usage (on whichever replica served the call); only this owner
    # writes events, so it tells the stream, when output arrives, what changed.
    metered = usage.Watch(run_id, index)
    checks = _Checks(resume)
    for obs in runtime.watch(spec, handle=resume.handle, cursor=resume.cursor):
        if isinstance(obs, Output):
            _tell_usage(event_log, spec, status, metered)
            if awaiting_output and obs.lines:
                awaiting_output = False
                _first_output(runtime.name, spec, resume.submitted_at)
            datas, update = [], {"cursor": obs.cursor}
            run_update: dict[str, Any] = {}
            for line in obs.lines:
                data, kind = encoder.encode(line)
                datas.append(data)
                if kind == protocol.STATUS and (commit := _base_commit(line)):
                    update["base_commit"] = commit
                    # The run's: the first variation's to report one (they normally agree).
                    run_update["base_commit"] = fn.COALESCE(Run.base_commit, commit)
                if kind in OUTCOME_TYPES:
                    obj = protocol.parse(line) or {}
                    update.update(_outcome_update(obj) or {})
                    last_error = _error_message(obj) or last_error
                    if kind == protocol.RESULT:
                        metrics.agent_result(spec.config.get("model"), obj)
                elif kind in CHECK_TYPES:
                    update.update(checks.update(protocol.parse(line) or {}))
            # The cursor (and what the lines told) rides with them: stored together or not.
            event_log.extend(run_id, events.AGENT_OUTPUT, datas, variation=index,
                             variation_update=update, run_update=run_update or None)
        elif isinstance(obs, Started):
            source = obs.source
            encoder = events.OutputEncoder(index, source)
            status = "running"
            log.info("variation %d of %s started: %s", index, run_id, source)
            event_log.append(run_id, events.variation_status(run_id, index, "running",
                                                             f"Started {source}", pod=source),
                             variation=index,
                             variation_update={"status": "running", "source": source,
                                               "handle": dict(obs.handle),
                                               "started_at": utcnow()})
        elif isinstance(obs, Waiting):
            event_log.append(run_id,
                             events.variation_status(run_id, index, "queued", obs.reason),
                             variation=index,
                             variation_update={"handle": dict(obs.handle)} if obs.handle
                             else None)
        elif isinstance(obs, Notice):
            event_log.append(run_id,
                             events.variation_status(run_id, index, status, obs.message),
                             variation=index)
        elif isinstance(obs, WarningEvent):
            told, changed = warnings.observe(obs)
            update = {"warnings": warnings.entries()} if changed else None
            if told is not None:
                event_log.append(run_id, events.variation_status(
                    run_id, index, status, cluster_warnings.notice(told),
                    warning={"reason": told["reason"], "object": told["object"]}),
                    variation=index, variation_update=update)
            elif update:
                event_log.update(run_id, variation=index, variation_update=update)
        elif isinstance(obs, Exited):
            exited = obs
            break
    else:
        exited = Exited(False, "the runtime stopped reporting", cause="lost")
    _tell_usage(event_log, spec, status, metered, now=True)
    return _finish(event_log, spec, exited, cancelled.is_set(), last_error)


def _tell_usage(event_log: EventLog, spec: VariationSpec, status: str, metered: usage.Watch,
                now: bool = False) -> None:
    """A status notice with the variation's metered usage, if it changed (at most about
    once a second, unless ``now``)."""
    try:
        changed = metered.changed(now=now)
    except Exception as exc:  # noqa: BLE001 - the database may be away: tell it later
        log.warning("reading the metered usage: %s", exc)
        return
    if changed is not None:
        event_log.append(spec.run_id, events.variation_status(
            spec.run_id, spec.index, status, usage.notice(changed), usage=changed),
            variation=spec.index)


def _first_output(runtime: str, spec: VariationSpec, submitted_at: float | None) -> None:
    if submitted_at is not None:
        metrics.FIRST_OUTPUT.labels(runtime).observe(max(time.time() - submitted_at, 0.0))
        tracing.since("variation.first_output", submitted_at, **{
            "aideator.run_id": spec.run_id, "aideator.variation": spec.index,
            "aideator.job_name": spec.job_name})


def _finish(event_log: EventLog, spec: VariationSpec, exited: Exited, cancelled: bool,
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
    event_log.append(spec.run_id, event, variation=spec.index, variation_update=update)
    metrics.variation_finished(status, exited.cause)
    log.info("variation %d of %s %s: %s", spec.index, spec.run_id, status,
             update.get("error") or exited.reason)
    return status
