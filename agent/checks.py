"""The run's checks, run in the clone and reported as protocol lines.

Where they run is where the agent runs: in the variation's sandbox (local) or its pod
(Kubernetes), so the sandbox's or the pod's limits and network rules hold for them too.
Each check is a user's shell command (``steps.run``: its own process group, stopped with
all its children at its timeout, output batched and capped), with an environment that
holds no credential. After the model, they run on the variation's work; with
``baseline``, on the unchanged clone before the model starts (variation 0 only), so a
failure that was already there is told apart from one a variation caused.
"""
from __future__ import annotations

import os
import time
from typing import Any

from . import check_problems, protocol, steps, testcounts, toolchain
from .config import Check
from .output import Emitter

# What a check's environment adds to the basics: no bytecode caches written into the
# clone (the baseline runs before the model: its caches must not show up in the diff).
CHECK_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}


async def run_all(checks: tuple[Check, ...], *, repo: str, emitter: Emitter,
                  baseline: bool) -> list[dict[str, Any]]:
    """Run every check in order (a failing one does not stop the next); the
    ``check_finished`` fields of each."""
    return [await run_one(check, repo=repo, emitter=emitter, baseline=baseline)
            for check in checks]


async def run_one(check: Check, *, repo: str, emitter: Emitter,
                  baseline: bool) -> dict[str, Any]:
    emitter.emit(protocol.CHECK_STARTED, name=check.name, command=check.command,
                 timeout_seconds=check.timeout_seconds, baseline=baseline)

    def relay(lines: list[str], truncated: bool) -> None:
        emitter.emit(protocol.CHECK_OUTPUT, name=check.name, baseline=baseline,
                     lines=lines, truncated=truncated)

    started = time.time()
    result = await steps.run(check.command, cwd=repo,
                             env=steps.environment(os.environ, {
                                 **CHECK_ENV, "PATH": toolchain.path(repo, os.environ)}),
                             timeout=check.timeout_seconds, on_output=relay)
    tests = None
    if check.junit_report:
        tests = testcounts.junit_file(repo, check.junit_report, since=started)
    if tests is None:
        tests = testcounts.from_output(result.tail)
    fields = {"name": check.name, "baseline": baseline, "exit_code": result.exit_code,
              "passed": result.passed, "duration_ms": result.duration_ms,
              "timed_out": result.timed_out, "lines": result.lines,
              "truncated": result.truncated, "tests": tests,
              # A command or module that was not there: the toolchain, not the code.
              "problem": check_problems.find(result.tail, passed=result.passed,
                                             timed_out=result.timed_out)}
    emitter.emit(protocol.CHECK_FINISHED, **fields)
    return fields
