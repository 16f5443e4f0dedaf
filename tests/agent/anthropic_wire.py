"""What the fake model says, and how it goes on the wire.

Script steps (:func:`reply`, :func:`fault`, :func:`cut`, :func:`stall`) and their rendering
as Anthropic Messages API payloads: the SSE event sequence of a streamed message, a whole
non-streamed message, and the API's error bodies. Used by :mod:`tests.agent.fake_anthropic`.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Union

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


# -- what a script is made of --------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """One content block of a scripted assistant message."""

    type: str  # "thinking" | "text" | "tool_use"
    text: str = ""
    name: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    id: str = ""


def thinking(text_: str) -> Block:
    return Block("thinking", text=text_)


def text(text_: str) -> Block:
    return Block("text", text=text_)


def tool_use(name: str, input_: dict[str, Any], id_: str | None = None) -> Block:
    return Block("tool_use", name=name, input=dict(input_),
                 id=id_ or f"toolu_{uuid.uuid4().hex[:24]}")


@dataclass(frozen=True)
class Reply:
    """One assistant message, streamed block by block."""

    blocks: tuple[Block, ...]
    stop_reason: str = "end_turn"
    # Seconds to sleep between SSE events: lets tests observe a run "in flight".
    delay: float = 0.0


def reply(*blocks: Block, stop_reason: str | None = None, delay: float = 0.0) -> Reply:
    if stop_reason is None:
        stop_reason = "tool_use" if any(b.type == "tool_use" for b in blocks) else "end_turn"
    return Reply(tuple(blocks), stop_reason, delay)


@dataclass(frozen=True)
class Fault:
    """An HTTP error answer (401, 429, 500, 529 ...) in the API's JSON error shape."""

    status: int
    message: str = "scripted failure"
    retry_after: float | None = None


def fault(status: int, message: str = "scripted failure",
          retry_after: float | None = None) -> Fault:
    return Fault(status, message, retry_after)


@dataclass(frozen=True)
class Cut:
    """Start streaming ``reply`` and drop the connection after ``after_events`` SSE events."""

    reply: Reply
    after_events: int = 3


def cut(inner: Reply, after_events: int = 3) -> Cut:
    return Cut(inner, after_events)


@dataclass(frozen=True)
class Stall:
    """Open the stream, then send nothing (pings only) for ``seconds`` or until stop()."""

    seconds: float = 60.0


def stall(seconds: float = 60.0) -> Stall:
    return Stall(seconds)


Step = Union[Reply, Fault, Cut, Stall]


# -- wire format -------------------------------------------------------------------------

MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]


def model_info(model_id: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": model_id,
            "created_at": "2025-01-01T00:00:00Z"}


def _usage(output_tokens: int = 0) -> dict[str, Any]:
    return {"input_tokens": 12, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def message_start(model: str) -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": _usage(1)}}


def _halves(s: str) -> list[str]:
    # Two deltas per block, so consumers really have to concatenate.
    mid = len(s) // 2
    return [p for p in (s[:mid], s[mid:]) if p]


def sse_events(step: Reply, model: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = [("message_start", message_start(model))]
    out_tokens = 0
    for index, block in enumerate(step.blocks):
        if block.type == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _halves(block.text)]
            deltas.append({"type": "signature_delta", "signature": "c2lnbmF0dXJl" * 4})
        elif block.type == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _halves(block.text)]
        elif block.type == "tool_use":
            start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p}
                      for p in _halves(json.dumps(block.input))]
        else:
            raise ValueError(f"unknown block type {block.type}")
        out_tokens += max(1, len(block.text or json.dumps(block.input)) // 4)
        events.append(("content_block_start", {"type": "content_block_start",
                                               "index": index, "content_block": start}))
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        for delta in deltas:
            events.append(("content_block_delta", {"type": "content_block_delta",
                                                   "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": step.stop_reason,
                                               "stop_sequence": None},
                                     "usage": {"output_tokens": out_tokens}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def whole_message(step: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in step.blocks:
        if block.type == "thinking":
            content.append({"type": "thinking", "thinking": block.text,
                            "signature": "c2lnbmF0dXJl" * 4})
        elif block.type == "text":
            content.append({"type": "text", "text": block.text})
        else:
            content.append({"type": "tool_use", "id": block.id, "name": block.name,
                            "input": block.input})
    msg = message_start(model)["message"]
    msg.update(content=content, stop_reason=step.stop_reason, usage=_usage(10))
    return msg
