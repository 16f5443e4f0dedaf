"""Test counts from what a check printed: the summary lines of pytest, unittest, Jest,
Vitest and ``go test``, or a JUnit XML report the check wrote.

A check is any shell command, so its result is first of all its exit status; when its
output ends with a test runner's summary, the counts say more (3 of 40 tests failing is
not 40 of 40). Only the end of the output is read (``StepResult.tail``: a summary is
printed last), and nothing here runs or imports the repository's code.

Each parser returns ``{"format", "passed", "failed", "skipped", "errors"}`` (integers;
``errors`` are tests that could not run, e.g. pytest's collection errors) or None.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Iterable

Counts = dict  # {"format": str, "passed": int, "failed": int, "skipped": int, "errors": int}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# JUnit reports bigger than this are not read (a report is a summary, not a dump).
MAX_REPORT_BYTES = 8 * 1024 * 1024


def _counts(fmt: str, passed: int = 0, failed: int = 0, skipped: int = 0,
            errors: int = 0) -> Counts:
    return {"format": fmt, "passed": passed, "failed": failed, "skipped": skipped,
            "errors": errors}


# -- pytest: "==== 1 failed, 2 passed, 1 skipped in 0.12s ====" (or without the rulers, -q)
_PYTEST = re.compile(r"^=*\s*(?P<body>(?:\d+ [a-z]+(?:, )?)+|no tests ran)"
                     r"(?: in [\d.]+s(?: \([^)]*\))?)\s*=*$")
_PYTEST_WORDS = {"passed": "passed", "failed": "failed", "skipped": "skipped",
                 "error": "errors", "errors": "errors", "xfailed": "skipped",
                 "xpassed": "passed", "deselected": None, "warning": None, "warnings": None,
                 "rerun": None}


def pytest(lines: list[str]) -> Counts | None:
    for line in reversed(lines):
        match = _PYTEST.match(line.strip())
        if not match:
            continue
        counts = _counts("pytest")
        for number, word in re.findall(r"(\d+) ([a-z]+)", match["body"]):
            if word not in _PYTEST_WORDS:
                break
            key = _PYTEST_WORDS[word]
            if key:
                counts[key] += int(number)
        else:
            return counts
    return None


# -- unittest: "Ran 5 tests in 0.01s" then "OK", "OK (skipped=1)", "FAILED (failures=1, ...)"
_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s$")
_VERDICT = re.compile(r"^(OK|FAILED)(?: \((?P<detail>[a-z_]+=\d+(?:, [a-z_]+=\d+)*)\))?$")


def unittest(lines: list[str]) -> Counts | None:
    for i in range(len(lines) - 1, -1, -1):
        ran = _RAN.match(lines[i].strip())
        if not ran:
            continue
        verdict = next((_VERDICT.match(line.strip()) for line in lines[i + 1:i + 4]
                        if _VERDICT.match(line.strip())), None)
        if verdict is None:
            return None
        detail = dict(re.findall(r"([a-z_]+)=(\d+)", verdict["detail"] or ""))
        failed = int(detail.get("failures", 0)) + int(detail.get("unexpected_successes", 0))
        errors = int(detail.get("errors", 0))
        skipped = int(detail.get("skipped", 0)) + int(detail.get("expected_failures", 0))
        total = int(ran.group(1))
        return _counts("unittest", max(total - failed - errors - skipped, 0), failed,
                       skipped, errors)
    return None


# -- Jest: "Tests:       1 failed, 1 skipped, 2 passed, 4 total"
_JEST = re.compile(r"^Tests:\s+(?P<body>(?:\d+ [a-z]+,? ?)+)$")


def jest(lines: list[str]) -> Counts | None:
    for line in reversed(lines):
        match = _JEST.match(line.strip())
        if match:
            words = {w: int(n) for n, w in re.findall(r"(\d+) ([a-z]+)", match["body"])}
            return _counts("jest", words.get("passed", 0), words.get("failed", 0),
                           words.get("skipped", 0) + words.get("todo", 0))
    return None


# -- Vitest: "      Tests  1 failed | 2 passed | 1 skipped (4)"
_VITEST = re.compile(r"^Tests\s+(?P<body>\d+ [a-z]+(?: \| \d+ [a-z]+)*)\s+\(\d+\)$")


def vitest(lines: list[str]) -> Counts | None:
    for line in reversed(lines):
        match = _VITEST.match(line.strip())
        if match:
            words = {w: int(n) for n, w in re.findall(r"(\d+) ([a-z]+)", match["body"])}
            return _counts("vitest", words.get("passed", 0), words.get("failed", 0),
                           words.get("skipped", 0) + words.get("todo", 0))
    return None


# -- go test: "--- PASS: TestX (0.00s)" per test (passes only with -v), "ok"/"FAIL" per package
_GO_TEST = re.compile(r"^\s*--- (PASS|FAIL|SKIP): \S+")
_GO_PACKAGE = re.compile(r"^(ok|FAIL|\?)\s+\S+\s+(?:[\d.]+s|\(cached\)|\[[^\]]+\])")


def go_test(lines: list[str]) -> Counts | None:
    seen = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    package = False
    for line in lines:
        match = _GO_TEST.match(line)
        if match:
            seen[match.group(1)] += 1
        package = package or bool(_GO_PACKAGE.match(line.strip()))
    if not package or not any(seen.values()):
        return None
    return _counts("go", seen["PASS"], seen["FAIL"], seen["SKIP"])


# -- JUnit XML: counted by its elements, read as text (no XML parser: no entity expansion)
_CASE = re.compile(r"<testcase\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</testcase>)", re.S)


def junit_text(text: str) -> Counts | None:
    counts = _counts("junit")
    found = False
    for case in _CASE.finditer(text):
        found = True
        body = case["body"] or ""
        if re.search(r"<failure\b", body):
            counts["failed"] += 1
        elif re.search(r"<error\b", body):
            counts["errors"] += 1
        elif re.search(r"<skipped\b", body):
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts if found else None


def junit_file(repo: str, relative: str, since: float | None = None) -> Counts | None:
    """The counts of the JUnit report at ``relative`` inside ``repo``, if it is there,
    is a regular file inside the repository (symlinks resolved), not too big, and (with
    ``since``, a time.time()) written since then: a report left by an earlier run (the
    baseline's, one committed to the repository) says nothing about this one."""
    root = os.path.realpath(repo)
    path = os.path.realpath(os.path.join(root, relative))
    if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
        return None
    if since is not None and os.path.getmtime(path) < since - 1:   # 1 s: coarse clocks
        return None
    if os.path.getsize(path) > MAX_REPORT_BYTES:
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        return junit_text(f.read())


PARSERS: tuple[Callable[[list[str]], Counts | None], ...] = (
    pytest, unittest, jest, vitest, go_test)


def from_output(tail: Iterable[str]) -> Counts | None:
    """The counts of the last test summary in ``tail``, or None when there is none."""
    lines = [_ANSI.sub("", line) for line in tail]
    found = [counts for counts in (parse(lines) for parse in PARSERS) if counts is not None]
    if len(found) <= 1:
        return found[0] if found else None
    # Several runners in one check (e.g. "pytest && go test"): add them up.
    total = _counts("+".join(c["format"] for c in found))
    for counts in found:
        for key in ("passed", "failed", "skipped", "errors"):
            total[key] += counts[key]
    return total
