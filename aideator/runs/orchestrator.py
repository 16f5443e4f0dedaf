"""Starts runs, supervises their collectors, finishes and cancels them; and, with several
replicas sharing the database, holds the leases of the runs it collects, takes over runs
whose owner is gone, and hands its runs over when it shuts down.

Taking a run over and re-attaching after a restart are the same thing: claim the lease,
then start collectors from the stored handles and cursors.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import gevent
import gevent.event

from ..naming import job_name, new_run_id
from ..ops import logs, metrics, tracing
from ..runtimes import engines
from ..runtimes.base import Runtime, SetupSpec, VariationSpec
from ..store.models import VARIATION_ENDED, Run, Variation, connection, utcnow, write_transaction
from ..store.ownership import Leases
from ..stream import events, notify
from ..stream.eventlog import EventLog
from ..stream.fanout import Fanout
from .collector import Resume, collect

log = logging.getLogger(__name__)

# Seconds between checks for cancel requests made through another replica (on SQLite;
# PostgreSQL notifies at once).
CANCEL_POLL_SECONDS = 0.5


def _spec(run: Run, variation: Variation,
          issue_token: Callable[[str, int], str] | None) -> VariationSpec:
    return VariationSpec(run_id=run.id, index=variation.index, job_name=variation.job_name,
                         repo_url=run.github_url, prompt=variation_prompt(run, variation),
                         config=variation.config,
                         setup=setup_settings(variation.setup),
                         gateway_token=issue_token(run.id, variation.index)
                         if issue_token else "",
                         checks=tuple(run.checks or ()),
                         # One variation measures the baseline: the same checks on the
                         # unchanged clone, in its own sandbox, before its model starts.
                         baseline=variation.index == 0 and bool(run.checks),
                         base_change=base_change_of(run),
                         local_source=bool(run.source))


def base_change_of(run: Run) -> dict[str, Any] | None:
    if not run.base_change:
        return None
    return {**run.base_change, "parent_run": run.parent_run,
            "parent_variation": run.parent_variation}


def _lineage(parent: Mapping[str, Any] | None) -> dict[str, Any]:
    if parent is None:
        return {}
    return {"parent_run": parent["run_id"], "parent_variation": parent["variation_id"],
            "base_change": {"commit": parent["commit"], "patch": parent["patch"]}}


def variation_prompt(run: Run, variation: Variation) -> str:
    """The prompt a variation runs: its own (``variation_configs[i].prompt``) or the run's."""
    return (variation.config or {}).get("prompt") or run.prompt


def setup_settings(stored: Mapping[str, Any] | None) -> SetupSpec | None:
    """What the runtime needs of a variation's stored setup to run it."""
    if not stored:
        return None
    source = stored.get("source")
    return SetupSpec(command=stored.get("command") if source == "request" else None,
                     from_repo=bool(stored.get("from_repo")) or source == "repository",
                     timeout_seconds=int(stored.get("timeout_seconds") or 600))


def _unfinished(variations: Iterable[Variation]) -> list[Variation]:
    return [v for v in variations if v.status not in VARIATION_ENDED]


def _handles(variations: Iterable[Variation]) -> dict[int, Any]:
    """What the runtime needs to stop these variations: index -> handle."""
    return {v.index: v.handle for v in variations}


@dataclass
class _Owned:
    """A run this process collects."""
    epoch: int
    cancelled: gevent.event.Event = field(default_factory=gevent.event.Event)
    greenlets: list[gevent.Greenlet] = field(default_factory=list)


class Orchestrator:
    def __init__(self, *, runtime: Runtime, event_log: EventLog, fanout: Fanout,
                 leases: Leases,
                 issue_token: Callable[[str, int], str] | None = None) -> None:
        # ``issue_token(run_id, index)``: the variation's gateway credential.
        self._issue_token = issue_token
        self._runtime = runtime
        self._event_log = event_log
        self._fanout = fanout
        self._leases = leases
        self._runs: dict[str, _Owned] = {}
        self._loop: gevent.Greenlet | None = None
        self._wake = gevent.event.Event()
        self._scan_now = True
        self.draining = False

    @property
    def owned(self) -> list[str]:
        return list(self._runs)

    # -- requests --------------------------------------------------------------------------
    @tracing.traced("run.submit")
    def submit(self, *, github_url: str, prompt: str, agent_config: Mapping[str, Any],
               variation_configs: list[Mapping[str, Any]],
               checks: list[Mapping[str, Any]] | None = None,
               setup: Mapping[str, Any] | None = None,
               created_by: tuple[str | None, str | None] = (None, None),
               admit: Callable[[], None] | None = None,
               parent: Mapping[str, Any] | None = None,
               run_id: str | None = None,
               source: Mapping[str, Any] | None = None) -> Run:
        """Store a new run with its variations, holding its lease, and start it.
        ``admit`` runs first in the same transaction and may refuse (raise). ``parent``:
        {run_id, variation_id, commit, patch}, the change its variations start from.
        ``run_id`` and ``source``: a run from a local repository, whose snapshot is already
        in the run's directory under that id (``snapshot.py``)."""
        with write_transaction():
            if admit is not None:
                admit()
            run = Run.create(id=run_id or new_run_id(), github_url=github_url, prompt=prompt,
                             variation_count=len(variation_configs),
                             agent_config=dict(agent_config), runtime=self._runtime.name,
                             created_by=created_by[0], created_by_name=created_by[1],
                             checks=[dict(c) for c in checks] if checks else None,
                             source=dict(source) if source else None,
                             **_lineage(parent))
            variations = [Variation.create(run=run, index=i, config=dict(config),
                                           job_name=job_name(run.id, i),
                                           setup=dict(setup) if setup else None)
                          for i, config in enumerate(variation_configs)]
            epoch = self._leases.grant_new(run.id)
        tracing.annotate(**{"aideator.run_id": run.id, "aideator.variations": len(variations),
                            "aideator.runtime": self._runtime.name})
        logs.bind(run_id=run.id)
        metrics.RUNS_SUBMITTED.inc()
        log.info("run %s submitted: %d variation(s) on the %s runtime", run.id,
                 len(variations), self._runtime.name)
        self._own(run.id, epoch, last_seq=0)
        self._event_log.append(run.id, events.run_status(
            run.id, "started", f"Started {len(variations)} variation(s) "
                               f"on the {self._runtime.name} runtime"),
            run_update={"status": "running"})
        self._supervise(run, variations)
        return run

    def cancel(self, run: Run, by: tuple[str | None, str | None] = (None, None)) -> None:
        """Ask every unfinished variation of ``run`` to stop; collectors record the end.
        The run's owner does it: here, or another replica told through the database."""
        Run.update(cancel_requested=True, cancelled_by=by[0], cancelled_by_name=by[1]) \
            .where(Run.id == run.id).execute()
        if run.id in self._runs:
            self._cancel_here(run)
        else:
            notify.control(f"cancel {run.id}")

    def _cancel_here(self, run: Run) -> None:
        owned = self._runs[run.id]
        if owned.cancelled.is_set():
            return
        owned.cancelled.set()
        self._event_log.append(run.id, events.run_status(run.id, "cancelling",
                                                         "Cancelling the run"))
        self._runtime.cancel(run.id, _handles(_unfinished(run.variations)))

    # -- ownership -------------------------------------------------------------------------
    def start(self) -> None:
        """Claim runs left without a live owner now, then keep the leases (call once)."""
        if self._loop is None:
            self._loop = gevent.spawn(self._keep_leases)

    def wake(self, *, scan: bool = False) -> None:
        """Look at the database now (a notification said something changed)."""
        self._scan_now = self._scan_now or scan
        self._wake.set()

    def _keep_leases(self) -> None:
        renew_every = self._leases.seconds / 4
        next_renew = 0.0
        while True:
            try:
                with connection():
                    if time.monotonic() >= next_renew:
                        next_renew = time.monotonic() + renew_every
                        for run_id in self._leases.renew(self._held()):
                            log.warning("lost the lease of %s to another replica", run_id)
                            self._let_go(run_id)
                        self._scan_now = True
                    if self._scan_now and not self.draining:
                        self._scan_now = False
                        self.adopt_orphans()
                    for run_id in self._leases.cancel_requests(self._runs):
                        run = Run.get_or_none(Run.id == run_id)
                        if run is not None and run_id in self._runs:
                            self._cancel_here(run)
            except Exception as exc:  # noqa: BLE001 - the database may be away: try again
                log.warning("keeping the leases: %s", exc)
            self._wake.wait(CANCEL_POLL_SECONDS)
            self._wake.clear()

    def _held(self) -> dict[str, int]:
        return {run_id: owned.epoch for run_id, owned in self._runs.items()}

    def adopt_orphans(self) -> int:
        """Claim and resume every unfinished run without a live owner; returns how many."""
        adopted = 0
        candidates = self._leases.claimable()
        # Replicas woken together (a hand-over) race for the same runs: in a random order
        # each, they share them out instead of the fastest taking every one.
        random.shuffle(candidates)
        for run_id in candidates:
            if run_id not in self._runs and not self.draining:
                adopted += self.adopt(run_id)
        return adopted

    def adopt(self, run_id: str) -> bool:
        """Take the run over if its lease can be claimed, resuming where the store says."""
        previous = Run.select(Run.lease_owner).where(Run.id == run_id).scalar()
        epoch = self._leases.claim(run_id)
        if epoch is None:
            return False
        # Read after the claim: nothing the previous owner stored can follow it.
        run = Run.get_by_id(run_id)
        variations = list(run.variations.order_by(Variation.index))
        self._own(run_id, epoch, last_seq=None)
        unfinished = _unfinished(variations)
        if run.cancel_requested:
            self._runs[run_id].cancelled.set()
            # The previous owner may have stopped before the runtime stopped them all.
            self._runtime.cancel(run.id, _handles(unfinished))
        before = f" from {previous.split('/')[0]}" if previous else ""
        self._event_log.append(run.id, events.run_status(
            run.id, "running", f"Replica {self._leases.name} took the run over{before}: "
                               f"resuming {len(unfinished)} unfinished variation(s)"),
            run_update={"status": "running"})
        log.info("took over %s (epoch %d) with %d unfinished variation(s)", run_id, epoch,
                 len(unfinished))
        self._supervise(run, variations)
        return True

    def _own(self, run_id: str, epoch: int, last_seq: int | None) -> None:
        self._runs[run_id] = _Owned(epoch)
        self._event_log.own(run_id, epoch)
        self._fanout.open(run_id, self._event_log.last_seq(run_id) if last_seq is None
                          else last_seq)

    def _let_go(self, run_id: str) -> None:
        """Stop collecting the run here; what was read and not stored is dropped (the next
        owner reads it again from the stored cursor)."""
        owned = self._runs.pop(run_id, None)
        if owned is None:
            return
        # The finisher first: killing collectors would otherwise look like their end.
        gevent.killall(owned.greenlets)
        self._event_log.disown(run_id)
        self._fanout.close(run_id)

    def hand_over(self) -> list[str]:
        """Shutting down: stop claiming, store what was read, and release every lease at
        once so other replicas take the runs over without waiting for expiry."""
        self.draining = True
        if self._loop is not None:
            self._loop.kill()
        run_ids = list(self._runs)
        for owned in self._runs.values():
            gevent.killall(owned.greenlets)
        with connection():
            self._event_log.flush()
            for run_id in run_ids:
                self._let_go(run_id)   # what was read is stored just above
            self._leases.release(run_ids)
            notify.control("released")
        return run_ids

    # -- collecting ------------------------------------------------------------------------
    def _supervise(self, run: Run, variations: list[Variation]) -> None:
        owned = self._runs[run.id]
        submitted_at = run.created_at.replace(tzinfo=dt.timezone.utc).timestamp()
        # In copies of this context: their spans and log lines belong to the request that
        # submitted the run.
        collectors = {
            v.index: gevent.spawn(tracing.carry(self._collect),
                                  _spec(run, v, self._issue_token),
                                  Resume(v.status, v.source, v.handle, v.cursor,
                                         submitted_at, v.warnings, v.checks,
                                         v.baseline_checks),
                                  owned.cancelled)
            for v in _unfinished(variations)}
        finished = {v.index: v.status for v in variations if v.status in VARIATION_ENDED}
        finisher = gevent.spawn(tracing.carry(self._finish_when_done), run.id, collectors,
                                finished, owned.cancelled)
        owned.greenlets = [finisher, *collectors.values()]

    def _collect(self, spec: VariationSpec, resume: Resume,
                 cancelled: gevent.event.Event) -> str:
        reason = engines.missing_key(spec.config.get("engine") or engines.DEFAULT_ENGINE)
        if reason is not None and resume.handle is None:
            # Nothing would answer its model: fail now, before anything starts, and say
            # which key the service lacks (its siblings of other engines run on).
            log.warning("variation %d of %s not started: %s", spec.index, spec.run_id, reason)
            return self._failed(spec, reason, "no_model_key")
        try:
            return collect(runtime=self._runtime, event_log=self._event_log, spec=spec,
                           resume=resume, cancelled=cancelled)
        except Exception as exc:  # noqa: BLE001 - a bug must end as a visible failure
            log.exception("collector for %s failed", spec.job_name)
            return self._failed(spec, f"internal error while following the variation: {exc}",
                                "internal")

    def _failed(self, spec: VariationSpec, reason: str, cause: str) -> str:
        """End the variation as failed with ``reason``, visibly (an event and its row)."""
        metrics.variation_finished("failed", cause)
        self._event_log.append(spec.run_id,
                               events.variation_error(spec.index, spec.job_name, reason),
                               variation=spec.index,
                               variation_update={"status": "failed", "error": reason,
                                                 "finished_at": utcnow()})
        return "failed"

    def _finish_when_done(self, run_id: str, collectors: dict[int, gevent.Greenlet],
                          finished: dict[int, str], cancelled: gevent.event.Event) -> None:
        logs.bind(run_id=run_id)
        gevent.joinall(list(collectors.values()))
        statuses = {**finished, **{i: g.value for i, g in collectors.items()}}
        succeeded = sum(s == "succeeded" for s in statuses.values())
        if cancelled.is_set():
            status = "cancelled"
        else:
            status = "completed" if succeeded else "failed"
        self._event_log.append(run_id, events.run_status(
            run_id, status, f"{succeeded} of {len(statuses)} variation(s) succeeded"))
        self._event_log.append(run_id, events.run_finished(run_id, status),
                               run_update={"status": status, "finished_at": utcnow()})
        metrics.RUNS_FINISHED.labels(status).inc()
        log.info("run %s %s: %d of %d variation(s) succeeded", run_id, status, succeeded,
                 len(statuses))
        self._event_log.flush()
        while self._event_log.pending(run_id):   # the database refused: its retries go on
            gevent.sleep(0.5)
        self._runs.pop(run_id, None)
        self._event_log.disown(run_id)
        self._fanout.close(run_id)
