"""The run's checks as the API shows them: each requested check with its result on a
variation's work (or on the unchanged repository, the baseline), and counts of them.

Results are stored by check name as the agent reported them (``collector``); what a person
needs besides is the check's own definition and a state for checks that have no result:
``pending`` while the variation may still run them, ``not_run`` once it cannot.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

RESULT_FIELDS = ("exit_code", "passed", "duration_ms", "timed_out", "lines", "truncated",
                 "tests", "problem")
FAILED_STATES = ("failed", "timed_out")


def results(run_checks: Sequence[Mapping[str, Any]] | None,
            stored: Mapping[str, Any] | None, *, ended: bool) -> list[dict[str, Any]]:
    """One entry per requested check, in the request's order."""
    stored = stored or {}
    shown = []
    for check in run_checks or ():
        result = stored.get(check["name"]) or {}
        state = result.get("state") or ("not_run" if ended else "pending")
        if state == "running" and ended:
            state = "not_run"   # it never finished: the variation was stopped meanwhile
        shown.append({"name": check["name"], "command": check["command"],
                      "timeout_seconds": check["timeout_seconds"], "status": state,
                      **{k: result.get(k) for k in RESULT_FIELDS}})
    return shown


def counts(shown: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    passed = sum(c["status"] == "passed" for c in shown)
    failed = sum(c["status"] in FAILED_STATES for c in shown)
    return {"passed": passed, "failed": failed, "pending": len(shown) - passed - failed}


def test_totals(shown: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The test counts of every check that reported some, added up; None if none did."""
    reported = [c["tests"] for c in shown if isinstance(c.get("tests"), dict)]
    if not reported:
        return None
    formats = sorted({str(t.get("format")) for t in reported})
    return {"format": "+".join(formats),
            **{key: sum(int(t.get(key) or 0) for t in reported)
               for key in ("passed", "failed", "skipped", "errors")}}


def newly_failing(shown: Sequence[Mapping[str, Any]],
                  baseline: Sequence[Mapping[str, Any]]) -> list[str]:
    """Checks that passed on the unchanged repository and fail on this variation's work."""
    passed_before = {c["name"] for c in baseline if c["status"] == "passed"}
    return [c["name"] for c in shown
            if c["status"] in FAILED_STATES and c["name"] in passed_before]


def environment_problems(shown: Sequence[Mapping[str, Any]],
                         baseline: Sequence[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """Failed checks whose command or a module was missing (``problem``) and that failed
    so on the unchanged repository too: the toolchain's fault, not the change's.
    ``baseline`` None: these are the baseline's own checks."""
    failed_before = {c["name"]: c for c in baseline or shown
                     if c["status"] in FAILED_STATES and c.get("problem")}
    return [{"name": c["name"], "summary": c["problem"]["summary"]} for c in shown
            if c["status"] in FAILED_STATES and c.get("problem") and c["name"] in failed_before]
