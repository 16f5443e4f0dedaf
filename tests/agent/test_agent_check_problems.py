"""A failed check's reason when it is the environment (agent/check_problems.py): the
lines real shells, Python and Node print, as the board shows them."""
from __future__ import annotations

import subprocess

import pytest

from agent import check_problems


def output(command: str) -> tuple[list[str], int]:
    """What ``sh -c command`` prints here, and its exit status (the shells are real)."""
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    return (done.stdout + done.stderr).splitlines(), done.returncode


@pytest.mark.parametrize("command, summary", [
    ("pytest-not-installed -q", "command not found: pytest-not-installed"),
    ("bash -c 'true; jest-not-installed'", "command not found: jest-not-installed"),
    ("env node-not-installed", "command not found: node-not-installed"),
    ("/usr/bin/python3 -m module_not_installed_here -q", "missing module module_not_installed_here"),
    ("/usr/bin/python3 -c 'import requests_not_here'", "missing module requests_not_here"),
    ("node -e \"require('jest-not-here')\"", "missing module jest-not-here"),
])
def test_a_missing_command_or_module_is_named(command, summary):
    lines, code = output(command)
    assert code != 0
    found = check_problems.find(lines, passed=False, timed_out=False)
    assert found is not None and found["summary"] == summary, lines


def test_other_failures_passes_and_timeouts_have_no_such_reason():
    lines, _ = output("echo 'AssertionError: 2 != 3'; exit 1")
    assert check_problems.find(lines, passed=False, timed_out=False) is None
    missing = ["sh: 1: pytest: not found"]
    assert check_problems.find(missing, passed=True, timed_out=False) is None
    assert check_problems.find(missing, passed=False, timed_out=True) is None
    # A missing file is not a missing package.
    assert check_problems.find(["Error: Cannot find module '/app/x.js'"], passed=False,
                               timed_out=False) is None


def test_the_last_such_line_is_the_reason():
    lines = ["sh: 1: flake8: not found", "collected 0 items",
             "E   ModuleNotFoundError: No module named 'requests'"]
    assert check_problems.find(lines, passed=False, timed_out=False) == {
        "kind": "missing_module", "name": "requests", "summary": "missing module requests"}
