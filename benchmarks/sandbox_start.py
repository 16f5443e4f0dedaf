"""What a variation's sandbox costs at start: POST /runs -> the variation's first output
line, with the fake agent, sandboxed (bubblewrap) and unsandboxed (AIDEATOR_SANDBOX=off).

The first line's ``ts`` is when the agent printed it; the POST's start is taken on the
same clock (this machine's), so the figure is the service's launch path plus the
sandbox's setup plus the interpreter's start, not the stream's delivery.
Min / median / max of BENCH_SANDBOX_TRIES runs (default 5) after one warm-up run.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import Server, wait_for  # noqa: E402

TRIES = int(os.environ.get("BENCH_SANDBOX_TRIES", "5"))
REPO = "https://github.com/octocat/hello-world"


def first_line_seconds(server: Server) -> float:
    started = time.time()
    run = server.post("/runs", {"github_url": REPO, "prompt": "lines=1",
                                "variations": 1}).json()
    log = server.data_dir / "runs" / run["run_id"] / "0" / "output.log"

    def first_json_line() -> dict | None:
        try:
            for line in log.read_text().splitlines():
                if '"n": 0' in line:
                    return json.loads(line)
        except OSError:
            return None
        return None

    printed = wait_for(first_json_line, timeout=30, interval=0.002)["ts"]
    wait_for(lambda: server.get(f"/runs/{run['run_id']}/status").json()["status"]
             == "completed", timeout=30)
    return printed - started


def measure(sandbox: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", sandbox=sandbox).start()
        try:
            first_line_seconds(server)                      # warm-up
            return [first_line_seconds(server) for _ in range(TRIES)]
        finally:
            server.stop()


def main() -> None:
    print(f"variation start: POST /runs -> first output line of the fake agent "
          f"(min / median / max of {TRIES})")
    for sandbox in ("off", "bubblewrap"):
        times = [t * 1000 for t in measure(sandbox)]
        print(f"  sandbox {sandbox:10s} {min(times):6.1f} / {statistics.median(times):6.1f} / "
              f"{max(times):6.1f} ms")


if __name__ == "__main__":
    main()
