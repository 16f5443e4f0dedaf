"""The comparison board (GET /runs/{id}/comparison): every variation in one row with the
evidence a person chooses by (its checks, against the baseline) and what it cost, plus
the baseline's row, and the variation the evidence favours, as a suggestion only.

Built from what the run detail already reads (outcomes, metered usage, check results), so
the board and the columns can never disagree.
"""
from __future__ import annotations

import math
from typing import Any

from ..runtimes import engines
from ..store import usage
from ..store.models import Run, Selection, Variation
from . import checks, views


def _row(run: Run, v: Variation, baseline: list[dict[str, Any]],
         metered: dict[str, Any] | None) -> dict[str, Any]:
    shown = views.variation_checks(run, v)
    counted = checks.counts(shown)
    newly = checks.newly_failing(shown, baseline)
    result, diff = v.result or {}, v.diff or {}
    tokens = (result.get("usage") or {})
    # The gateway's meter is the truth for cost; the agent's own figure only when nothing
    # went through the gateway (e.g. a run made before it existed).
    cost = metered["cost_usd"] if metered and metered.get("calls") else \
        result.get("total_cost_usd")
    setup = getattr(v, "setup", None)   # the per-repository setup step, when it has one
    setup_ms = setup.get("duration_ms") if isinstance(setup, dict) else None
    return {"variation_id": v.index, "label": f"Variation {v.index}",
            "engine": (v.config or {}).get("engine") or engines.DEFAULT_ENGINE,
            "model": (v.config or {}).get("model"),
            # The prompt the variation ran, and whether it is its own (not the run's).
            "prompt": (v.config or {}).get("prompt") or run.prompt,
            "own_prompt": bool((v.config or {}).get("prompt")),
            "status": v.status, "error": v.error,
            "checks_passed": counted["passed"], "checks_failed": counted["failed"],
            "checks_pending": counted["pending"], "newly_failing": newly,
            "checks_newly_failing": len(newly), "tests": checks.test_totals(shown),
            "environment_problems": checks.environment_problems(shown, baseline),
            "checks": shown,
            "files_changed": len(diff["files"]) if isinstance(diff.get("files"), list)
            else None,
            "additions": diff.get("additions"), "deletions": diff.get("deletions"),
            "turns": result.get("num_turns"),
            "input_tokens": metered["input_tokens"] if metered and metered.get("calls")
            else tokens.get("input_tokens"),
            "output_tokens": metered["output_tokens"] if metered and metered.get("calls")
            else tokens.get("output_tokens"),
            "cost_usd": cost,
            "duration_seconds": views.seconds_between(v.started_at, v.finished_at),
            "setup_seconds": None if setup_ms is None else round(setup_ms / 1000, 3),
            "diff_url": views.diff_url(v.run_id, v.index) if v.diff is not None else None,
            "column": f"#variation-{v.index}"}


def _baseline_row(baseline: list[dict[str, Any]]) -> dict[str, Any]:
    counted = checks.counts(baseline)
    return {"variation_id": None, "label": "Baseline (unchanged repository)",
            "engine": None, "model": None, "prompt": None, "own_prompt": False,
            "status": "baseline", "error": None,
            "checks_passed": counted["passed"], "checks_failed": counted["failed"],
            "checks_pending": counted["pending"], "newly_failing": [],
            "checks_newly_failing": 0, "tests": checks.test_totals(baseline),
            "environment_problems": checks.environment_problems(baseline, None),
            "checks": baseline, "files_changed": 0, "additions": 0, "deletions": 0,
            "turns": None, "input_tokens": None, "output_tokens": None, "cost_usd": None,
            "duration_seconds": None, "setup_seconds": None, "diff_url": None,
            "column": None}


def _suggest(run: Run, rows: list[dict[str, Any]]) -> tuple[int | None, str | None]:
    """Best by checks, then cost: most checks passed, fewest newly failing, fewest failing
    tests, lowest metered cost; among variations that succeeded with every check done."""
    if not run.checks:
        return None, None
    done = [r for r in rows if r["status"] == "succeeded" and r["checks_pending"] == 0]
    if not done:
        return None, None

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        tests = r["tests"] or {}
        return (-r["checks_passed"], r["checks_newly_failing"],
                int(tests.get("failed") or 0) + int(tests.get("errors") or 0),
                r["cost_usd"] if r["cost_usd"] is not None else math.inf, r["variation_id"])

    best = min(done, key=key)
    reason = (f"{best['label']}: {best['checks_passed']} of {len(run.checks)} check(s) pass"
              f", {best['checks_newly_failing']} newly failing")
    if best["cost_usd"] is not None:
        reason += f", ${best['cost_usd']:.4f} metered"
    return best["variation_id"], reason + " (a suggestion: nothing has been chosen)"


def board(run: Run) -> dict[str, Any]:
    variations = list(run.variations.order_by(Variation.index))
    baseline = views.baseline_checks(run, variations[0] if variations else None)
    metered = usage.of_run(run.id)
    rows = [_row(run, v, baseline, metered.get(v.index)) for v in variations]
    suggested, reason = _suggest(run, rows)
    chosen = Selection.get_or_none(Selection.run == run.id)
    return {"run_id": run.id, "status": run.status, "checks": run.checks or [],
            "baseline": _baseline_row(baseline), "rows": rows,
            "suggested_variation_id": suggested, "suggestion_reason": reason,
            "winning_variation_id": chosen.variation if chosen else None}
