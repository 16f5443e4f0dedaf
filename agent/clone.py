"""Shallow-clones the variation's repository into the workspace, relaying git's progress.

git runs through :mod:`agent.git` (fixed options, an allow-listed environment). The clone
is the one command that keeps ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``:
the service sets ``url.<gateway>.insteadOf`` and the gateway's credential header there (in
tests, ``insteadOf`` points github.com at local fixture repositories).
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Callable

from . import git

# git redraws progress with carriage returns; each piece is one progress reading.
_PIECES = re.compile(r"[\r\n]+")
# At most this often per second a progress reading is relayed (phase ends always are).
_PROGRESS_INTERVAL = 0.5


class CloneError(RuntimeError):
    pass


async def run_git(*args: str, cwd: str | None = None) -> tuple[int, str, str]:
    """One local git command (no network settings, no credentials)."""
    return await git.run(*args, cwd=cwd)


async def clone(url: str, dest: str, progress: Callable[[str], None]) -> str:
    """Clone ``url`` (depth 1) into ``dest``; returns the checked-out commit id."""
    if os.path.exists(dest) and os.listdir(dest):
        raise CloneError(f"the clone directory {dest} already exists and is not empty")
    proc = await asyncio.create_subprocess_exec(
        *git.command("clone", "--depth", "1", "--progress", "--no-recurse-submodules",
                     "--", url, dest),
        env=git.env(network=True), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    messages: list[str] = []
    try:
        await _relay(proc, progress, messages)
        code = await proc.wait()
    except asyncio.CancelledError:
        git.kill(proc)
        await proc.wait()
        raise
    if code != 0:
        # Progress readings are noise in an error; git's own fatal/error lines say why.
        reasons = [m for m in messages if m.startswith(("fatal:", "error:", "remote:"))]
        detail = "; ".join(reasons[-3:] or messages[-3:]) or f"git exited with {code}"
        raise CloneError(f"git clone failed: {detail}")
    code, out, err = await run_git("rev-parse", "HEAD", cwd=dest)
    if code != 0:
        raise CloneError(f"cloned, but no commit is checked out: {err.strip()}")
    return out.strip()


async def _relay(proc: asyncio.subprocess.Process, progress: Callable[[str], None],
                 messages: list[str]) -> None:
    assert proc.stderr is not None
    buffer, last_sent = "", 0.0
    while True:
        chunk = await proc.stderr.read(4096)
        if not chunk:
            break
        buffer += chunk.decode("utf-8", "replace")
        *pieces, buffer = _PIECES.split(buffer)
        for piece in (p.strip() for p in pieces):
            if not piece:
                continue
            is_progress = "%" in piece and not piece.startswith(("fatal:", "error:"))
            now = time.monotonic()
            # Keep the last reading of each phase ("..., done.") and throttle the rest.
            if not is_progress or piece.endswith("done.") or now - last_sent >= _PROGRESS_INTERVAL:
                progress(piece)
                last_sent = now
            if not is_progress:
                messages.append(piece)
    if buffer.strip():
        progress(buffer.strip())
        messages.append(buffer.strip())


async def checked_out(dest: str) -> str:
    """The commit a prepared clone (cloned and set up by the prepare step) has checked out.

    The setup ran the repository's code, so git runs with the fixed safe options
    (``agent/git.py``): nothing in the clone's config can make ``rev-parse`` run a program.
    """
    if not os.path.isdir(os.path.join(dest, ".git")):
        raise CloneError(f"PREPARED is set but {dest} holds no clone")
    code, out, err = await run_git("rev-parse", "--verify", "HEAD^{commit}", cwd=dest)
    if code != 0:
        raise CloneError(f"the prepared clone has no commit checked out: {err.strip()}")
    return out.strip()
