"""Turns claude-agent-sdk messages into protocol events, and remembers how the run went.

Pure bookkeeping, no I/O besides the ``emit`` callback, so it can be fed recorded
messages in unit tests. Stream deltas go out as they arrive (``text_delta``,
``thinking_delta``); the complete block (``text``, ``thinking``, ``tool_use``) follows once
the CLI has it, with the same ``message_id`` and ``index`` so a consumer can replace the
live preview with the final text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from claude_agent_sdk import (AssistantMessage, ResultMessage, StreamEvent, SystemMessage,
                              TextBlock, ThinkingBlock, ToolResultBlock, ToolUseBlock,
                              UserMessage)

from . import protocol
from .output import clip

MAX_TOOL_RESULT_BYTES = 4 * 1024
MAX_TOOL_INPUT_STRING_BYTES = 4 * 1024

Emit = Callable[..., None]


@dataclass
class ModelFailure:
    reason: str            # the CLI's classification: authentication_failed, rate_limit, ...
    message: str
    status: int | None = None


def _bounded(value: Any, limit: int) -> tuple[Any, bool]:
    """``value`` with every string clipped to ``limit`` bytes, and whether any was."""
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, dict):
        cut = False
        out = {}
        for key, item in value.items():
            out[key], item_cut = _bounded(item, limit)
            cut = cut or item_cut
        return out, cut
    if isinstance(value, list):
        pairs = [_bounded(item, limit) for item in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    return value, False


def _result_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for item in content:
        if isinstance(item, dict) and item.get("type") == "text":
            parts.append(str(item.get("text", "")))
        elif isinstance(item, dict):
            parts.append(f"[{item.get('type', 'content')}]")
        else:
            parts.append(str(item))
    return "\n".join(parts)


class Translator:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._streaming_message: str | None = None
        self._next_index: dict[str, int] = {}
        self._tool_names: dict[str, str] = {}
        self.result: ResultMessage | None = None
        self.model_failure: ModelFailure | None = None
        self._last_retry_status: int | None = None

    def feed(self, message: Any) -> None:
        # Subagents are not enabled (Task is blocked); anything nested is not ours to show.
        if getattr(message, "parent_tool_use_id", None):
            return
        if isinstance(message, StreamEvent):
            self._stream_event(message.event)
        elif isinstance(message, AssistantMessage):
            self._assistant(message)
        elif isinstance(message, UserMessage):
            self._user(message)
        elif isinstance(message, ResultMessage):
            self._result(message)
        elif isinstance(message, SystemMessage):
            self._system(message)

    def _stream_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self._streaming_message = (event.get("message") or {}).get("id")
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            where = {"message_id": self._streaming_message, "index": event.get("index")}
            if delta.get("type") == "text_delta":
                self._emit(protocol.TEXT_DELTA, **where, text=delta.get("text", ""))
            elif delta.get("type") == "thinking_delta":
                self._emit(protocol.THINKING_DELTA, **where,
                           thinking=delta.get("thinking", ""))

    def _assistant(self, message: AssistantMessage) -> None:
        if message.error:
            # A synthetic message the CLI writes when the API call failed: it explains the
            # failure, it is not something the model said.
            text = " ".join(b.text for b in message.content if isinstance(b, TextBlock))
            self.model_failure = ModelFailure(message.error, text or message.error,
                                              self._last_retry_status)
            return
        message_id = message.message_id or ""
        for block in message.content:
            # The CLI sends one block per message while streaming; counting per message id
            # recovers the block's index in the API message (the index deltas carry).
            index = self._next_index.get(message_id, 0)
            self._next_index[message_id] = index + 1
            where = {"message_id": message.message_id, "index": index}
            if isinstance(block, ThinkingBlock):
                self._emit(protocol.THINKING, **where, thinking=block.thinking)
            elif isinstance(block, TextBlock):
                self._emit(protocol.TEXT, **where, text=block.text)
            elif isinstance(block, ToolUseBlock):
                self._tool_names[block.id] = block.name
                tool_input, cut = _bounded(block.input, MAX_TOOL_INPUT_STRING_BYTES)
                self._emit(protocol.TOOL_USE, **where, id=block.id, name=block.name,
                           input=tool_input, truncated=cut)

    def _user(self, message: UserMessage) -> None:
        if isinstance(message.content, str):
            return
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                content, cut = clip(_result_text(block.content), MAX_TOOL_RESULT_BYTES)
                self._emit(protocol.TOOL_RESULT, tool_use_id=block.tool_use_id,
                           name=self._tool_names.get(block.tool_use_id),
                           content=content, truncated=cut, is_error=bool(block.is_error))

    def _system(self, message: SystemMessage) -> None:
        data = message.data or {}
        if message.subtype == "init":
            self._emit(protocol.STATUS, phase="running", session_id=data.get("session_id"),
                       model=data.get("model"), tools=data.get("tools"),
                       permission_mode=data.get("permissionMode"))
        elif message.subtype == "api_retry":
            status = data.get("error_status")
            self._last_retry_status = status if isinstance(status, int) else None
            self._emit(protocol.STATUS, phase="retrying", attempt=data.get("attempt"),
                       max_retries=data.get("max_retries"),
                       delay_ms=data.get("retry_delay_ms"), error_status=status,
                       reason=data.get("error"))

    def _result(self, message: ResultMessage) -> None:
        self.result = message
        self._emit(protocol.RESULT, subtype=message.subtype, is_error=message.is_error,
                   num_turns=message.num_turns, duration_ms=message.duration_ms,
                   duration_api_ms=message.duration_api_ms,
                   total_cost_usd=message.total_cost_usd, usage=message.usage,
                   stop_reason=message.stop_reason,
                   text=None if self.model_failure else message.result)
