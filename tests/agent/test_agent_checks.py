"""Checks in the agent: run on the unchanged clone first (the baseline, variation 0) and
on the variation's work after its diff, each stopped at its timeout with its children,
its output capped; a variation whose agent failed runs none."""
from __future__ import annotations

import json
import os
import time

from agent import steps
from tests.agent.fake_anthropic import fault, reply, text, tool_use

CALC = "def add(a, b):\n    return a - b\n"
TEST_ADD = """\
import unittest

from calc import add


class Add(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_zero(self):
        self.assertEqual(add(0, 0), 0)


if __name__ == "__main__":
    unittest.main()
"""
FIX = [reply(tool_use("Read", {"file_path": "calc.py"})),
       reply(tool_use("Edit", {"file_path": "calc.py", "old_string": "a - b",
                               "new_string": "a + b"})),
       reply(text("fixed"))]


def checks(*items, **extra):
    """CHECKS of (name, command, timeout) items; ``extra``: name -> more fields."""
    return json.dumps([{"name": name, "command": command, "timeout_seconds": timeout,
                        **extra.get(name, {})} for name, command, timeout in items])


def test_baseline_then_the_model_then_the_checks_with_test_counts(world, fake_model):
    world.repo("acme", "widgets", {"calc.py": CALC, "test_add.py": TEST_ADD})
    fake_model.scripts["default"] = FIX
    run = world.run(world.env(fake_model.base_url, BASELINE_CHECKS="1",
                              CHECKS=checks(("unit", "python3 -m unittest -v", 60),
                                            ("lint", "exit 3", 60))))
    assert run.returncode == 0, run.stderr
    types = run.types()
    finished = run.of("check_finished")
    assert [(c["name"], c["baseline"]) for c in finished] == [
        ("unit", True), ("lint", True), ("unit", False), ("lint", False)]
    # The baseline ran before the model, the others after the diff.
    first_model_line = types.index("result")
    assert types.index("check_finished") < first_model_line < types.index("diff") \
        < len(types) - 1 - types[::-1].index("check_started")
    base_unit, base_lint, unit, lint = finished
    assert base_unit["passed"] is False and base_unit["exit_code"] == 1
    assert base_unit["tests"] == {"format": "unittest", "passed": 1, "failed": 1,
                                  "skipped": 0, "errors": 0}
    assert unit["passed"] is True and unit["exit_code"] == 0 and not unit["timed_out"]
    assert unit["tests"] == {"format": "unittest", "passed": 2, "failed": 0, "skipped": 0,
                             "errors": 0}
    assert lint["exit_code"] == 3 and lint["tests"] is None
    output = [line for e in run.of("check_output") if e["name"] == "unit" and not e["baseline"]
              for line in e["lines"]]
    assert "test_add (test_add.Add.test_add) ... ok" in output
    started = run.of("check_started")[0]
    assert started == {**started, "name": "unit", "command": "python3 -m unittest -v",
                       "timeout_seconds": 60, "baseline": True}
    # Neither the baseline nor the checks left bytecode caches for the diff to show.
    assert run.of("diff")[0]["files"] == ["calc.py"]
    assert run.last["phase"] == "finished"


def test_a_check_past_its_timeout_is_stopped_with_its_children(world, fake_model, tmp_path):
    world.repo("acme", "widgets", {"calc.py": CALC})
    fake_model.scripts["default"] = FIX
    pidfile = tmp_path / "child.pid"
    run = world.run(world.env(fake_model.base_url, CHECKS=checks(
        ("slow", f"sleep 60 & echo $! > {pidfile}; echo waiting; sleep 60", 1),
        ("after", "echo still-runs", 10),
        ("junit", "mkdir -p out && printf '<testsuite><testcase name=\"a\"/><testcase "
                  "name=\"b\"><failure/></testcase></testsuite>' > out/junit.xml; exit 1", 10),
        junit={"junit_report": "out/junit.xml"})))
    assert run.returncode == 0, run.stderr
    slow, after, junit = run.of("check_finished")
    assert slow["timed_out"] is True and slow["passed"] is False and slow["exit_code"] is None
    assert 1000 <= slow["duration_ms"] < 2000, slow
    child = int(pidfile.read_text())
    time.sleep(0.1)
    assert not os.path.exists(f"/proc/{child}") or \
        open(f"/proc/{child}/stat").read().split(") ")[1][0] == "Z"
    assert after["passed"] is True
    # The counts of the report the check wrote.
    assert junit["tests"] == {"format": "junit", "passed": 1, "failed": 1, "skipped": 0,
                              "errors": 0}


def test_a_flood_of_output_is_capped_and_says_so(world, fake_model):
    world.repo("acme", "widgets", {"calc.py": CALC})
    fake_model.scripts["default"] = FIX
    started = time.monotonic()
    run = world.run(world.env(fake_model.base_url, CHECKS=checks(("flood", "seq 1 100000", 60))))
    assert run.returncode == 0, run.stderr
    batches = run.of("check_output")
    relayed = [line for batch in batches for line in batch["lines"]]
    assert relayed == [str(i) for i in range(1, steps.MAX_LINES + 1)]
    assert [b["truncated"] for b in batches].count(True) == 1 and batches[-1]["truncated"]
    assert len(batches) <= steps.MAX_LINES // steps.BATCH_LINES + 2
    (done,) = run.of("check_finished")
    assert done["lines"] == 100000 and done["truncated"] and done["passed"]
    assert time.monotonic() - started < 30


def test_a_failed_agent_runs_no_checks(world, fake_model):
    world.repo("acme", "widgets", {"calc.py": CALC})
    fake_model.scripts["default"] = [fault(401)]
    run = world.run(world.env(fake_model.base_url, BASELINE_CHECKS="1",
                              CHECKS=checks(("unit", "true", 10))))
    assert run.last["code"] == "model_error"
    # The baseline ran (before the model); nothing after it.
    assert [c["baseline"] for c in run.of("check_finished")] == [True]


def test_bad_checks_are_a_config_error(world):
    world.repo("acme", "widgets", {"calc.py": CALC})
    run = world.run(world.env(None, CHECKS='[{"name": "x", "command": ""}]'))
    assert run.returncode == 2 and run.last["field"] == "CHECKS"
