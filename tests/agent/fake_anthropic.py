"""A fake Anthropic Messages API on 127.0.0.1, for driving the real Claude Code CLI offline.

The CLI honours ``ANTHROPIC_BASE_URL``, so tests point it here and script what "the model"
says. Responses are streamed in the real Messages SSE wire format (``message_start``,
``content_block_start/delta/stop`` with ``thinking_delta``/``signature_delta``,
``text_delta`` and ``input_json_delta``, ``message_delta``, ``message_stop``).

Usage::

    from tests.agent.fake_anthropic import FakeAnthropic, reply, text, thinking, tool_use

    server = FakeAnthropic({
        "edit": [reply(thinking("look first"), tool_use("Read", {"file_path": "/x"})),
                 reply(text("done"))],
    })
    base_url = server.start()          # e.g. http://127.0.0.1:41234
    ... run the agent with ANTHROPIC_BASE_URL=base_url and "[[fake:edit]]" in the prompt ...
    server.requests                    # every request received, in order
    server.stop()

Which script answers a request: the ``select`` callback's answer (given the
:class:`RecordedRequest`; see :func:`per_session` to give each agent process its own
script), else a ``[[fake:NAME]]`` marker anywhere in the request's text (system prompt or
messages), else the script named like the request's ``model``, else ``default``.
Which turn of the script: the number of assistant messages already in the conversation,
so retries of one turn get the same answer and the server needs no per-session state.
Past the end of a script its last step repeats. Requests without ``tools`` would be the
CLI's side calls (titles, summaries; none are made with non-essential traffic off); they
get a short text answer and use no turn, unless ``side_calls_scripted=True``.

Steps: :func:`reply` (blocks from :func:`thinking`, :func:`text`, :func:`tool_use`; optional
``delay`` between SSE events), :func:`fault` (401/429/500/529... in the API's error JSON,
optional ``retry-after``), :func:`cut` (drop the connection mid-stream), :func:`stall`
(open the stream, then only pings; for cancellation tests). Besides ``POST /v1/messages``
(streaming or not) it answers ``/v1/messages/count_tokens`` and ``/v1/models``; anything
else gets a 404 and is recorded, so a test can see what a client called.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from typing import Any, Callable

from tests.agent.anthropic_wire import (ERROR_TYPES, MODELS, Cut, Fault, Reply, Stall, Step,
                                        cut, fault, message_start, model_info, reply,
                                        sse_events, stall, text, thinking, tool_use,
                                        whole_message)
from tests.local_server import MARKER, FakeHandler, LocalServer, RecordedRequest

__all__ = ["FakeAnthropic", "RecordedRequest", "per_session", "Step", "reply", "thinking",
           "text", "tool_use", "fault", "cut", "stall", "Reply", "Fault", "Cut", "Stall"]



# -- the server ----------------------------------------------------------------------------

class FakeAnthropic(LocalServer):
    """A threaded HTTP server that plays scripted model responses."""

    name = "fake-anthropic"

    def __init__(self, scripts: dict[str, list[Step]] | None = None, *,
                 default: str | None = "default",
                 side_calls_scripted: bool = False,
                 select: Callable[[RecordedRequest], str | None] | None = None) -> None:
        self.scripts: dict[str, list[Step]] = dict(scripts or {})
        self.default = default
        self.side_calls_scripted = side_calls_scripted
        self.select = select
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # lifecycle
    def start(self, scripts: dict[str, list[Step]] | None = None) -> str:
        """Listen on an ephemeral 127.0.0.1 port; return the base URL."""
        if scripts:
            self.scripts.update(scripts)
        return super().start()

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    # queries for tests
    def message_requests(self) -> list[RecordedRequest]:
        """The POST /v1/messages requests that were answered from a script."""
        return [r for r in self.requests if r.turn is not None]

    # routing
    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _choose(self, req: RecordedRequest) -> tuple[str | None, int | None, Step | None]:
        body = req.body
        if not self.side_calls_scripted and not body.get("tools"):
            return None, None, None
        name = self.select(req) if self.select else None
        if name is None:
            found = MARKER.search(_all_text(body))
            if found:
                name = found.group(1)
        if name is None and body.get("model") in self.scripts:
            name = body["model"]
        if name is None:
            name = self.default
        script = self.scripts.get(name or "")
        if script is None:
            return name, None, None
        turn = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        # Past the end of a script the last step repeats: a persistent fault stays one.
        return name, turn, script[min(turn, len(script) - 1)]


def per_session(*names: str) -> Callable[[RecordedRequest], str | None]:
    """A ``select`` callback: the n-th Claude Code session to call gets script ``names[n]``.

    Sessions are told apart by the CLI's ``x-claude-code-session-id`` header, so several
    agent processes sharing one fake server (the variations of a run) can each follow a
    different script even with identical prompts; later sessions get ``None`` (fallback).
    """
    seen: dict[str, str | None] = {}
    lock = threading.Lock()

    def select(req: RecordedRequest) -> str | None:
        session = req.headers.get("x-claude-code-session-id", "")
        with lock:
            if session not in seen:
                seen[session] = names[len(seen)] if len(seen) < len(names) else None
            return seen[session]

    return select


def _all_text(body: dict[str, Any]) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in ("text", "content", "system"):
                if key in node:
                    walk(node[key])

    walk(body.get("system"))
    walk(body.get("messages"))
    return "\n".join(parts)


class _Handler(FakeHandler):
    fake: FakeAnthropic

    def response_headers(self) -> dict[str, str]:
        return {"request-id": f"req_{uuid.uuid4().hex[:24]}"}

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"type": "error", "error": {
            "type": ERROR_TYPES.get(status, "api_error"), "message": message}}, headers)

    def _dispatch(self) -> None:
        body = self._parsed(self._raw_body()) if self.command in ("POST", "PUT", "PATCH") \
            else None
        req = RecordedRequest(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body)
        self.fake._record(req)
        path = self.path.split("?", 1)[0]
        if self.command == "POST" and path == "/v1/messages" and isinstance(body, dict):
            self._messages(req, body)
        elif self.command == "POST" and path == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": max(1, len(json.dumps(body)) // 4)})
        elif self.command in ("GET", "HEAD") and path.rstrip("/") == "/v1/models":
            self._send_json(200, {"data": [model_info(m) for m in MODELS],
                                  "has_more": False, "first_id": MODELS[0],
                                  "last_id": MODELS[-1]})
        elif self.command in ("GET", "HEAD") and path.startswith("/v1/models/"):
            self._send_json(200, model_info(path.rsplit("/", 1)[1]))
        elif self.command in ("GET", "HEAD") and path in ("/", ""):
            self._send_json(200, {"ok": True})
        else:
            self._error(404, f"fake server has no route for {self.command} {path}")

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _dispatch

    # /v1/messages
    def _messages(self, req: RecordedRequest, body: dict[str, Any]) -> None:
        name, turn, step = self.fake._choose(req)
        req.script, req.turn = name, turn
        model = str(body.get("model") or "claude-fake")
        if step is None:
            step = reply(text("OK"))
        if isinstance(step, Fault):
            headers = {}
            if step.retry_after is not None:
                headers["retry-after"] = str(step.retry_after)
            self._error(step.status, step.message, headers)
            return
        streaming = bool(body.get("stream"))
        if not streaming:
            if isinstance(step, (Cut, Stall)):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send_json(200, whole_message(step, model))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.end_headers()
        try:
            if isinstance(step, Stall):
                self._stall(step, model)
                return
            inner = step.reply if isinstance(step, Cut) else step
            limit = step.after_events if isinstance(step, Cut) else None
            for n, (event, data) in enumerate(sse_events(inner, model)):
                if limit is not None and n >= limit:
                    # Drop the connection without the terminating chunk: a cut stream.
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._chunk(f"event: {event}\ndata: {json.dumps(data)}\n\n")
                if inner.delay:
                    time.sleep(inner.delay)
            self._chunk("")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _stall(self, step: Stall, model: str) -> None:
        start = message_start(model)
        self._chunk(f"event: message_start\ndata: {json.dumps(start)}\n\n")
        deadline = time.monotonic() + step.seconds
        while time.monotonic() < deadline and not self.fake._stopping.is_set():
            self._chunk('event: ping\ndata: {"type": "ping"}\n\n')
            self.fake._stopping.wait(1.0)
        self.close_connection = True


FakeAnthropic.handler = _Handler
