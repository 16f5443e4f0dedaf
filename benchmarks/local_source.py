"""A local repository as a run's source: what the snapshot costs, and how soon the
``aideator`` command shows the first agent line and the board.

1. Snapshot (``aideator/runs/snapshot.py``, as POST /runs runs it) of a repository of
   BENCH_FILES files (default 10,000, ~1 KB of text each, 100 directories, one commit):
   at HEAD, and with ``include_uncommitted`` after 100 files are changed and 100 new ones
   added. Time (median of 3) and the bundle's size on disk, beside the repository's own
   ``.git``.
2. ``aideator run`` with two variations of the stand-in agent (tests/fixtures/git_agent.py,
   sandboxed, one check) on a small repository, against a service already running:
   the command's own figures (first agent line, board) and its wall time, median of 3;
   and once with no service, so the command starts the embedded one.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from aideator.runs import snapshot  # noqa: E402
from helpers import free_port  # noqa: E402

FILES = int(os.environ.get("BENCH_FILES", "10000"))
GIT_AGENT = ROOT / "tests" / "fixtures" / "git_agent.py"
AIDEATOR = Path(sys.executable).parent / "aideator"
IDENTITY = ["-c", "user.name=Bench", "-c", "user.email=bench@localhost"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *IDENTITY, *args], check=True,
                   capture_output=True)


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def make_repo(repo: Path, files: int) -> None:
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(files):
        d = repo / f"pkg{i % 100:02d}"
        d.mkdir(exist_ok=True)
        (d / f"module_{i:05d}.py").write_text(
            "".join(f"VALUE_{i}_{n} = {i * n}  # line {n} of file {i}\n" for n in range(25)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "10,000 files")


def timed_snapshot(repo: Path, work: Path, uncommitted: bool) -> tuple[float, int]:
    times, size = [], 0
    for n in range(3):
        dest = work / f"run-{uncommitted}-{n}"
        started = time.perf_counter()
        taken = snapshot.take(str(repo), ref="HEAD", include_uncommitted=uncommitted,
                              dest_dir=str(dest), max_bytes=2**40)
        times.append(time.perf_counter() - started)
        size = taken.bytes
        shutil.rmtree(dest)
    return statistics.median(times), size


def snapshot_figures(work: Path) -> None:
    repo = work / "repo"
    make_repo(repo, FILES)
    print(f"repository: {FILES} files, working tree {du(repo) - du(repo / '.git')} bytes, "
          f".git {du(repo / '.git')} bytes")
    seconds, size = timed_snapshot(repo, work, False)
    print(f"snapshot at HEAD: {seconds * 1000:.0f} ms (median of 3), bundle {size} bytes")
    for i in range(100):
        (repo / f"pkg{i:02d}" / f"module_{i:05d}.py").write_text(f"changed {i}\n")
        (repo / f"pkg{i:02d}" / f"new_{i}.py").write_text(f"new {i}\n")
    seconds, size = timed_snapshot(repo, work, True)
    print(f"snapshot with uncommitted changes (100 changed, 100 new files): "
          f"{seconds * 1000:.0f} ms (median of 3), bundle {size} bytes")


def cli_run(repo: Path, url: str, env: dict) -> tuple[float, float, float]:
    prompt = "v1.write=calc.py:def%20add(a,%20b):%0A%20%20%20%20return%20a%20+%20b%0A"
    started = time.perf_counter()
    done = subprocess.run([str(AIDEATOR), "run", prompt, "-n", "2", "--check",
                           "python3 test_calc.py", "--url", url], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    found = re.search(r"first agent line after ([0-9.]+)s, board after ([0-9.]+)s",
                      done.stdout)
    assert done.returncode == 0 and found, done.stdout + done.stderr
    return float(found[1]), float(found[2]), wall


def cli_figures(work: Path) -> None:
    repo = work / "calc"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "test_calc.py").write_text("from calc import add\nassert add(2, 3) == 5\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bug")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIDEATOR_")}
    env.update(AIDEATOR_DATA_DIR=str(work / "data"), AIDEATOR_METRICS_PORT="0",
               AIDEATOR_AGENT_COMMAND=f"{sys.executable} {GIT_AGENT}")
    url = f"http://127.0.0.1:{free_port()}"
    try:
        first, board, wall = cli_run(repo, url, env)
        print(f"aideator run, starting the embedded service: first agent line {first:.1f} s, "
              f"board {board:.1f} s, wall {wall:.1f} s")
        runs = [cli_run(repo, url, env) for _ in range(3)]
        print("aideator run, service running (median of 3): first agent line "
              f"{statistics.median(r[0] for r in runs):.2f} s, board "
              f"{statistics.median(r[1] for r in runs):.2f} s, wall "
              f"{statistics.median(r[2] for r in runs):.2f} s")
    finally:
        pid = work / "data" / "service.pid"
        if pid.exists():   # the service the command started, and its workers
            os.killpg(int(pid.read_text()), signal.SIGTERM)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-local-source-") as tmp:
        snapshot_figures(Path(tmp))
        cli_figures(Path(tmp))


if __name__ == "__main__":
    main()
