"""A local variation's process as the files its launcher leaves (``launcher.pid``,
``exit.json``): whether it still runs, how it ended, and its output split into lines.
Kept apart from ``local.py`` so the runtime reads as what it decides, not how."""
from __future__ import annotations

import json
import os
import signal
import time
from typing import Any, Mapping

import gevent
import psutil

from .base import CAUSES, Exited

# How long a launch found under way elsewhere gets to record its launcher's pid.
PID_WAIT_SECONDS = 5.0


def alive(handle: Mapping[str, Any]) -> bool:
    """Whether the launcher recorded in ``handle`` still runs (not a reused pid)."""
    try:
        proc = psutil.Process(handle["pid"])
        return (abs(proc.create_time() - handle["create_time"]) < 0.05
                and proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError):
        return False


def read_status(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def exit_from_status(status: dict[str, Any] | None,
                     breach: Mapping[str, Any] | None = None) -> Exited:
    """How it ended: ``breach`` (limits.py's record) says why, when a cap stopped it."""
    if breach is not None and breach.get("cause") in CAUSES:
        code = status.get("exit_code") if status else None
        return Exited(False, str(breach.get("reason")), code, breach["cause"])
    if status is None:
        return Exited(False, "the agent process ended without recording an exit status "
                             "(killed)", cause="killed")
    code = status.get("exit_code")
    if code == 0:
        return Exited(True, "exit code 0", 0)
    if isinstance(code, int) and code > 128:
        try:   # the shell's way of saying "killed by signal code - 128"
            return Exited(False, f"the agent was killed by {signal.Signals(code - 128).name}",
                          code, "killed")
        except ValueError:
            pass
    return Exited(False, f"the agent exited with code {code}", code, "exit_code")


def launched_handle(directory: str) -> dict[str, Any]:
    """The handle of a variation someone else launched (from its ``launcher.pid``)."""
    path = os.path.join(directory, "launcher.pid")
    deadline = time.monotonic() + PID_WAIT_SECONDS
    while True:
        try:
            with open(path) as f:
                pid = int(f.read().strip())
            break
        except (OSError, ValueError):
            if time.monotonic() > deadline or os.path.exists(os.path.join(directory,
                                                                          "exit.json")):
                # Never got as far as running (or ran and ended): follow what it wrote.
                return {"pid": 0, "create_time": 0.0}
            gevent.sleep(0.05)
    try:
        return {"pid": pid, "create_time": psutil.Process(pid).create_time()}
    except psutil.NoSuchProcess:
        return {"pid": pid, "create_time": 0.0}


def reap(pid: int) -> None:
    """Wait for a launcher so it leaves no zombie (its outcome is read from exit.json)."""
    hub = gevent.get_hub()
    with hub.loop.child(pid, False) as watcher:
        hub.wait(watcher)


def split_lines(raw: bytes) -> list[str]:
    """The lines in ``raw`` (one final newline dropped), decoded, without CR."""
    text = raw.decode("utf-8", errors="replace")
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    return [line.rstrip("\r") for line in lines] if "\r" in text else lines
