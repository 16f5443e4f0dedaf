"""Keeps the file tools inside the clone and out of its git directory, and shells in front.

Claude Code's own permission rules allow a tool everywhere once it is allowed by name, so
a prompt (or text in the cloned repo) could otherwise steer Read at ``/proc/self/environ``
or Write at files outside the workspace. A PreToolUse hook sees every call, whatever the
permission mode, and denies paths that resolve outside the clone, and paths that resolve
into its git directory: ``.git/config`` can name programs git runs (``core.fsmonitor``,
filters, hooks), so the model must not write there, even through a symlink in the tree.

With the shell the model can still change ``.git`` by running commands; that is why the
wrapper's own git commands never trust it (``agent/git.py``, ``agent/diff.py``). The
guard's part for ``Bash`` is to keep every command in the foreground, where the
per-command time limit applies.
"""
from __future__ import annotations

import os
from typing import Any

# Tool input fields that name a file or directory.
_PATH_FIELDS = ("file_path", "path", "notebook_path")


def _within(root: str, target: str) -> bool:
    return os.path.commonpath([root, target]) == root


def _git_dirs(real_root: str) -> list[str]:
    """The clone's git directory: ``.git`` resolved, and where a ``gitdir:`` file points."""
    dot_git = os.path.join(real_root, ".git")
    found = [os.path.realpath(dot_git)]
    if os.path.isfile(dot_git):
        try:
            with open(dot_git, encoding="utf-8", errors="replace") as f:
                line = f.readline().strip()
        except OSError:
            line = ""
        if line.startswith("gitdir:"):
            found.append(os.path.realpath(os.path.join(real_root, line[7:].strip())))
    return found


def refused(root: str, tool_input: dict[str, Any]) -> tuple[str, str] | None:
    """``(path, why)`` for the first path in ``tool_input`` the tools may not use."""
    real_root = os.path.realpath(root)
    for name in _PATH_FIELDS:
        value = tool_input.get(name)
        if not isinstance(value, str) or not value:
            continue
        # realpath follows symlinks, so a link in the repo cannot point the tool elsewhere.
        target = os.path.realpath(os.path.join(real_root, os.path.expanduser(value)))
        if not _within(real_root, target):
            return value, (f"{value} is outside the repository; only files under {root} "
                           "may be used")
        inside = os.path.relpath(target, real_root).split(os.sep)
        # Any ".git" component: the clone's own, or a nested repository's (case-folded for
        # file systems that ignore case).
        if any(part.casefold() == ".git" for part in inside) or any(
                _within(git_dir, target) for git_dir in _git_dirs(real_root)):
            return value, (f"{value} is inside the repository's git directory, which the "
                           "tools may not read or change")
    return None


def outside(root: str, tool_input: dict[str, Any]) -> str | None:
    """The first path in ``tool_input`` the tools may not use, if any."""
    found = refused(root, tool_input)
    return found[0] if found else None


def _deny(reason: str) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse",
                                   "permissionDecision": "deny",
                                   "permissionDecisionReason": reason}}


def make_hook(root: str) -> Any:
    """A PreToolUse hook callback confining path arguments to ``root`` (minus ``.git``)."""

    async def confine(input_data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        tool_input = input_data.get("tool_input") if isinstance(input_data, dict) else None
        found = refused(root, tool_input) if isinstance(tool_input, dict) else None
        return {} if found is None else _deny(found[1])

    return confine


def make_shell_hook() -> Any:
    """A PreToolUse hook for ``Bash``: commands run in the foreground only.

    A background command would outlive its time limit and could still be changing the
    clone while the diff is taken. The CLI is also told to offer no background tasks
    (``CLAUDE_CODE_DISABLE_BACKGROUND_TASKS``); this holds if a version ignores that.
    """

    async def foreground(input_data: Any, tool_use_id: str | None,
                         context: Any) -> dict[str, Any]:
        tool_input = input_data.get("tool_input") if isinstance(input_data, dict) else None
        if isinstance(tool_input, dict) and tool_input.get("run_in_background"):
            return _deny("commands cannot run in the background here; run it in the "
                         "foreground (each command has a time limit)")
        return {}

    return foreground
