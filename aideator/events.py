"""The SSE event vocabulary (PRD §6): event names and their data, as compact JSON.

Agent output lines that are JSON objects travel structured, their ``type`` kept; any
other line travels as plain text with type ``log``. Data is built once here and stored
as-is, so a replay is byte-identical to what live clients were sent.
"""
from __future__ import annotations

import json
from typing import Any

from agent import protocol

STATUS = "status"
AGENT_OUTPUT = "agent_output"
JOB_COMPLETED = "job_completed"
ERROR = "error"
# The last event of every run's stream: clients may close when they see it.
RUN_FINISHED = "run_finished"


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def agent_output(variation_id: int, source: str, line: str) -> tuple[str, str]:
    """One line of a variation's output, as (event name, data)."""
    obj = protocol.parse(line)
    if obj is None:
        return AGENT_OUTPUT, dumps({"variation_id": variation_id, "type": "log",
                                    "content": line, "pod": source})
    kind = obj.get("type")
    return AGENT_OUTPUT, dumps({"variation_id": variation_id,
                                "type": kind if isinstance(kind, str) else "json",
                                "content": obj, "pod": source})


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
