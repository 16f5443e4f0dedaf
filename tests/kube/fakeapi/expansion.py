"""The kubelet's ``$(VAR)`` expansion of env values (k8s third_party/forked/golang/expansion).

A real cluster rewrites ``$(NAME)`` to an earlier variable's value and ``$$`` to ``$`` in
every env ``value``; reproducing it here is what lets a test prove that user text reaches
the agent unchanged only if the renderer escapes it.
"""
from __future__ import annotations

from typing import Mapping


def expand(text: str, defined: Mapping[str, str]) -> str:
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable(text[cursor + 1:])
            if is_var:
                # Unknown names stay as written, "$(" and ")" included.
                out.append(defined.get(read, f"$({read})"))
            else:
                out.append(read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def _read_variable(rest: str) -> tuple[str, bool, int]:
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        close = rest.find(")", 1)
        if close != -1:
            return rest[1:close], True, close + 1
        return "$(", False, 1
    return "$" + rest[0], False, 1
