"""agent.testcounts: the counts a person reads at the end of a test run, from the
summaries that pytest, unittest, Jest, Vitest and go test print, and JUnit XML reports."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from agent import testcounts

SUITE = """\
import unittest


class T(unittest.TestCase):
    def test_ok(self):
        pass

    def test_fail(self):
        self.assertEqual(1, 2)

    @unittest.skip("not today")
    def test_skip(self):
        pass

    def test_err(self):
        raise RuntimeError("boom")
"""


def output_of(tmp_path, *argv):
    (tmp_path / "test_suite.py").write_text(SUITE)
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
    return (done.stdout + done.stderr).splitlines()


def test_real_unittest_and_pytest_summaries(tmp_path):
    unit = output_of(tmp_path, sys.executable, "-m", "unittest", "test_suite")
    assert testcounts.from_output(unit) == {"format": "unittest", "passed": 1, "failed": 1,
                                            "skipped": 1, "errors": 1}
    # (-q: the summary without its rulers; the ruled one is below.)
    lines = output_of(tmp_path, sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                      "-q", "test_suite.py")
    assert testcounts.from_output(lines) == {"format": "pytest", "passed": 1, "failed": 2,
                                             "skipped": 1, "errors": 0}


def test_passing_runs_and_errors():
    assert testcounts.from_output(["", "Ran 3 tests in 0.001s", "", "OK"])["passed"] == 3
    assert testcounts.from_output(["Ran 3 tests in 0.001s", "", "OK (skipped=1)"]) == {
        "format": "unittest", "passed": 2, "failed": 0, "skipped": 1, "errors": 0}
    assert testcounts.from_output(["=== 1 error, 4 passed, 2 warnings in 1.02s ==="]) == {
        "format": "pytest", "passed": 4, "failed": 0, "skipped": 0, "errors": 1}
    assert testcounts.from_output(["no tests ran in 0.01s"])["passed"] == 0


def test_jest_and_vitest():
    jest = ["Test Suites: 1 failed, 1 passed, 2 total",
            "Tests:       1 failed, 1 skipped, 2 passed, 4 total",
            "Snapshots:   0 total", "Time:        0.5 s"]
    assert testcounts.from_output(jest) == {"format": "jest", "passed": 2, "failed": 1,
                                            "skipped": 1, "errors": 0}
    vitest = [" \x1b[2m Test Files \x1b[22m \x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m (1)",
              "\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m\x1b[2m | "
              "\x1b[22m\x1b[1m\x1b[32m2 passed\x1b[39m\x1b[22m\x1b[90m (3)\x1b[39m",
              "   Duration  300ms"]
    assert testcounts.from_output(vitest) == {"format": "vitest", "passed": 2, "failed": 1,
                                              "skipped": 0, "errors": 0}


def test_go_test_verbose_and_plain():
    verbose = ["=== RUN   TestAdd", "--- PASS: TestAdd (0.00s)", "=== RUN   TestMul",
               "--- FAIL: TestMul (0.00s)", "    calc_test.go:9: got 8", "--- SKIP: TestX (0.00s)",
               "FAIL", "FAIL\texample.com/calc\t0.002s", "FAIL"]
    assert testcounts.from_output(verbose) == {"format": "go", "passed": 1, "failed": 1,
                                               "skipped": 1, "errors": 0}
    # Without -v, go test names no passing test: no counts rather than wrong ones.
    assert testcounts.from_output(["ok  \texample.com/calc\t0.002s"]) is None


def test_no_summary_no_counts():
    assert testcounts.from_output(["building...", "done", "OK"]) is None
    assert testcounts.from_output([]) is None


def test_junit_reports_inside_the_repository_only(tmp_path):
    report = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuites>'
              '<testsuite name="s" tests="4"><testcase name="a"/>'
              '<testcase name="b"><failure message="&a;">x</failure></testcase>'
              '<testcase name="c"><skipped/></testcase>'
              '<testcase name="d"><error message="e"/></testcase></testsuite></testsuites>')
    repo = tmp_path / "repo"
    (repo / "out").mkdir(parents=True)
    (repo / "out" / "junit.xml").write_text(report)
    assert testcounts.junit_file(str(repo), "out/junit.xml") == {
        "format": "junit", "passed": 1, "failed": 1, "skipped": 1, "errors": 1}
    (tmp_path / "outside.xml").write_text(report)
    (repo / "link.xml").symlink_to(tmp_path / "outside.xml")
    assert testcounts.junit_file(str(repo), "../outside.xml") is None
    assert testcounts.junit_file(str(repo), "link.xml") is None
    assert testcounts.junit_file(str(repo), "missing.xml") is None
    # A report older than the check (e.g. the baseline's) is not this check's.
    os.utime(repo / "out" / "junit.xml", (1_000_000, 1_000_000))
    assert testcounts.junit_file(str(repo), "out/junit.xml", since=time.time()) is None
