"""Starts runs, supervises their collectors, finishes and cancels them, and re-attaches
to unfinished runs when the service starts."""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

import gevent
import gevent.event

from . import events
from .collector import Resume, collect
from .eventlog import EventLog
from .fanout import Fanout
from .models import RUN_ACTIVE, VARIATION_ENDED, Run, Variation, db, utcnow
from .naming import job_name, new_run_id
from .runtimes.base import Runtime, VariationSpec

log = logging.getLogger(__name__)


def _spec(run: Run, variation: Variation) -> VariationSpec:
    return VariationSpec(run_id=run.id, index=variation.index, job_name=variation.job_name,
                         repo_url=run.github_url, prompt=run.prompt, config=variation.config)


def _unfinished(variations: Iterable[Variation]) -> list[Variation]:
    return [v for v in variations if v.status not in VARIATION_ENDED]


def _handles(variations: Iterable[Variation]) -> dict[int, Any]:
    """What the runtime needs to stop these variations: index -> handle."""
    return {v.index: v.handle for v in variations}


class Orchestrator:
    def __init__(self, *, runtime: Runtime, log: EventLog, fanout: Fanout) -> None:
        self._runtime = runtime
        self._log = log
        self._fanout = fanout
        self._cancelled: dict[str, gevent.event.Event] = {}

    def submit(self, *, github_url: str, prompt: str, agent_config: Mapping[str, Any],
               variation_configs: list[Mapping[str, Any]]) -> Run:
        """Store a new run with its variations and start it."""
        with db.atomic():
            run = Run.create(id=new_run_id(), github_url=github_url, prompt=prompt,
                             variation_count=len(variation_configs),
                             agent_config=dict(agent_config), runtime=self._runtime.name)
            variations = [Variation.create(run=run, index=i, config=dict(config),
                                           job_name=job_name(run.id, i))
                          for i, config in enumerate(variation_configs)]
        self._fanout.open(run.id, 0)
        self._log.append(run.id, events.run_status(
            run.id, "started", f"Started {len(variations)} variation(s) "
                               f"on the {self._runtime.name} runtime"),
            run_update={"status": "running"})
        self._supervise(run, variations)
        return run

    def cancel(self, run: Run) -> None:
        """Ask every unfinished variation of ``run`` to stop; collectors record the end."""
        Run.update(cancel_requested=True).where(Run.id == run.id).execute()
        self._cancelled.setdefault(run.id, gevent.event.Event()).set()
        self._log.append(run.id, events.run_status(run.id, "cancelling",
                                                   "Cancelling the run"))
        self._runtime.cancel(run.id, _handles(_unfinished(run.variations)))

    def recover(self) -> int:
        """Re-attach to every run left unfinished by an earlier process; returns how many."""
        runs = list(Run.select().where(Run.status.in_(RUN_ACTIVE)))
        for run in runs:
            variations = list(run.variations.order_by(Variation.index))
            self._fanout.open(run.id, self._log.last_seq(run.id))
            unfinished = _unfinished(variations)
            if run.cancel_requested:
                self._cancelled.setdefault(run.id, gevent.event.Event()).set()
                # The earlier process may have died before the runtime stopped them all.
                self._runtime.cancel(run.id, _handles(unfinished))
            self._log.append(run.id, events.run_status(
                run.id, "running", f"Service restarted: resuming {len(unfinished)} "
                                   f"unfinished variation(s)"),
                run_update={"status": "running"})
            self._supervise(run, variations)
        return len(runs)

    def _supervise(self, run: Run, variations: list[Variation]) -> None:
        cancelled = self._cancelled.setdefault(run.id, gevent.event.Event())
        collectors = {
            v.index: gevent.spawn(self._collect, _spec(run, v),
                                  Resume(v.status, v.source, v.handle, v.cursor), cancelled)
            for v in _unfinished(variations)}
        finished = {v.index: v.status for v in variations if v.status in VARIATION_ENDED}
        gevent.spawn(self._finish_when_done, run.id, collectors, finished, cancelled)

    def _collect(self, spec: VariationSpec, resume: Resume,
                 cancelled: gevent.event.Event) -> str:
        try:
            return collect(runtime=self._runtime, log=self._log, spec=spec, resume=resume,
                           cancelled=cancelled)
        except Exception as exc:  # noqa: BLE001 - a bug must end as a visible failure
            log.exception("collector for %s failed", spec.job_name)
            reason = f"internal error while following the variation: {exc}"
            self._log.append(spec.run_id, events.variation_error(spec.index, spec.job_name,
                                                                 reason),
                             variation=spec.index,
                             variation_update={"status": "failed", "error": reason,
                                               "finished_at": utcnow()})
            return "failed"

    def _finish_when_done(self, run_id: str, collectors: dict[int, gevent.Greenlet],
                          finished: dict[int, str], cancelled: gevent.event.Event) -> None:
        gevent.joinall(list(collectors.values()))
        statuses = {**finished, **{i: g.value for i, g in collectors.items()}}
        succeeded = sum(s == "succeeded" for s in statuses.values())
        if cancelled.is_set():
            status = "cancelled"
        else:
            status = "completed" if succeeded else "failed"
        self._log.append(run_id, events.run_status(
            run_id, status, f"{succeeded} of {len(statuses)} variation(s) succeeded"))
        self._log.append(run_id, events.run_finished(run_id, status),
                         run_update={"status": status, "finished_at": utcnow()})
        self._log.flush()
        self._log.forget(run_id)
        self._fanout.close(run_id)
        self._cancelled.pop(run_id, None)
