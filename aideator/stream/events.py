"""The SSE event vocabulary (PRD §6): event names and their data, as compact JSON.

Agent output lines that are JSON objects travel structured, their ``type`` kept; any
other line travels as plain text with type ``log``. Data is built once here and stored
as-is, so a replay is byte-identical to what live clients were sent.
"""
from __future__ import annotations

from typing import Any

import msgspec

from agent import protocol

STATUS = "status"
AGENT_OUTPUT = "agent_output"
JOB_COMPLETED = "job_completed"
ERROR = "error"
# The last event of every run's stream: clients may close when they see it.
RUN_FINISHED = "run_finished"


def dumps(value: Any) -> str:
    """Compact JSON (msgspec: the hot path encodes every plain-text line)."""
    return _encode(value).decode()


_encode = msgspec.json.Encoder().encode

# JSON of the agent line types seen so far (a handful): encoded once, not per line.
_KINDS: dict[str, str] = {}


class OutputEncoder:
    """Builds the ``agent_output`` data of one variation's lines.

    This is the hot path (every line an agent prints), so a valid JSON line is spliced
    into the data as it is instead of being encoded again.
    """

    def __init__(self, variation_id: int, source: str) -> None:
        self._head = f'{{"variation_id":{variation_id},"type":'
        self._tail = f',"pod":{dumps(source)}}}'

    def encode(self, line: str) -> tuple[str, str | None]:
        """The event data for ``line``, and its protocol type (None for plain text)."""
        kind = protocol.line_type(line)
        if kind is None:
            return f'{self._head}"log","content":{dumps(line)}{self._tail}', None
        kind_json = _KINDS.get(kind)
        if kind_json is None:
            kind_json = dumps(kind or "json")
            if len(_KINDS) < 64:   # agents use a handful; don't let odd lines grow it
                _KINDS[kind] = kind_json
        # A raw CR would end the SSE data line early: re-encode the rare line that has one.
        content = dumps(protocol.parse(line)) if "\r" in line else line.strip()
        return f'{self._head}{kind_json},"content":{content}{self._tail}', kind


def agent_output(variation_id: int, source: str, line: str) -> tuple[str, str]:
    """One line of a variation's output, as (event name, data)."""
    return AGENT_OUTPUT, OutputEncoder(variation_id, source).encode(line)[0]


def run_status(run_id: str, status: str, message: str) -> tuple[str, str]:
    return STATUS, dumps({"run_id": run_id, "status": status, "message": message})


def variation_status(run_id: str, variation_id: int, status: str, message: str,
                     **extra: Any) -> tuple[str, str]:
    return STATUS, dumps({"run_id": run_id, "variation_id": variation_id,
                          "status": status, "message": message, **extra})


def job_completed(variation_id: int, job_name: str) -> tuple[str, str]:
    return JOB_COMPLETED, dumps({"variation_id": variation_id, "status": "completed",
                                 "job_name": job_name})


def variation_error(variation_id: int, job_name: str, error: str,
                    status: str = "failed") -> tuple[str, str]:
    return ERROR, dumps({"variation_id": variation_id, "status": status, "error": error,
                         "job_name": job_name})


def run_finished(run_id: str, status: str) -> tuple[str, str]:
    return RUN_FINISHED, dumps({"run_id": run_id, "status": status})
