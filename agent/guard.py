"""Keeps the file tools inside the clone.

Claude Code's own permission rules allow a tool everywhere once it is allowed by name, so
a prompt (or text in the cloned repo) could otherwise steer Read at ``/proc/self/environ``
or Write at files outside the workspace. A PreToolUse hook sees every call, whatever the
permission mode, and denies paths that resolve outside the clone.
"""
from __future__ import annotations

import os
from typing import Any

# Tool input fields that name a file or directory.
_PATH_FIELDS = ("file_path", "path", "notebook_path")


def outside(root: str, tool_input: dict[str, Any]) -> str | None:
    """The first path in ``tool_input`` that resolves outside ``root``, if any."""
    real_root = os.path.realpath(root)
    for name in _PATH_FIELDS:
        value = tool_input.get(name)
        if not isinstance(value, str) or not value:
            continue
        # realpath follows symlinks, so a link in the repo cannot point the tool elsewhere.
        target = os.path.realpath(os.path.join(real_root, os.path.expanduser(value)))
        if os.path.commonpath([real_root, target]) != real_root:
            return value
    return None


def make_hook(root: str) -> Any:
    """A PreToolUse hook callback confining path arguments to ``root``."""

    async def confine(input_data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        tool_input = input_data.get("tool_input") if isinstance(input_data, dict) else None
        bad = outside(root, tool_input) if isinstance(tool_input, dict) else None
        if bad is None:
            return {}
        return {"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": (
                f"{bad} is outside the repository; only files under {root} may be used")}}

    return confine
