"""How the API tells a run's checks: each requested check with its state (pending while
it may still run, not run once it cannot), counts, test totals, and which ones a variation
newly broke against the baseline."""
from __future__ import annotations

from aideator.api import checks

RUN_CHECKS = [{"name": "unit", "command": "pytest", "timeout_seconds": 300},
              {"name": "lint", "command": "ruff check .", "timeout_seconds": 60}]


def finished(passed, tests=None, timed_out=False):
    return {"state": "timed_out" if timed_out else "passed" if passed else "failed",
            "exit_code": None if timed_out else 0 if passed else 1, "passed": passed,
            "duration_ms": 10, "timed_out": timed_out, "lines": 3, "truncated": False,
            "tests": tests}


def test_states_before_during_and_after():
    assert [c["status"] for c in checks.results(RUN_CHECKS, None, ended=False)] == [
        "pending", "pending"]
    running = {"unit": {"state": "running"}}
    assert [c["status"] for c in checks.results(RUN_CHECKS, running, ended=False)] == [
        "running", "pending"]
    # A variation that ended without finishing them (its agent failed, it was cancelled).
    assert [c["status"] for c in checks.results(RUN_CHECKS, running, ended=True)] == [
        "not_run", "not_run"]
    shown = checks.results(RUN_CHECKS, {"unit": finished(True), "lint": finished(
        False, timed_out=True)}, ended=True)
    assert [(c["name"], c["command"], c["status"]) for c in shown] == [
        ("unit", "pytest", "passed"), ("lint", "ruff check .", "timed_out")]
    assert checks.counts(shown) == {"passed": 1, "failed": 1, "pending": 0}
    # A result for a check the run never asked for is not shown.
    assert len(checks.results(RUN_CHECKS, {"other": finished(True)}, ended=True)) == 2


def test_newly_failing_and_test_totals():
    tests = {"format": "pytest", "passed": 4, "failed": 1, "skipped": 0, "errors": 0}
    baseline = checks.results(RUN_CHECKS, {"unit": finished(False, tests),
                                           "lint": finished(True)}, ended=True)
    mine = checks.results(RUN_CHECKS, {"unit": finished(False, tests),
                                       "lint": finished(False)}, ended=True)
    assert checks.newly_failing(mine, baseline) == ["lint"]       # unit failed before too
    assert checks.newly_failing(baseline, baseline) == []
    assert checks.test_totals(mine) == tests
    assert checks.test_totals(checks.results(RUN_CHECKS, None, ended=True)) is None


PYTEST_MISSING = {"kind": "missing_module", "name": "pytest", "summary": "missing module pytest"}


def test_a_missing_toolchain_at_the_baseline_too_is_the_environments_problem():
    def failed(problem=None):
        return {**finished(False), "problem": problem}

    baseline = checks.results(RUN_CHECKS, {"unit": failed(PYTEST_MISSING),
                                           "lint": finished(True)}, ended=True)
    same = checks.results(RUN_CHECKS, {"unit": failed(PYTEST_MISSING),
                                       "lint": finished(True)}, ended=True)
    assert checks.environment_problems(same, baseline) == [
        {"name": "unit", "summary": "missing module pytest"}]
    assert checks.environment_problems(baseline, None) == [
        {"name": "unit", "summary": "missing module pytest"}]
    # Missing only on the variation's work (it broke lint's command): its own failure,
    # newly failing, not the environment's.
    broke = checks.results(RUN_CHECKS, {"unit": failed(PYTEST_MISSING), "lint": failed(
        {"kind": "command_not_found", "name": "ruff", "summary": "command not found: ruff"})},
        ended=True)
    assert checks.environment_problems(broke, baseline) == [
        {"name": "unit", "summary": "missing module pytest"}]
    assert checks.newly_failing(broke, baseline) == ["lint"]


def test_an_agents_problem_is_stored_only_when_well_formed():
    from aideator.runs.collector import _problem
    assert _problem(PYTEST_MISSING) == PYTEST_MISSING
    for bad in (None, "missing module pytest", {**PYTEST_MISSING, "kind": "other"},
                {**PYTEST_MISSING, "name": ""}, {**PYTEST_MISSING, "summary": "x" * 301},
                {"kind": "missing_module", "name": ["pytest"], "summary": "s"}):
        assert _problem(bad) is None
    assert _problem({**PYTEST_MISSING, "extra": "dropped"}) == PYTEST_MISSING
