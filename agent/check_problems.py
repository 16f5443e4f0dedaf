"""Why a check failed when the reason is its environment, not the code: a command the
shell could not find, or a module the interpreter could not import.

"failed" alone reads as "the change broke the tests"; ``sh: 1: pytest: not found`` or
``No module named pytest`` means the repository's toolchain is not there (a missing
setup, say), which the board must say in words. Read from the end of the output (the
last such line wins: it is the one that stopped the command); nothing is run.
"""
from __future__ import annotations

import re
from typing import Any

COMMAND_NOT_FOUND = "command_not_found"
MISSING_MODULE = "missing_module"

_NAME = r"['\"‘’]?(?P<name>[^'\"‘’\s:]{1,200})['\"‘’]?"
# (kind, pattern), tried on each line from the last one up.
_PATTERNS = (
    # dash (Debian's sh): "sh: 1: pytest: not found"; bash: "bash: line 1: x: command not found"
    (COMMAND_NOT_FOUND, re.compile(r"^\S*sh: (?:line )?\d+: (?P<name>[^:]{1,200}): "
                                   r"(?:command )?not found$")),
    (COMMAND_NOT_FOUND, re.compile(r"^\S*sh: (?P<name>[^:]{1,200}): command not found$")),
    # "#!/usr/bin/env node" without node: "/usr/bin/env: 'node': No such file or directory"
    (COMMAND_NOT_FOUND, re.compile(rf"^(?:\S*/)?env: {_NAME}: No such file or directory$")),
    # python -m pytest: "/usr/bin/python3: No module named pytest"
    (MISSING_MODULE, re.compile(rf"^\S*python[\d.]*: No module named {_NAME}$")),
    # an import in the code or the tests: "ModuleNotFoundError: No module named 'requests'"
    (MISSING_MODULE, re.compile(rf"ModuleNotFoundError: No module named {_NAME}")),
    # Node: "Error: Cannot find module 'jest'" (a path is a missing file, not a package)
    (MISSING_MODULE, re.compile(r"Error: Cannot find module '(?P<name>[^'/.][^']{0,199})'")),
)
_SUMMARY = {COMMAND_NOT_FOUND: "command not found: {name}",
            MISSING_MODULE: "missing module {name}"}


def find(tail: list[str], *, passed: bool, timed_out: bool) -> dict[str, Any] | None:
    """``{"kind", "name", "summary"}`` for a failed check whose output says its command
    or a module was missing; None otherwise (it passed, timed out, or failed otherwise)."""
    if passed or timed_out:
        return None
    for line in reversed(tail):
        line = line.strip()
        for kind, pattern in _PATTERNS:
            match = pattern.search(line)
            if match:
                name = match.group("name").strip()
                return {"kind": kind, "name": name,
                        "summary": _SUMMARY[kind].format(name=name)}
    return None
