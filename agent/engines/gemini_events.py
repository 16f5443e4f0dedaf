"""Turns the Gemini CLI's ``--output-format stream-json`` events into protocol lines.

Pure bookkeeping (no I/O besides ``emit``), so recorded lines can be fed in unit tests.
The CLI's stream has ``init``, ``message`` (the user's, then the model's text as deltas),
``tool_use``, ``tool_result``, ``error`` (warnings and fatal ones) and ``result``. It prints
no thinking: the model's thoughts are in the CLI's own session transcript (JSONL, one
``type: "gemini"`` record per model message with ``thoughts``), which :meth:`transcript`
is fed with so thinking is told too, before the turn's tool calls when it arrives in time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .. import protocol
from ..output import clip

MAX_TOOL_RESULT_BYTES = 4 * 1024
MAX_TOOL_INPUT_STRING_BYTES = 4 * 1024

Emit = Callable[..., None]


@dataclass
class ModelFailure:
    reason: str         # authentication_failed, rate_limit, server_error, invalid_request...
    message: str
    status: int | None = None


# How the CLI words an API failure: "[API Error: ...]" / "got status: 429 ..." / the JSON
# error body's "code": 401 / "status": "UNAUTHENTICATED".
_STATUS_RE = re.compile(r"(?:status(?: code)?:?\s*|\"code\":\s*|\b)(401|403|429|500|502|503|"
                        r"504|400|404)\b")
_REASONS = {401: "authentication_failed", 403: "authentication_failed", 429: "rate_limit",
            400: "invalid_request", 404: "invalid_request"}


def classify(message: str) -> ModelFailure | None:
    """The model failure a fatal CLI error message describes, if it is one."""
    found = _STATUS_RE.search(message)
    if found is None:
        lowered = message.lower()
        if "api key" in lowered or "unauthenticated" in lowered:
            return ModelFailure("authentication_failed", message, 401)
        if "resource_exhausted" in lowered or "quota" in lowered:
            return ModelFailure("rate_limit", message, 429)
        if "fetch failed" in lowered or "econnrefused" in lowered:
            return ModelFailure("connection_error", message, None)
        return None
    status = int(found.group(1))
    return ModelFailure(_REASONS.get(status, "server_error" if status >= 500 else "api_error"),
                        message, status)


def _bounded(value: Any, limit: int) -> tuple[Any, bool]:
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, dict):
        pairs = {k: _bounded(v, limit) for k, v in value.items()}
        return {k: p[0] for k, p in pairs.items()}, any(p[1] for p in pairs.values())
    if isinstance(value, list):
        items = [_bounded(v, limit) for v in value]
        return [p[0] for p in items], any(p[1] for p in items)
    return value, False


class Translator:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.session_id: str | None = None
        self.model: str | None = None
        self.turn = 0               # model turns begun (one per request answered)
        self._index = 0             # next block index in the current turn
        self._text: list[str] = []  # the current text block's deltas
        self._tools: dict[str, str] = {}          # tool id -> name
        self._results: dict[str, str] = {}        # tool id -> output, from the transcript
        self._thoughts_told: dict[str, int] = {}  # transcript message id -> thoughts told
        self._in_turn = False
        self.result: dict[str, Any] | None = None
        self.failure: ModelFailure | None = None
        self.fatal: str | None = None
        self.final_text: list[str] = []
        self.turn_limit = False

    # -- the CLI's stdout --------------------------------------------------------------
    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "init":
            self.session_id, self.model = event.get("session_id"), event.get("model")
        elif kind == "message" and event.get("role") == "assistant":
            self._start_turn()
            chunk = str(event.get("content") or "")
            if chunk:
                self._text.append(chunk)
                self._emit(protocol.TEXT_DELTA, **self._where(), text=chunk)
        elif kind == "tool_use":
            self._start_turn()
            self._close_text()
            tool_id, name = str(event.get("tool_id")), str(event.get("tool_name"))
            self._tools[tool_id] = name
            params, cut = _bounded(event.get("parameters") or {}, MAX_TOOL_INPUT_STRING_BYTES)
            self._emit(protocol.TOOL_USE, **self._where(), id=tool_id, name=name,
                       input=params, truncated=cut)
            self._index += 1
        elif kind == "tool_result":
            self._end_turn()
            tool_id = str(event.get("tool_id"))
            error = event.get("error") or {}
            is_error = event.get("status") == "error"
            output = event.get("output") or self._results.get(tool_id) or ""
            if is_error and error.get("message"):
                output = f"{output}\n{error['message']}".strip()
            content, cut = clip(str(output), MAX_TOOL_RESULT_BYTES)
            self._emit(protocol.TOOL_RESULT, tool_use_id=tool_id,
                       name=self._tools.get(tool_id), content=content, truncated=cut,
                       is_error=is_error)
        elif kind == "error":
            message = str(event.get("message") or "")
            if "Maximum session turns" in message:
                self.turn_limit = True
            if event.get("severity") == "error":
                self._fatal(message)
        elif kind == "result":
            self._end_turn()
            self.result = event
            error = event.get("error")
            if event.get("status") == "error" and isinstance(error, dict):
                self._fatal(str(error.get("message") or error.get("type") or "error"))

    def _fatal(self, message: str) -> None:
        self.fatal = self.fatal or message
        if self.failure is None:
            self.failure = classify(message)

    # -- the CLI's session transcript -------------------------------------------------
    def transcript(self, record: dict[str, Any]) -> None:
        """One line of the session's JSONL transcript: thoughts and full tool outputs."""
        if record.get("type") != "gemini":
            return
        msg_id = str(record.get("id"))
        thoughts = record.get("thoughts") or []
        told = self._thoughts_told.get(msg_id, 0)
        for thought in thoughts[told:]:
            subject, text = thought.get("subject") or "", thought.get("description") or ""
            value = f"{subject}\n{text}".strip() if subject else text
            if value:
                where = self._where()
                self._emit(protocol.THINKING_DELTA, **where, thinking=value)
                self._emit(protocol.THINKING, **where, thinking=value)
                self._index += 1
        self._thoughts_told[msg_id] = max(told, len(thoughts))
        for call in record.get("toolCalls") or []:
            for part in call.get("result") or []:
                response = (part.get("functionResponse") or {}).get("response") or {}
                output = response.get("output", response.get("error"))
                if output is not None:
                    self._results[str(call.get("id"))] = str(output)

    def has_result(self, tool_id: str) -> bool:
        return tool_id in self._results

    # -- turns and blocks -----------------------------------------------------------------
    def _start_turn(self) -> None:
        if not self._in_turn:
            self._in_turn, self._index = True, 0
            self.turn += 1

    def _end_turn(self) -> None:
        self._close_text()
        self._in_turn = False

    def _close_text(self) -> None:
        if self._text:
            whole = "".join(self._text)
            self._emit(protocol.TEXT, **self._where(), text=whole)
            self.final_text = [whole]
            self._text = []
            self._index += 1

    def _where(self) -> dict[str, Any]:
        return {"message_id": f"{self.session_id or 'gemini'}-{max(self.turn, 1)}",
                "index": self._index}
