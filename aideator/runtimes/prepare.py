"""Set up once per run (local runtime): one sandboxed ``python -m agent`` with
``MODE=setup`` clones the repository and runs the run's setup in ``<run>/setup/``, with
the egress proxy bridged in; every variation then starts from a copy of that workspace
and runs with ``PREPARED=1``.

Why a copy and not hard links: editors and the model's tools often rewrite a file in
place (truncate, write), and a hard-linked file would change in every variation at once.
``cp -a --reflink=auto`` shares blocks where the filesystem can (btrfs, XFS) and copies
where it cannot (ext4). The variation sees the copy at the setup directory's own path
(``sandbox.Mounts.inside``), so the absolute paths a setup wrote (a venv's scripts and
``pyvenv.cfg``) still hold.

Each variation follows the setup's output itself (its collector stores and streams the
``setup_*`` lines, so every variation shows the one setup it started from), with a
cursor ``setup:<offset>`` until its own agent starts; a service restarted meanwhile
re-attaches to the same setup process (``launcher.pid``) and goes on from that cursor.
"""
from __future__ import annotations

import os
import shutil

import gevent.subprocess

from agent import protocol

SETUP_DIR = "setup"
CURSOR_PREFIX = "setup:"
# Written in a variation's directory once its copy of the prepared workspace is complete.
COPIED = "prepared"
# Left out of the copied HOME: package managers' download caches (pip, npm...), which
# the variations do not need and which would cost each one their size on disk.
SKIPPED_IN_HOME = frozenset({".cache", ".npm"})
# The setup's lines each variation's stream carries: its setup events and, if it failed,
# the error that says why (a failed clone, a failed setup).
_RELAYED = protocol.SETUP_TYPES | {protocol.ERROR}


def relayed(lines: list[str]) -> list[str]:
    return [line for line in lines if protocol.line_type(line) in _RELAYED]


def setup_dir(run_dir: str) -> str:
    return os.path.join(run_dir, SETUP_DIR)


def cursor_offset(cursor: str | None) -> int | None:
    """The offset in the setup's output a cursor stands for (None: not a setup cursor)."""
    if cursor and cursor.startswith(CURSOR_PREFIX):
        return int(cursor[len(CURSOR_PREFIX):])
    return None


class CopyFailed(RuntimeError):
    pass


def _cp(source: str, target: str) -> None:
    done = gevent.subprocess.run(["cp", "-a", "--reflink=auto", "--", source, target],
                                 stdout=gevent.subprocess.DEVNULL,
                                 stderr=gevent.subprocess.PIPE)
    if done.returncode != 0:
        raise CopyFailed(done.stderr.decode("utf-8", "replace").strip()[-500:])


def copy_prepared(prepared: str, directory: str) -> None:
    """Give the variation in ``directory`` its own copy of the prepared workspace and HOME
    (once: a variation that has one keeps it)."""
    if os.path.exists(os.path.join(directory, COPIED)):
        return
    os.makedirs(directory, exist_ok=True)
    for sub in ("workspace", "home"):
        target = os.path.join(directory, sub)
        # Whatever an interrupted copy left: start over.
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        source = os.path.join(prepared, sub)
        for name in os.listdir(source):
            if sub == "home" and name in SKIPPED_IN_HOME:
                continue
            _cp(os.path.join(source, name), target)
    with open(os.path.join(directory, COPIED), "w") as f:
        f.write("1\n")
