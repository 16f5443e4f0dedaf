"""Set up once per run (local runtime) vs once per variation: what it costs at the start
of a run, and what each variation's copy costs on disk.

With the real agent, sandboxed, a fake model and github.com, and a package index on
127.0.0.1 (allow-listed), one run of BENCH_SETUP_VARIATIONS variations (default 3) whose
setup makes a venv and installs a package from that index:
- run start: POST /runs -> the last variation's model start (its ``status running``);
- the setup's own duration (its ``setup_finished``), and the copy each variation gets;
- per variation instead: the same setup command run N times at once in N clones (what
  the variations would each do), wall time;
- disk: the setup directory and each variation's directory (``du``, real blocks).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from helpers import Server  # noqa: E402
from package_index import PackageIndex  # noqa: E402
from sse_client import iter_events  # noqa: E402
from tests.agent.fake_anthropic import FakeAnthropic, reply, text  # noqa: E402
from tests.fake_github import FakeGitHub  # noqa: E402

N = int(os.environ.get("BENCH_SETUP_VARIATIONS", "3"))
PY = sys.executable


def du_kib(path: Path) -> int:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout
    return int(out.split()[0])


def one_run(tmp: Path, index: PackageIndex, setup: str, sandbox: str) -> None:
    github = FakeGitHub(tmp / f"github-{sandbox}")
    github.repo("acme", "widgets", {"greet.txt": "hello world\n"})
    model = FakeAnthropic({"default": [reply(text("done"))]})
    base_url = model.start()
    server = Server(tmp / f"data-{sandbox}", github_url=github.start(), sandbox=sandbox,
                    egress_allow=f"127.0.0.1:{index.port}")
    del server.env["AIDEATOR_AGENT_COMMAND"]
    server.env.update({"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": base_url})
    server.start()
    try:
        started = time.time()
        run = server.post("/runs", {"github_url": "https://github.com/acme/widgets",
                                    "prompt": "p", "variations": N, "setup": setup}).json()
        events, last_start = [], 0.0
        for event in iter_events(server.url(f"/runs/{run['run_id']}/stream"), timeout=300):
            events.append(event)
            if (event.event == "agent_output" and event.data["type"] == "status"
                    and event.data["content"].get("phase") == "running"):
                last_start = time.time() - started
        starts = [e for e in events if e.event == "agent_output"
                  and e.data["type"] == "status" and e.data["content"].get("phase") == "running"]
        assert len(starts) == N, [e.data for e in events][-5:]
        setup_ms = sorted({e.data["content"]["duration_ms"] for e in events
                           if e.event == "agent_output" and e.data["type"] == "setup_finished"})
        run_dir = server.data_dir / "runs" / run["run_id"]
        mode = "once per run (sandboxed)" if sandbox != "off" else \
            "per variation (AIDEATOR_SANDBOX=off: each variation sets up itself)"
        print(f"{mode}: run start (POST -> last of {N} model starts) {last_start:.2f} s; "
              f"setup durations {[round(ms / 1000, 2) for ms in setup_ms]} s")
        dirs = ([run_dir / "setup"] if (run_dir / "setup").exists() else []) + \
            [run_dir / str(i) for i in range(N)]
        print("  disk (du): " + ", ".join(f"{d.name} {du_kib(d)} KiB" for d in dirs))
    finally:
        server.stop()
        model.stop()
        github.stop()


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-setup-"))
    index = PackageIndex().start()
    # A venv with pip (the usual case; ~20 MB), then one package from the local index.
    setup = (f"{PY} -m venv .venv && .venv/bin/python -m pip "
             f"install -q --disable-pip-version-check --no-input "
             f"--index-url {index.url}/simple/ aideator-fixture-pkg")
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(tmp)], capture_output=True,
                        text=True).stdout.strip()
    print(f"variations: {N}; filesystem: {fs}")
    try:
        one_run(tmp, index, setup, "bubblewrap")
        one_run(tmp, index, setup, "off")
    finally:
        index.stop()


if __name__ == "__main__":
    main()
