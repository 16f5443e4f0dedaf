"""The line protocol between the agent and the service.

One JSON object per line on stdout, each with ``v`` (protocol version) and ``type``.
The agent writes lines with :func:`encode`; the service reads them with :func:`line_type`
(every line) and :func:`parse` (the few whose content it keeps). Only the standard
library is required: the service imports this module too, and uses msgspec when present
because it validates a line without building it, several times faster.
"""
from __future__ import annotations

import json
from typing import Any

try:
    import msgspec
except ImportError:  # pragma: no cover - the agent image does not need it
    msgspec = None

VERSION = 1


def encode(type_: str, **fields: Any) -> str:
    """One protocol line (without the trailing newline)."""
    return json.dumps({"v": VERSION, "type": type_, **fields}, ensure_ascii=False,
                      separators=(",", ":"), allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse(line: str) -> dict[str, Any] | None:
    """The JSON object on this line, or None when the line is plain text.

    NaN/Infinity are refused so that whatever is passed on is valid JSON for browsers.
    """
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        obj = msgspec.json.decode(text) if msgspec else _DECODER.decode(text)
    except ValueError:   # msgspec's DecodeError is a ValueError too
        return None
    return obj if isinstance(obj, dict) else None


if msgspec is not None:
    class _Head(msgspec.Struct):
        type: Any = None

    _HEAD = msgspec.json.Decoder(_Head)

    def line_type(line: str) -> str | None:
        """The ``type`` of the JSON object on this line ("" if it has no string type), or
        None when the line is plain text: what :func:`parse` would say, without building
        the object."""
        text = line.strip()
        if not (text[:1] == "{" and text[-1:] == "}"):
            return None
        try:
            kind = _HEAD.decode(text).type
        except ValueError:
            return None
        return kind if isinstance(kind, str) else ""
else:  # pragma: no cover
    def line_type(line: str) -> str | None:
        obj = parse(line)
        if obj is None:
            return None
        kind = obj.get("type")
        return kind if isinstance(kind, str) else ""


# -- Vocabulary (documented in agent/PROTOCOL.md) --------------------------------------------
# Kept here, beside encode/parse, so the service can refer to the same names the agent emits.

STATUS, THINKING, THINKING_DELTA, TEXT, TEXT_DELTA = (
    "status", "thinking", "thinking_delta", "text", "text_delta")
TOOL_USE, TOOL_RESULT, RESULT, DIFF, ERROR = (
    "tool_use", "tool_result", "result", "diff", "error")
# The repository's setup command (agent/setup.py), before the model starts.
SETUP_STARTED, SETUP_OUTPUT, SETUP_FINISHED = "setup_started", "setup_output", "setup_finished"
SETUP_TYPES = frozenset({SETUP_STARTED, SETUP_OUTPUT, SETUP_FINISHED})
# The run's checks (agent/checks.py), on the unchanged clone (``baseline: true``) and after
# the model.
CHECK_STARTED, CHECK_OUTPUT, CHECK_FINISHED = "check_started", "check_output", "check_finished"
EVENT_TYPES = frozenset({STATUS, THINKING, THINKING_DELTA, TEXT, TEXT_DELTA, TOOL_USE,
                         TOOL_RESULT, RESULT, DIFF, ERROR, CHECK_STARTED, CHECK_OUTPUT,
                         CHECK_FINISHED}) | SETUP_TYPES

# ``status`` phases, in the order a successful run goes through them ("retrying" may repeat
# while the model API is retried).
PHASES = ("starting", "cloning", "cloned", "running", "retrying", "finished")

# Process exit codes; each failure code goes with one final ``error`` line.
EXIT_OK = 0
EXIT_CONFIG = 2          # error code config_invalid
EXIT_CLONE = 3           # error code clone_failed
EXIT_AGENT = 4           # error codes model_error, limit_reached, agent_error
EXIT_INTERNAL = 5        # error codes diff_failed, internal
EXIT_SETUP = 6           # error code setup_failed
EXIT_CANCELLED = 143     # error code cancelled (128 + SIGTERM, as a shell would report it)

ERROR_EXIT_CODES = {
    "config_invalid": EXIT_CONFIG,
    "clone_failed": EXIT_CLONE,
    "model_error": EXIT_AGENT,
    "limit_reached": EXIT_AGENT,
    "agent_error": EXIT_AGENT,
    "diff_failed": EXIT_INTERNAL,
    "internal": EXIT_INTERNAL,
    "setup_failed": EXIT_SETUP,
    "cancelled": EXIT_CANCELLED,
}
