"""Runs one shell command line of the run's own (setup, a check) in the repository.

The command is the user's text, so it runs as ``sh -c <command>`` (one argv element, never
spliced into a command line of ours), in a process group of its own so that a timeout or a
cancel stops it with every child it started. Its output (stdout and stderr together, as a
person at a terminal would see it) is relayed in batches, at most every
``FLUSH_SECONDS`` or ``BATCH_LINES`` lines, and kept up to a cap: a command that prints
100,000 lines costs the stream a few hundred lines and one note that the rest was cut.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Mapping

# Relay batching: one event per batch, so a fast printer costs few events.
FLUSH_SECONDS = 0.25
BATCH_LINES = 200
# What is relayed (and so stored) of one command's output at most.
MAX_LINES = 2000
MAX_LINE_CHARS = 2000
# The last lines are kept apart from the cap: a failure's reason and a test summary are there.
TAIL_LINES = 200
# After the command ends, how long its output may still take to drain.
_DRAIN_SECONDS = 2.0

# The environment a command gets: the sandbox's basics, never a credential of ours.
_PASSED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER")


@dataclass
class StepResult:
    exit_code: int | None        # None: stopped (timeout, cancel) before it exited
    timed_out: bool
    duration_ms: int
    lines: int                   # lines printed in all
    truncated: bool              # more printed than relayed
    tail: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def environment(base: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base``'s harmless basics plus ``extra``: no model or gateway credential, no git
    settings of ours (the command runs the repository's code)."""
    env = {name: base[name] for name in _PASSED if base.get(name)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"CI": "true", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _exit_code(proc: asyncio.subprocess.Process) -> int:
    """The shell's exit status as soon as it exits: ``proc.wait()`` also waits for the
    output pipe to close, which a background child may hold open indefinitely."""
    while proc.returncode is None:
        await asyncio.sleep(0.05)
    return proc.returncode


async def run(command: str, *, cwd: str, env: Mapping[str, str], timeout: float,
              on_output: Callable[[list[str], bool], None]) -> StepResult:
    """Run ``command`` to its end or its timeout.

    ``on_output(lines, truncated)`` receives the relayed lines in batches; ``truncated`` is
    True on the one call after which nothing more is relayed (the cap was reached).
    """
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, cwd=cwd, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True)
    relay = _Relay(on_output)
    reader = asyncio.ensure_future(relay.read(proc))
    timed_out, code = False, None
    try:
        code = await asyncio.wait_for(_exit_code(proc), timeout)
    except asyncio.TimeoutError:
        timed_out = True
    finally:
        ended = time.monotonic()
        # Over (or cancelled): so is every child it left in its group, which would
        # otherwise hold the output pipe (and the sandbox) open.
        _kill_group(proc)
        try:
            await asyncio.wait_for(asyncio.shield(reader), _DRAIN_SECONDS)
        except asyncio.TimeoutError:   # a child that left the group still holds the pipe
            reader.cancel()
        await proc.wait()
    relay.flush()
    return StepResult(exit_code=code, timed_out=timed_out,
                      duration_ms=int((ended - started) * 1000),
                      lines=relay.count, truncated=relay.count > relay.sent,
                      tail=list(relay.tail))


class _Relay:
    def __init__(self, on_output: Callable[[list[str], bool], None]) -> None:
        self._on_output = on_output
        self._batch: list[str] = []
        self._last_flush = time.monotonic()
        self.count = 0
        self.sent = 0
        self._cut_told = False
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    async def read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        pending = b""
        while True:
            try:
                chunk = await asyncio.wait_for(proc.stdout.read(65536), FLUSH_SECONDS)
            except asyncio.TimeoutError:
                self._maybe_flush()
                continue
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) > MAX_LINE_CHARS * 4:   # a line without end: cut it here
                lines.append(pending)
                pending = b""
            for raw in lines:
                self._add(raw.decode("utf-8", "replace").rstrip("\r"))
            self._maybe_flush()
        if pending:
            self._add(pending.decode("utf-8", "replace").rstrip("\r"))

    def _add(self, line: str) -> None:
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " [line cut]"
        self.count += 1
        self.tail.append(line)
        if self.sent + len(self._batch) < MAX_LINES:
            self._batch.append(line)
            if len(self._batch) >= BATCH_LINES:
                self.flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        cut = self.count > self.sent + len(self._batch) and not self._cut_told
        if self._batch or cut:
            batch, self._batch = self._batch, []
            self.sent += len(batch)
            self._cut_told = self._cut_told or cut
            self._on_output(batch, cut)
