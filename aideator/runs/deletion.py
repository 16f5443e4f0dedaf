"""Deleting runs, with everything kept about them: on request (``DELETE /runs/{id}``) and
by retention (``AIDEATOR_RETENTION_DAYS``).

A run's rows (the run, its variations, its events, its selection and its metered usage)
go in one transaction; then the runtime removes what it keeps outside the database (the
local runtime's workspaces and logs, the Kubernetes runtime's Jobs). Stream links and
gateway credentials are signed, not stored: they name a run that no longer exists and are
refused from then on, and open streams of the run end (``api.standing``).

Retention runs in every process (each replica, each gunicorn worker) and never deletes a
run twice: each pass takes a batch of expired runs with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (a row another replica is deleting is skipped, not waited for), and SQLite's
write lock lets one process at a time in; a run is counted (log line, metric) only by the
process whose ``DELETE`` removed its row.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterable

import gevent

from ..ops import metrics
from ..store.models import (
    RUN_ENDED,
    EventBatch,
    PullRequest,
    Run,
    Selection,
    Variation,
    VariationUsage,
    connection,
    is_postgres,
    utcnow,
    write_transaction,
)

log = logging.getLogger(__name__)

# Runs one retention pass deletes in one transaction (the rest wait for the next pass, run
# at once): short transactions, short locks.
BATCH = 50


def _delete_rows(run_ids: list[str]) -> list[str]:
    """Inside a write transaction: delete these runs and their rows; returns the runs this
    call removed (another process may have removed some first)."""
    if not run_ids:
        return []
    for model in (EventBatch, Selection, VariationUsage, PullRequest, Variation):
        model.delete().where(model.run.in_(run_ids)).execute()
    if is_postgres():
        gone = Run.delete().where(Run.id.in_(run_ids)).returning(Run.id).tuples()
        return [run_id for (run_id,) in gone.execute()]
    removed = []
    for run_id in run_ids:   # SQLite: one by one, to know which were still there
        if Run.delete().where(Run.id == run_id).execute():
            removed.append(run_id)
    return removed


def delete_run(run_id: str, runtime: Any) -> bool:
    """Delete one finished run and what the runtime keeps of it; False if it was gone."""
    with connection(), write_transaction():
        removed = _delete_rows([run_id])
    _remove_files(removed, runtime, "request")
    return bool(removed)


def _remove_files(run_ids: Iterable[str], runtime: Any, reason: str) -> None:
    for run_id in run_ids:
        metrics.RUNS_DELETED.labels(reason).inc()
        log.info("deleted run %s (%s)", run_id, reason)
        try:
            runtime.remove(run_id)
        except Exception:  # noqa: BLE001 - the rows are gone: say what was left behind
            log.exception("removing what the runtime kept of %s", run_id)


def expired_batch(days: float, limit: int = BATCH) -> list[str]:
    """Inside a write transaction: claim up to ``limit`` runs that ended more than ``days``
    ago (locked, on PostgreSQL, so no other replica takes them meanwhile)."""
    cutoff = utcnow() - dt.timedelta(days=days)
    query = (Run.select(Run.id)
             .where(Run.status.in_(RUN_ENDED) & (Run.finished_at < cutoff))
             .order_by(Run.finished_at).limit(limit))
    if is_postgres():
        query = query.for_update("FOR UPDATE SKIP LOCKED")
    return [run_id for (run_id,) in query.tuples()]


def retention_pass(days: float, runtime: Any) -> int:
    """Delete every run that ended more than ``days`` ago, batch by batch; how many this
    process deleted."""
    deleted = 0
    while True:
        with connection(), write_transaction():
            removed = _delete_rows(expired_batch(days))
        _remove_files(removed, runtime, "retention")
        deleted += len(removed)
        if len(removed) < BATCH:
            return deleted


class Retention:
    """The retention loop of one process (off when ``days`` is 0)."""

    def __init__(self, days: float, every: float, runtime: Any) -> None:
        self.days = days
        self.every = every
        self._runtime = runtime
        self._loop: gevent.Greenlet | None = None

    def start(self) -> None:
        if self.days > 0 and self._loop is None:
            self._loop = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=False)
            self._loop = None

    def _run(self) -> None:
        while True:
            try:
                retention_pass(self.days, self._runtime)
            except Exception as exc:  # noqa: BLE001 - the database may be away: next time
                log.warning("retention: %s", exc)
            gevent.sleep(self.every)
