"""A fake OpenAI Responses API on 127.0.0.1, for driving the real Codex CLI offline.

The agent writes the Codex CLI a provider whose ``base_url`` is the gateway (or, in the
agent's own tests, this server), so tests script what "the model" says. Answers are
streamed the way the Responses API streams them (server-sent events): ``response.created``,
then per output item ``response.output_item.added``, its deltas
(``response.reasoning_summary_text.delta``, ``response.output_text.delta``) and
``response.output_item.done``, then ``response.completed`` with the call's ``usage``
(``input_tokens`` with ``input_tokens_details.cached_tokens``, ``output_tokens`` with
``output_tokens_details.reasoning_tokens``, ``total_tokens``).

Usage::

    server = FakeOpenAI({"edit": [reply(reasoning("look"), patch("*** Begin Patch ...")),
                                  reply(shell("cat a.txt")),
                                  reply(message("done"))]})
    base_url = server.start()          # http://127.0.0.1:PORT ; the API is under /v1

Which script answers: a ``[[fake:NAME]]`` marker anywhere in the request's input text, else
the script named like the request's ``model``, else ``default``. Which step: the number of
tool-call rounds already in the conversation (runs of ``*_call`` / ``*_call_output`` items
in ``input``), so a retried request gets the same answer and the server keeps no session
state. Past the end of a script its last step repeats. Steps: :func:`reply` of items made
by :func:`reasoning`, :func:`message`, :func:`shell` (Codex's ``exec_command`` function),
:func:`patch` (Codex's freeform ``apply_patch`` custom tool), :func:`function_call`;
:func:`fault` (an HTTP error in the API's error JSON); :func:`attempts` (one turn answered
differently per attempt, e.g. a 429 then the reply: the one piece of state the server
keeps). ``GET /v1/models`` is answered too; anything else is a 404, and every request is
recorded in ``requests``.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Union

from tests.local_server import MARKER, FakeHandler, LocalServer, RecordedRequest

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
               429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}
ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded", 500: "server_error"}


# -- script steps ---------------------------------------------------------------------------

@dataclass
class Reply:
    items: list[dict[str, Any]]
    usage: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Fault:
    status: int
    message: str
    retry_after: float | None = None


@dataclass
class Attempts:
    """One turn answered differently per attempt: the n-th request of this turn gets
    ``steps[n]`` (the last one repeats), e.g. a 429 and then the reply."""
    steps: tuple[Union[Reply, Fault], ...]


Step = Union[Reply, Fault, Attempts]


def attempts(*steps: Union[Reply, Fault]) -> Attempts:
    return Attempts(tuple(steps))


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def reasoning(text: str) -> dict[str, Any]:
    """A reasoning item whose summary is ``text`` (what Codex shows of the model's thinking)."""
    return {"type": "reasoning", "summary": [{"type": "summary_text", "text": text}]}


def message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def function_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": json.dumps(arguments)}


def shell(cmd: str, **extra: Any) -> dict[str, Any]:
    """A call of Codex's shell tool (``exec_command``)."""
    return function_call("exec_command", {"cmd": cmd, **extra})


def patch(text: str) -> dict[str, Any]:
    """A call of Codex's freeform ``apply_patch`` tool (a custom tool: raw text input)."""
    return {"type": "custom_tool_call", "name": "apply_patch", "input": text}


def reply(*items: dict[str, Any], input_tokens: int = 120, cached_tokens: int = 20,
          output_tokens: int = 30, reasoning_tokens: int = 10, delay: float = 0.0) -> Reply:
    return Reply(list(items), {"input_tokens": input_tokens, "cached_tokens": cached_tokens,
                               "output_tokens": output_tokens,
                               "reasoning_tokens": reasoning_tokens}, delay)


def fault(status: int, message: str = "", retry_after: float | None = None) -> Fault:
    return Fault(status, message or f"fake error {status}", retry_after)


def usage_of(step: Reply) -> dict[str, Any]:
    u = step.usage
    return {"input_tokens": u["input_tokens"],
            "input_tokens_details": {"cached_tokens": u["cached_tokens"]},
            "output_tokens": u["output_tokens"],
            "output_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
            "total_tokens": u["input_tokens"] + u["output_tokens"]}


def sse_events(step: Reply, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The Responses API's stream for one scripted reply."""
    response_id = _id("resp")
    base = {"id": response_id, "object": "response", "created_at": int(time.time()),
            "model": model, "status": "in_progress", "output": []}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"type": "response.created", "response": base}),
        ("response.in_progress", {"type": "response.in_progress", "response": base})]
    done_items = []
    for index, template in enumerate(step.items):
        item = json.loads(json.dumps(template))
        kind = item["type"]
        item["id"] = _id({"reasoning": "rs", "message": "msg", "function_call": "fc",
                          "custom_tool_call": "ctc"}.get(kind, "item"))
        if kind in ("function_call", "custom_tool_call"):
            item["call_id"] = _id("call")
        if kind == "message":
            item["status"] = "completed"
        added = dict(item)
        if kind == "reasoning":
            added["summary"] = []
        elif kind == "message":
            added["content"], added["status"] = [], "in_progress"
        events.append(("response.output_item.added", {
            "type": "response.output_item.added", "output_index": index, "item": added}))
        if kind == "reasoning":
            for s, part in enumerate(item["summary"]):
                events.append(("response.reasoning_summary_part.added", {
                    "type": "response.reasoning_summary_part.added", "item_id": item["id"],
                    "output_index": index, "summary_index": s,
                    "part": {"type": "summary_text", "text": ""}}))
                for chunk in _halves(part["text"]):
                    events.append(("response.reasoning_summary_text.delta", {
                        "type": "response.reasoning_summary_text.delta",
                        "item_id": item["id"], "output_index": index, "summary_index": s,
                        "delta": chunk}))
                events.append(("response.reasoning_summary_text.done", {
                    "type": "response.reasoning_summary_text.done", "item_id": item["id"],
                    "output_index": index, "summary_index": s, "text": part["text"]}))
        elif kind == "message":
            for c, part in enumerate(item["content"]):
                for chunk in _halves(part["text"]):
                    events.append(("response.output_text.delta", {
                        "type": "response.output_text.delta", "item_id": item["id"],
                        "output_index": index, "content_index": c, "delta": chunk}))
        elif kind == "function_call":
            events.append(("response.function_call_arguments.done", {
                "type": "response.function_call_arguments.done", "item_id": item["id"],
                "output_index": index, "arguments": item["arguments"]}))
        events.append(("response.output_item.done", {
            "type": "response.output_item.done", "output_index": index, "item": item}))
        done_items.append(item)
    final = dict(base, status="completed", output=done_items, usage=usage_of(step))
    events.append(("response.completed", {"type": "response.completed", "response": final}))
    return events


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [part for part in (text[:middle], text[middle:]) if part]


# -- the server -----------------------------------------------------------------------------

def rounds(items: list[Any]) -> int:
    """How many tool-call rounds the conversation in ``input`` already holds: a round
    starts at a call that follows anything but another call (its parallel siblings)."""
    count, previous = 0, ""
    for item in items:
        kind = item.get("type", "") if isinstance(item, dict) else ""
        if kind.endswith("_call") and not previous.endswith("_call"):
            count += 1
        previous = kind
    return count


def _all_text(node: Any, out: list[str]) -> None:
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, list):
        for item in node:
            _all_text(item, out)
    elif isinstance(node, dict):
        for key in ("text", "content"):
            if key in node:
                _all_text(node[key], out)


class FakeOpenAI(LocalServer):
    """A threaded HTTP server that plays scripted Responses API answers."""

    name = "fake-openai"

    def __init__(self, scripts: dict[str, list[Step]] | None = None,
                 default: str = "default") -> None:
        self.scripts: dict[str, list[Step]] = dict(scripts or {})
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._attempts: dict[tuple[str, int], int] = {}


    def response_requests(self, script: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.turn is not None
                    and (script is None or r.script == script)]

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _choose(self, body: dict[str, Any]) -> tuple[str, int, Step | None]:
        texts: list[str] = []
        _all_text(body.get("input"), texts)
        found = MARKER.search("\n".join(texts))
        name = found.group(1) if found else (
            body["model"] if body.get("model") in self.scripts else self.default)
        items = body.get("input") if isinstance(body.get("input"), list) else []
        turn = rounds(items)
        script = self.scripts.get(name)
        if not script:
            return name, turn, None
        step = script[min(turn, len(script) - 1)]
        if isinstance(step, Attempts):
            with self._lock:
                n = self._attempts.get((name, turn), 0)
                self._attempts[(name, turn)] = n + 1
            step = step.steps[min(n, len(step.steps) - 1)]
        return name, turn, step


class _Handler(FakeHandler):
    fake: FakeOpenAI

    def response_headers(self) -> dict[str, str]:
        return {"x-request-id": _id("req")}

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": {"message": message,
                                      "type": ERROR_TYPES.get(status, "server_error"),
                                      "param": None, "code": ERROR_CODES.get(status)}},
                   headers)

    def _dispatch(self) -> None:
        body = self._parsed(self._raw_body()) if self.command == "POST" else None
        req = RecordedRequest(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body)
        self.fake._record(req)
        path = self.path.split("?", 1)[0].rstrip("/")
        if self.command == "POST" and path == "/v1/responses" and isinstance(body, dict):
            self._responses(req, body)
        elif self.command == "GET" and path == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": "gpt-5.5", "object": "model", "owned_by": "openai"}]})
        else:
            self._error(404, f"fake server has no route for {self.command} {path}")

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def _responses(self, req: RecordedRequest, body: dict[str, Any]) -> None:
        name, turn, step = self.fake._choose(body)
        req.script, req.turn = name, turn
        if step is None:
            step = reply(message("OK"))
        if isinstance(step, Fault):
            headers = {} if step.retry_after is None else {"retry-after": str(step.retry_after)}
            self._error(step.status, step.message, headers)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", _id("req"))
        self.end_headers()
        self._stream((f"event: {event}\ndata: {json.dumps(data)}\n\n" for event, data
                      in sse_events(step, str(body.get("model") or "gpt-fake"))), step.delay)


FakeOpenAI.handler = _Handler
