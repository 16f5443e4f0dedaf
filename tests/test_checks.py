"""Checks and the comparison board, end to end: the real service runs the real agent on a
repository with tests, against a fake model (through its gateway), with checks.

The repository's ``add`` is broken (its test fails at the baseline); ``mul`` works. The
three variations: 0 fixes ``add``, 1 changes nothing that matters (``add`` still fails),
2 breaks ``mul`` (a check that passed at the baseline now fails). The detail, the status,
the comparison and the run page in a real browser must show exactly that, with test
counts. One service and one run serve every test of the module.
"""
from __future__ import annotations

import psutil
import pytest
from selenium.webdriver.common.by import By

from agent import steps
from helpers import Server
from sse_client import read_events
from tests.agent.fake_anthropic import FakeAnthropic, reply, text, tool_use
from tests.fake_github import FakeGitHub
from web.browser import chromium_for_tests, screenshot, set_viewport, wait_until

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST_ADD = """\
import unittest

from calc import add


class Add(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_add_nothing(self):
        self.assertEqual(add(7, 0), 7)
"""
TEST_MUL = """\
import unittest

from calc import mul


class Mul(unittest.TestCase):
    def test_mul(self):
        self.assertEqual(mul(2, 3), 6)

    def test_mul_one(self):
        self.assertEqual(mul(1, 1), 1)
"""
CHECKS = [{"name": "add", "command": "python3 -m unittest -v test_add", "timeout_seconds": 60},
          {"name": "mul", "command": "python3 -m unittest test_mul"},
          # Prints 100,000 lines: kept capped, and the other streams go on meanwhile.
          {"name": "flood", "command": "seq 1 100000", "timeout_seconds": 30},
          # Sleeps past its timeout, with a child: stopped within a second, both of them.
          {"name": "slow", "command": "sleep 31.5 & echo started; sleep 31.5",
           "timeout_seconds": 1}]
# Per million tokens: each variation's cost differs by its model.
PRICES = "\n".join(f"claude-fake-{name}: {{input: {price}, output: 0, cache_write: 0, "
                   f"cache_read: 0}}" for name, price in
                   (("fix", 1000), ("idle", 500), ("break", 100))) + "\n"


def edit(old: str, new: str, summary: str) -> list:
    return [reply(tool_use("Read", {"file_path": "calc.py"})),
            reply(tool_use("Edit", {"file_path": "calc.py", "old_string": old,
                                    "new_string": new})),
            reply(text(summary))]


SCRIPTS = {
    "claude-fake-fix": edit("a - b", "a + b", "add adds now"),
    "claude-fake-idle": [reply(tool_use("Write", {"file_path": "NOTES.md",
                                                  "content": "add looks fine to me\n"})),
                         reply(text("wrote notes"))],
    "claude-fake-break": edit("a * b", "a ** b", "mul is faster now"),
}
MODELS = ["claude-fake-fix", "claude-fake-idle", "claude-fake-break"]


@pytest.fixture(scope="module")
def checked_run(tmp_path_factory):
    """The service, the run with its three variations, finished, and its whole stream."""
    tmp = tmp_path_factory.mktemp("checks")
    github = FakeGitHub(tmp / "github")
    github.repo("acme", "calc", {"calc.py": CALC, "test_add.py": TEST_ADD,
                                 "test_mul.py": TEST_MUL})
    model = FakeAnthropic(dict(SCRIPTS))
    base_url = model.start()
    prices = tmp / "prices.yaml"
    prices.write_text(PRICES)
    server = Server(tmp / "data", github_url=github.start(), prices_file=str(prices))
    del server.env["AIDEATOR_AGENT_COMMAND"]          # the real default: python -m agent
    server.env.update({"ANTHROPIC_API_KEY": "sk-ant-test-checks", "ANTHROPIC_BASE_URL": base_url,
                       "CLAUDE_CODE_MAX_RETRIES": "1"})
    server.start()
    try:
        run = server.post("/runs", {"github_url": "https://github.com/acme/calc",
                                    "prompt": "Make the tests pass",
                                    "variation_configs": [{"model": m} for m in MODELS],
                                    "checks": CHECKS}).json()
        events = read_events(server.base + run["stream_url"], timeout=180)
        yield server, run["run_id"], events
    finally:
        server.stop()
        model.stop()
        github.stop()


def check_lines(events, variation, kind):
    return [e.data["content"] for e in events if e.event == "agent_output"
            and e.data["variation_id"] == variation and e.data["type"] == kind]


def by_name(checks):
    return {c["name"]: c for c in checks}


def unit(passed, failed):
    return {"format": "unittest", "passed": passed, "failed": failed, "skipped": 0,
            "errors": 0}


def test_the_stream_tells_each_check_with_the_baseline_first(checked_run):
    server, run_id, events = checked_run
    assert events[-1].data == {"run_id": run_id, "status": "completed"}
    for variation in range(3):
        finished = check_lines(events, variation, "check_finished")
        names = ("add", "mul", "flood", "slow")
        expected = ([(n, True) for n in names] if variation == 0 else []) + [
            (n, False) for n in names]
        assert [(c["name"], c["baseline"]) for c in finished] == expected
        started = check_lines(events, variation, "check_started")
        assert started[-2] == {**started[-2], "name": "flood", "command": "seq 1 100000",
                               "timeout_seconds": 30, "baseline": False}
        slow = finished[-1]
        assert slow["timed_out"] is True and slow["exit_code"] is None and not slow["passed"]
        assert 1000 <= slow["duration_ms"] < 2000, slow
    # Its children went with it: none of its sleeps (an unusual duration) is left.
    assert [p.pid for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] == ["sleep", "31.5"]] == []
    # The flood is capped where it is printed: a few batches, the cut said once.
    flood = [c for c in check_lines(events, 1, "check_output") if c["name"] == "flood"]
    assert sum(len(c["lines"]) for c in flood) == steps.MAX_LINES
    assert [c["truncated"] for c in flood].count(True) == 1 and len(flood) <= 12
    done = by_name(check_lines(events, 1, "check_finished"))["flood"]
    assert done["lines"] == 100000 and done["truncated"] and done["passed"]
    output = [line for c in check_lines(events, 0, "check_output") if c["name"] == "add"
              and not c["baseline"] for line in c["lines"]]
    assert "test_add (test_add.Add.test_add) ... ok" in output


def test_the_detail_shows_each_variations_checks_and_the_baseline(checked_run):
    server, run_id, _ = checked_run
    detail = server.get(f"/runs/{run_id}").json()
    assert [c["name"] for c in detail["checks"]] == ["add", "mul", "flood", "slow"]
    assert detail["checks"][1]["timeout_seconds"] == 300          # the default
    baseline = by_name(detail["baseline"]["checks"])
    assert (baseline["add"]["status"], baseline["add"]["exit_code"]) == ("failed", 1)
    assert baseline["add"]["tests"] == unit(1, 1)
    assert baseline["mul"]["status"] == "passed" and baseline["mul"]["tests"] == unit(2, 0)
    expected = [{"add": ("passed", unit(2, 0)), "mul": ("passed", unit(2, 0))},
                {"add": ("failed", unit(1, 1)), "mul": ("passed", unit(2, 0))},
                {"add": ("failed", unit(1, 1)), "mul": ("failed", unit(1, 1))}]
    for variation, want in zip(detail["variations"], expected):
        assert variation["status"] == "succeeded"
        checks = by_name(variation["checks"])
        for name, (status, tests) in want.items():
            check = checks[name]
            assert (check["status"], check["tests"]) == (status, tests), (name, check)
            assert check["passed"] is (status == "passed") and check["timed_out"] is False
            assert check["duration_ms"] >= 0 and check["command"] == CHECKS[
                ["add", "mul"].index(name)]["command"]
        assert checks["flood"]["status"] == "passed" and checks["flood"]["truncated"]
        assert checks["slow"]["status"] == "timed_out" and checks["slow"]["timed_out"]
    status = server.get(f"/runs/{run_id}/status").json()
    assert [j["checks"] for j in status["jobs"]] == [
        {"passed": 3, "failed": 1, "pending": 0}, {"passed": 2, "failed": 2, "pending": 0},
        {"passed": 1, "failed": 3, "pending": 0}]
    assert status["checks"] == {"passed": 6, "failed": 6, "pending": 0}
    assert status["baseline_checks"] == {"passed": 2, "failed": 2, "pending": 0}


def test_the_comparison_tells_newly_failing_from_already_failing(checked_run):
    server, run_id, _ = checked_run
    board = server.get(f"/runs/{run_id}/comparison").json()
    rows = board["rows"]
    assert [(r["variation_id"], r["model"], r["engine"], r["status"]) for r in rows] == [
        (i, m, "claude-code", "succeeded") for i, m in enumerate(MODELS)]
    assert [(r["checks_passed"], r["checks_failed"], r["newly_failing"]) for r in rows] == [
        (3, 1, []), (2, 2, []), (1, 3, ["mul"])]
    assert [r["tests"] for r in rows] == [
        {"format": "unittest", "passed": 4, "failed": 0, "skipped": 0, "errors": 0},
        {"format": "unittest", "passed": 3, "failed": 1, "skipped": 0, "errors": 0},
        {"format": "unittest", "passed": 2, "failed": 2, "skipped": 0, "errors": 0}]
    baseline = board["baseline"]
    assert baseline["variation_id"] is None and baseline["status"] == "baseline"
    assert (baseline["checks_passed"], baseline["checks_failed"]) == (2, 2)
    assert baseline["tests"]["passed"] == 3 and baseline["tests"]["failed"] == 1
    assert [(r["files_changed"], r["additions"], r["deletions"]) for r in rows] == [
        (1, 1, 1), (1, 1, 0), (1, 1, 1)]
    detail = server.get(f"/runs/{run_id}").json()
    for row, variation in zip(rows, detail["variations"]):
        assert row["turns"] == variation["outcome"]["turns"] > 0
        assert row["cost_usd"] == variation["usage"]["cost_usd"] > 0    # metered
        assert row["input_tokens"] == variation["usage"]["input_tokens"] > 0
        assert row["duration_seconds"] == variation["duration_seconds"] > 0
        assert row["diff_url"] == variation["outcome"]["diff_url"]
        assert row["column"] == f"#variation-{row['variation_id']}"
    # Variation 0 passes the most checks; a suggestion only: nothing is chosen.
    assert board["suggested_variation_id"] == 0
    assert "3 of 4" in board["suggestion_reason"]
    assert board["winning_variation_id"] is None and detail["selection"] is None


@pytest.fixture(scope="module")
def board_browser(checked_run):
    with chromium_for_tests() as driver:
        yield driver


def board_rows(driver):
    """Each board row as shown: data-variation -> {column key: text}, in the shown order."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.board-table tr.board-row')].map(tr => "
        "[tr.dataset.variation, Object.fromEntries([...tr.querySelectorAll('td[data-col]')]"
        ".map(td => [td.dataset.col, td.textContent])), tr.className])")


def test_the_run_page_opens_with_the_board_and_choosing_from_it(checked_run, board_browser):
    server, run_id, _ = checked_run
    driver = board_browser
    driver.get(f"{server.base}/runs/{run_id}")
    wait_until(driver, "document.querySelectorAll('.board-table tbody tr').length === 3 && "
                       "!!document.querySelector('.board-row.suggested')", 20)
    # Above the columns.
    assert driver.execute_script(
        "return document.querySelector('.board').compareDocumentPosition("
        "document.querySelector('.columns')) & Node.DOCUMENT_POSITION_FOLLOWING") != 0
    rows = board_rows(driver)
    shown = {v: cells for v, cells, _ in rows}
    assert [v for v, _, _ in rows] == ["0", "1", "2", "baseline"]
    assert [shown[v]["checks"] for v in ("0", "1", "2", "baseline")] == [
        "3 / 4", "2 / 4", "1 / 4", "2 / 4"]
    assert [shown[v]["newly"] for v in ("0", "1", "2")] == ["0", "0", "1 (mul)"]
    assert [shown[v]["tests"] for v in ("0", "1", "2", "baseline")] == [
        "4 passed · 0 failed", "3 passed · 1 failed", "2 passed · 2 failed",
        "3 passed · 1 failed"]
    assert [shown[v]["model"] for v in ("0", "1", "2")] == MODELS
    assert [shown[v]["status"] for v in ("0", "1", "2")] == ["succeeded"] * 3
    # Suggested, not chosen.
    suggested = [v for v, _, classes in rows if "suggested" in classes]
    assert suggested == ["0"] and "Suggested" in shown["0"]["variation"]
    assert not any("chosen" in classes for _, _, classes in rows)
    assert "Variation 0" in driver.find_element(By.CSS_SELECTOR, "[data-role=board-summary]").text
    # Each row links to its column and its diff, which are on the page.
    for index in range(3):
        links = driver.execute_script(
            "return [...document.querySelectorAll(`.board-row[data-variation=\"${arguments[0]}\"]"
            " a`)].map(a => a.href)", index)
        assert links == [f"{server.base}/runs/{run_id}#variation-{index}",
                         f"{server.base}/runs/{run_id}#variation-{index}-diff"]
    wait_until(driver, "[0, 1, 2].every(i => document.querySelector(`#variation-${i}-diff "
                       ".diff-file`))", 20)

    # Sortable: by cost (cheapest first), by checks (most passing first).
    costs = {r["variation_id"]: r["cost_usd"] for r in
             server.get(f"/runs/{run_id}/comparison").json()["rows"]}
    sort_by = "document.querySelector('button.sort[data-sort=' + arguments[0] + ']').click()"
    driver.execute_script(sort_by, "cost")
    assert [v for v, _, _ in board_rows(driver)][:3] == [
        str(i) for i in sorted(costs, key=costs.get)]
    driver.execute_script(sort_by, "checks")
    assert [v for v, _, _ in board_rows(driver)][:3] == ["0", "1", "2"]

    # Each column shows its checks, and the check events in its transcript.
    column = driver.find_element(By.CSS_SELECTOR, '.column[data-variation="2"] .col-checks')
    assert "mul" in column.text and "failed · 1 passed, 1 failed" in column.text
    assert "slow" in column.text and "timed out" in column.text
    notes = driver.execute_script(
        "return [...document.querySelectorAll('.column[data-variation=\"0\"] .entry.check')]"
        ".map(n => n.textContent)")
    assert any(n.startswith('Baseline check "add" failed (exit 1)') for n in notes), notes
    assert any(n.startswith('Check "add" passed · 2 tests passed, 0 failed') for n in notes)
    screenshot(driver, "comparison-board")

    # Choosing from the board records the choice through the API.
    driver.execute_script(
        "document.querySelector('.board-row[data-variation=\"2\"] button.choose').click()")
    wait_until(driver, "document.querySelector('.board-row[data-variation=\"2\"]')"
                       ".classList.contains('chosen')", 10)
    assert server.get(f"/runs/{run_id}").json()["selection"]["winning_variation_id"] == 2
    assert "is-winner" in driver.find_element(
        By.CSS_SELECTOR, '.column[data-variation="2"]').get_attribute("class")
    errors = [e["message"] for e in driver.get_log("browser") if e.get("source") == "javascript"]
    assert errors == []


# What a card shows on a phone: what decides, and the choice.
CARD_FIELDS = ["variation", "status", "checks", "newly", "tests", "lines", "cost"]


def board_fit(driver):
    """How the board sits in the page: its sideways overflow, the page's, and each
    visible cell's column key with its box (left/right) and text, per row."""
    return driver.execute_script("""
        const scroll = document.querySelector('.board-scroll');
        const board = document.querySelector('.board').getBoundingClientRect();
        const visible = (n) => n.getClientRects().length > 0
            && getComputedStyle(n).display !== 'none';
        return {
          overflow: scroll.scrollWidth - scroll.clientWidth,
          page: document.documentElement.scrollWidth - window.innerWidth,
          board: [board.left, board.right],
          headings: [...document.querySelectorAll('.board-table thead th')].filter(visible)
              .map(th => { const r = th.getBoundingClientRect();
                           return [th.textContent, r.left, r.right]; }),
          rows: [...document.querySelectorAll('.board-table tr.board-row')].map(tr => [
              tr.dataset.variation, getComputedStyle(tr).display,
              [...tr.querySelectorAll('td')].filter(visible).map(td => {
                const r = td.getBoundingClientRect();
                return [td.dataset.col || 'action', td.dataset.label || '',
                        td.textContent.trim(), r.left, r.right];
              })]),
        };""")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_board_fits_a_desktop_and_becomes_cards_on_a_phone(checked_run, board_browser,
                                                                 width):
    server, run_id, _ = checked_run
    driver = board_browser
    set_viewport(driver, width, 900 if width > 600 else 844)
    try:
        driver.get(f"{server.base}/runs/{run_id}")
        wait_until(driver, "document.querySelectorAll('.board-table tbody tr').length === 3 "
                           "&& !!document.querySelector('.board-row.suggested')", 20)
        fit = board_fit(driver)
        screenshot(driver, f"comparison-board-{width}")
    finally:
        set_viewport(driver, 1280, 900)
    # Nothing scrolls sideways: not the board, not the page.
    assert fit["overflow"] <= 0 and fit["page"] <= 0, fit
    left, right = fit["board"]
    cells = [cell for _, _, row in fit["rows"] for cell in row]
    assert all(left - 1 <= c[3] and c[4] <= right + 1 for c in cells), fit
    rows = {v: (display, {c[0]: c for c in row}) for v, display, row in fit["rows"]}
    if width == 1280:
        # Every column, its heading in view, the cost and the choice included.
        assert [h[0].strip(" ▴▾") for h in fit["headings"]] == [
            "Variation", "Engine", "Model", "Prompt", "Outcome", "Checks passed",
            "Newly failing", "Tests", "Files", "Lines +/−", "Turns", "Tokens", "Cost",
            "Time", ""]
        assert all(left - 1 <= h[1] and h[2] <= right + 1 for h in fit["headings"]), fit
        assert rows["0"][1]["cost"][2].startswith("$")
        return
    # A phone: one card per variation (and the baseline's) with what decides, labelled.
    assert fit["headings"] == []
    for variation in ("0", "1", "2"):
        display, cells = rows[variation]
        assert display == "grid"
        assert list(cells) == CARD_FIELDS + ["action"], cells
        assert [cells[k][1] for k in CARD_FIELDS[1:]] == [
            "Outcome", "Checks passed", "Newly failing", "Tests", "Lines +/−", "Cost"]
    shown = {v: {k: c[2] for k, c in cells.items()} for v, (_, cells) in rows.items()}
    assert [shown[v]["checks"] for v in ("0", "1", "2")] == ["3 / 4", "2 / 4", "1 / 4"]
    assert [shown[v]["newly"] for v in ("0", "1", "2")] == ["0", "0", "1 (mul)"]
    assert [shown[v]["tests"] for v in ("0", "1", "2")] == [
        "4 passed · 0 failed", "3 passed · 1 failed", "2 passed · 2 failed"]
    assert all(shown[v]["status"] == "succeeded" for v in ("0", "1", "2"))
    assert all(shown[v]["lines"].startswith("+1") for v in ("0", "1", "2"))
    assert all(shown[v]["cost"].startswith("$") for v in ("0", "1", "2"))
    assert "Suggested" in shown["0"]["variation"] and "Suggested" not in shown["1"]["variation"]
    # Choose this one on the cards not chosen yet (variation 2 was chosen above).
    assert shown["0"]["action"] == "Choose this one" and shown["1"]["action"] == "Choose this one"
