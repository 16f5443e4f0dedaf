"""JSON representations of runs, variations and selections."""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..access import streamlinks
from ..access.auth import Principal
from ..config import Settings
from ..github import pulls
from ..store import usage
from ..store.models import SETUP_FIELDS, VARIATION_ENDED, Run, Selection, Variation
from ..stream.eventlog import event_count
from . import checks, lineage


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def stream_url(run_id: str) -> str:
    return f"/api/v1/runs/{run_id}/stream"


def stream_link(run_id: str, principal: Principal | None,
                settings: Settings) -> dict[str, Any]:
    """The stream's URL, carrying a signed read-only token for that run when auth is on
    (a browser's EventSource cannot send an Authorization header)."""
    if principal is None:
        return {"stream_url": stream_url(run_id), "token": None, "expires_at": None}
    token, expires = streamlinks.issue(run_id, principal, settings)
    return {"stream_url": f"{stream_url(run_id)}?token={token}", "token": token,
            "expires_at": iso(dt.datetime.fromtimestamp(expires, dt.timezone.utc)
                              .replace(tzinfo=None))}


def principal_ref(principal_id: str | None, name: str | None) -> dict[str, Any] | None:
    """Who did something (never their token); None when auth was off."""
    return None if principal_id is None else {"id": principal_id, "name": name}


def selection(run: Run) -> Selection | None:
    return Selection.get_or_none(Selection.run == run.id)


def selection_view(sel: Selection | None, run: Run) -> dict[str, Any] | None:
    if sel is None:
        return None
    job = Variation.get((Variation.run == run.id) & (Variation.index == sel.variation)).job_name
    return {"winning_variation_id": sel.variation, "job_name": job,
            "selected_at": iso(sel.selected_at),
            "selected_by": principal_ref(sel.selected_by, sel.selected_by_name)}


def run_summary(run: Run, winner: int | None) -> dict[str, Any]:
    return {"run_id": run.id, "github_url": run.github_url, "prompt": run.prompt,
            "status": run.status, "variations": run.variation_count,
            "created_at": iso(run.created_at), "finished_at": iso(run.finished_at),
            "winning_variation_id": winner,
            "created_by": principal_ref(run.created_by, run.created_by_name),
            "parent": lineage.parent_of(run)}


def diff_url(run_id: str, index: int) -> str:
    return f"/api/v1/runs/{run_id}/variations/{index}/diff"


def outcome(v: Variation) -> dict[str, Any]:
    """What the agent reported at its end, for comparing variations at a glance."""
    result, diff = v.result or {}, v.diff or {}
    usage = result.get("usage") or {}
    return {"turns": result.get("num_turns"),
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "cost_usd": result.get("total_cost_usd"),
            "agent_duration_ms": result.get("duration_ms"),
            "files_changed": diff.get("files"),
            "additions": diff.get("additions"),
            "deletions": diff.get("deletions"),
            "diff_url": diff_url(v.run_id, v.index) if v.diff is not None else None}


def setup_view(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: stored.get(k) for k in SETUP_FIELDS} if stored else None


def variation_checks(run: Run, v: Variation) -> list[dict[str, Any]]:
    return checks.results(run.checks, v.checks, ended=v.status in VARIATION_ENDED)


def baseline_checks(run: Run, first: Variation | None) -> list[dict[str, Any]]:
    """The run's baseline: measured by variation 0 before its model started."""
    if first is None:
        return checks.results(run.checks, None, ended=False)
    return checks.results(run.checks, first.baseline_checks,
                          ended=first.status in VARIATION_ENDED or first.result is not None)


def patch_url(run_id: str, index: int) -> str:
    return f"/api/v1/runs/{run_id}/variations/{index}/patch"


def variation_view(v: Variation, metered: dict[str, Any] | None = None,
                   run: Run | None = None,
                   pull_request: dict[str, Any] | None = None) -> dict[str, Any]:
    """``metered``: the variation's usage as the gateway metered it (none yet: zeros);
    ``pull_request``: the one opened from it, if any."""
    budget = (v.config or {}).get("max_budget_usd")
    return {"variation_id": v.index, "job_name": v.job_name, "status": v.status,
            "config": v.config,
            # The prompt it ran: its own (variation_configs[i].prompt) or the run's.
            "prompt": (v.config or {}).get("prompt") or (run.prompt if run is not None
                                                          else None),
            "pod": v.source, "exit_code": v.exit_code, "error": v.error,
            "setup": setup_view(v.setup),
            "started_at": iso(v.started_at), "finished_at": iso(v.finished_at),
            "duration_seconds": seconds_between(v.started_at, v.finished_at),
            "outcome": outcome(v), "warnings": v.warnings or [],
            "checks": variation_checks(run, v) if run is not None else [],
            "usage": {**(metered or usage.EMPTY), "max_budget_usd": budget},
            "base_commit": v.base_commit,
            "patch_url": patch_url(v.run_id, v.index) if v.diff is not None else None,
            "pull_request": pull_request}


def diff_view(v: Variation) -> dict[str, Any]:
    return {"run_id": v.run_id, "variation_id": v.index, "job_name": v.job_name, **v.diff}


def run_detail(run: Run) -> dict[str, Any]:
    variations = list(run.variations.order_by(Variation.index))
    metered = usage.of_run(run.id)
    opened = pulls.of_run(run.id)
    return {"run_id": run.id, "github_url": run.github_url, "prompt": run.prompt,
            "status": run.status, "runtime": run.runtime, "agent_config": run.agent_config,
            "stream_url": stream_url(run.id), "created_at": iso(run.created_at),
            "finished_at": iso(run.finished_at), "base_commit": run.base_commit,
            "parent": lineage.parent_of(run), "children": lineage.children_of(run),
            "source": run.source,
            "duration_seconds": seconds_between(run.created_at, run.finished_at),
            "event_count": event_count(run.id),
            "created_by": principal_ref(run.created_by, run.created_by_name),
            "cancelled_by": principal_ref(run.cancelled_by, run.cancelled_by_name),
            "checks": run.checks or [],
            "baseline": {"checks": baseline_checks(run, variations[0] if variations
                                                   else None)},
            "variations": [variation_view(v, metered.get(v.index), run, opened.get(v.index))
                           for v in variations],
            "selection": selection_view(selection(run), run)}


def job_counts(status: str) -> dict[str, int]:
    # A queued variation is a job whose pod has not started: still active.
    return {"active": int(status in ("queued", "running")),
            "succeeded": int(status == "succeeded"),
            "failed": int(status in ("failed", "cancelled"))}


def run_status(run: Run, live: dict[int, dict[str, int]] | None) -> dict[str, Any]:
    """``live``: counts the runtime reports now (Kubernetes Jobs), else the stored states."""
    live = live or {}
    variations = list(run.variations.order_by(Variation.index))
    per = {v.index: checks.counts(variation_checks(run, v)) for v in variations}
    return {"run_id": run.id, "status": run.status,
            "jobs": [{"job_name": v.job_name, "variation_id": v.index, "phase": v.status,
                      "status": live.get(v.index) or job_counts(v.status),
                      "checks": per[v.index]}
                     for v in variations],
            "checks": {key: sum(c[key] for c in per.values())
                       for key in ("passed", "failed", "pending")},
            "baseline_checks": checks.counts(
                baseline_checks(run, variations[0] if variations else None))}
