"""The web app's figures, measured in a real browser (headless Chromium).

A run of 5 variations x ~5,000 agent lines each (the fake agent speaking the line protocol
as fast as it can: thinking and text blocks with their deltas, tool calls and results,
plain lines), watched live on the run page:
1. Live: the time from the run's last event arriving at the page to the page being idle
   (every column rendered, every diff shown, then a whole idle period of the main thread);
   the longest main-thread task and the total blocking time while the run streamed.
2. Later: the same finished run opened afresh (its whole history replayed): from
   navigation to idle, and the longest task.
Both are taken in the browser (performance.now, long-task timing), min / median / max of
3 tries.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import Server, wait_for  # noqa: E402
from web.browser import missing, set_viewport, start_chromium  # noqa: E402

VARIATIONS = 5
# Steps of the fake agent's protocol mode: 4 steps print 9 lines (thinking and text with
# two deltas each, a tool call and its result, a plain line), so 2,222 steps ~ 5,000 lines.
STEPS = 2222
TRIES = 3
REPO = "https://github.com/octocat/hello-world"

# Installed before the page's own scripts: counts the stream's events (its listeners run
# before the page's), notes when the last one arrives, and records long tasks.
PROBE = """
(() => {
  const bench = window.__bench = {events: 0, lastEventAt: null, longest: 0, blocking: 0};
  new PerformanceObserver((list) => {
    for (const task of list.getEntries()) {
      bench.longest = Math.max(bench.longest, task.duration);
      bench.blocking += Math.max(0, task.duration - 50);
    }
  }).observe({type: 'longtask', buffered: true});
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      for (const name of ['status', 'agent_output', 'job_completed', 'error', 'run_finished']) {
        this.addEventListener(name, (ev) => {
          if (!(ev instanceof MessageEvent)) return;
          bench.events += 1;
          if (name === 'run_finished') bench.lastEventAt = performance.now();
        });
      }
    }
  };
})();
"""

# Resolves with the time the page became idle: the run shown as ended, every column's
# diff on the page, then an idle callback with a whole idle period (nothing left to do).
WAIT_IDLE = """
const done = arguments[arguments.length - 1];
const shown = () => document.getElementById('run').dataset.status === 'completed'
  && window.__bench.lastEventAt !== null
  && [...document.querySelectorAll('.column')].every((c) => c.querySelector('.diff-file'));
const check = () => {
  if (!shown()) { requestAnimationFrame(check); return; }
  requestIdleCallback((deadline) => {
    if (deadline.timeRemaining() >= 40) done(performance.now()); else requestAnimationFrame(check);
  });
};
check();
"""


def measure(driver: Any, url: str) -> dict[str, float]:
    driver.get(url)
    idle_at = driver.execute_async_script(WAIT_IDLE)
    bench = driver.execute_script("return window.__bench")
    dom = driver.execute_script(
        "return Math.max(...[...document.querySelectorAll('.entries')]"
        ".map((list) => list.children.length))")
    return {"after_last_event_ms": idle_at - bench["lastEventAt"], "idle_at_ms": idle_at,
            "longest_task_ms": bench["longest"], "blocking_ms": bench["blocking"],
            "events": bench["events"], "dom_entries_per_column": dom}


def one_try(server: Server, driver: Any) -> tuple[dict[str, float], dict[str, float]]:
    # The agents wait a second before printing, so the page is open and following first.
    run = server.post("/runs", {"github_url": REPO, "variations": VARIATIONS,
                                "prompt": f"protocol=1 lines={STEPS} start_delay=1"}).json()
    url = f"{server.base}/runs/{run['run_id']}"
    live = measure(driver, url)
    wait_for(lambda: server.get(f"/runs/{run['run_id']}").json()["status"] == "completed")
    later = measure(driver, url)
    return live, later


def spread(values: list[float]) -> str:
    return " / ".join(f"{v:,.0f}" for v in (min(values), statistics.median(values),
                                            max(values)))


def main() -> None:
    problem = missing()
    if problem:
        sys.exit(problem)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data").start()
        driver = start_chromium()
        try:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
            driver.set_script_timeout(120)
            set_viewport(driver, 1280)
            tries = [one_try(server, driver) for _ in range(TRIES)]
        finally:
            driver.quit()
            server.stop()
    live = [t[0] for t in tries]
    later = [t[1] for t in tries]
    lines = (live[0]["events"] - 1) // VARIATIONS   # about: status events are few
    print(f"web: {VARIATIONS} variations x ~{lines:,} lines ({live[0]['events']:,} events) "
          f"watched live on the run page in headless Chromium, min / median / max of "
          f"{TRIES}:")
    print(f"  last event -> page idle: {spread([t['after_last_event_ms'] for t in live])} ms; "
          f"longest task while streaming {spread([t['longest_task_ms'] for t in live])} ms, "
          f"total blocking {spread([t['blocking_ms'] for t in live])} ms")
    print(f"  opened after the run (whole history replayed): navigation -> idle "
          f"{spread([t['idle_at_ms'] for t in later])} ms; longest task "
          f"{spread([t['longest_task_ms'] for t in later])} ms")
    print(f"  entries kept in the DOM per column: at most "
          f"{max(t['dom_entries_per_column'] for t in live + later)}")


if __name__ == "__main__":
    start = time.monotonic()
    main()
    print(f"  ({time.monotonic() - start:.0f} s)")
