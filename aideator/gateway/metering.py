"""Reads what a model call used from its response as it passes through the gateway.

Streamed (server-sent events): ``message_start`` carries the input side (input, cache
creation and cache read tokens, and the first output tokens), each ``message_delta`` the
cumulative usage so far; the last value of each kind is the call's. Whole JSON responses
carry one ``usage`` object. The OpenAI Responses API (``api="openai"``) reports a call's
usage once, in its ``response.completed`` (or ``.incomplete``/``.failed``) event's
``response``, or the whole response's ``usage``: ``input_tokens`` counts the cached ones
(``input_tokens_details.cached_tokens``), which are kept apart here as cache reads.
Nothing is buffered but the current unfinished SSE line, so the stream passes through
unchanged and undelayed.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
               "cache_read_input_tokens")
# A whole (non-streamed) response is parsed for its usage up to this size.
MAX_WHOLE_BYTES = 16 << 20
# An SSE line longer than this is not an event we read usage from (text deltas can be
# long, usage lines are short): it is skipped, never kept whole.
MAX_LINE_BYTES = 1 << 20
OPENAI_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def _tokens(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


class Meter:
    """The usage of one model call, fed the response body chunk by chunk."""

    def __init__(self, streamed: bool, request_model: str | None = None,
                 api: str = "anthropic") -> None:
        self.streamed = streamed
        self.api = api
        self.model = request_model
        self.usage: dict[str, int] = {}
        self._partial = b""
        self._skipping = False
        self._whole: list[bytes] = []
        self._whole_size = 0

    @property
    def seen(self) -> bool:
        """Whether the response reported any usage."""
        return bool(self.usage)

    def feed(self, chunk: bytes) -> None:
        if not self.streamed:
            if self._whole_size + len(chunk) <= MAX_WHOLE_BYTES:
                self._whole.append(chunk)
            self._whole_size += len(chunk)
            return
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if self._skipping:
                self._skipping = False   # the rest of an over-long line
                continue
            self._line(line)
        if len(self._partial) > MAX_LINE_BYTES:
            self._partial, self._skipping = b"", True

    def finish(self) -> None:
        """The response has ended: read a whole one, or the last unterminated line."""
        if self.streamed:
            if self._partial and not self._skipping:
                self._line(self._partial)
            self._partial = b""
            return
        if self._whole_size <= MAX_WHOLE_BYTES:
            try:
                self._message(json.loads(b"".join(self._whole)))
            except ValueError:
                pass
        self._whole = []

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:") or b'"usage"' not in line:
            return
        try:
            event = json.loads(line[5:])
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if self.api == "openai":
            if event.get("type") in OPENAI_FINAL_EVENTS:
                self._message(event.get("response"))
            return
        if event.get("type") == "message_start":
            self._message(event.get("message"))
        elif event.get("type") == "message_delta":
            self._usage(event.get("usage"))

    def _message(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if isinstance(message.get("model"), str):
            self.model = message["model"]
        self._usage(message.get("usage"))

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        if self.api == "openai":
            usage = _openai_usage(usage)
        for kind in TOKEN_KINDS:
            amount = _tokens(usage.get(kind))
            if amount is not None:
                # message_delta's counts are cumulative: the latest is the call's.
                self.usage[kind] = amount

    def tokens(self) -> dict[str, int]:
        return {kind: self.usage.get(kind, 0) for kind in TOKEN_KINDS}


def _openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses API usage in the gateway's kinds: uncached input, cache reads, output."""
    details = usage.get("input_tokens_details")
    cached = _tokens(details.get("cached_tokens")) if isinstance(details, Mapping) else None
    total = _tokens(usage.get("input_tokens"))
    out: dict[str, Any] = {"output_tokens": usage.get("output_tokens")}
    if total is not None:
        out["input_tokens"] = max(0, total - (cached or 0))
        out["cache_read_input_tokens"] = cached or 0
    return out
