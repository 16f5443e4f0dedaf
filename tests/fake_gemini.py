"""A fake Gemini API on 127.0.0.1, for driving the real Gemini CLI (and the gateway) offline.

The CLI honours ``GOOGLE_GEMINI_BASE_URL``, so tests point it (or the gateway's
``AIDEATOR_GEMINI_URL``) here and script what "the model" says. Answers use the Gemini API's
wire format: ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` streams
``data: {candidates: [{content: {role: "model", parts}}], usageMetadata}`` chunks, with
``{"thought": true, "text"}`` parts for thinking, ``{"text"}`` parts and
``{"functionCall": {"name", "args"}}`` parts; ``:generateContent`` answers the same in one
body; ``:countTokens`` and ``GET /v1beta/models`` answer too.

Usage::

    server = FakeGemini({"edit": [reply(thought("look"), call("read_file", {...})),
                                  reply(text("done"))]})
    base_url = server.start()
    ... "[[fake:edit]]" in the prompt ...
    server.requests

Which script: a ``[[fake:NAME]]`` marker in the request's text, else ``default``. Which
step: the number of ``model`` turns already in ``contents`` (retries of a turn get the same
step), the last step repeating past the end. Requests without ``tools`` are the CLI's side
calls (routing, next-speaker checks, summaries): they get a short JSON-ish text answer and
use no step. :func:`fault` answers with the API's error JSON and status, ``times`` times for
a given script turn before the next step is played (429-then-success), or forever.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.local_server import MARKER, FakeHandler, LocalServer, RecordedRequest

STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                503: "UNAVAILABLE"}


@dataclass(frozen=True)
class Reply:
    parts: tuple[dict[str, Any], ...]
    usage: dict[str, int]
    delay: float = 0.0


@dataclass(frozen=True)
class Fault:
    status: int
    message: str
    times: int | None = None   # None: every time


def thought(value: str) -> dict[str, Any]:
    return {"text": value, "thought": True}


def text(value: str) -> dict[str, Any]:
    return {"text": value}


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": args}}


def reply(*parts: dict[str, Any], prompt_tokens: int = 100, output_tokens: int = 20,
          thoughts_tokens: int = 0, cached_tokens: int = 0, delay: float = 0.0) -> Reply:
    usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
             "totalTokenCount": prompt_tokens + output_tokens + thoughts_tokens}
    if thoughts_tokens:
        usage["thoughtsTokenCount"] = thoughts_tokens
    if cached_tokens:
        usage["cachedContentTokenCount"] = cached_tokens
    return Reply(tuple(parts), usage, delay)


def fault(status: int, message: str = "", times: int | None = None) -> Fault:
    return Fault(status, message or f"fake {status}", times)


@dataclass
class _State:
    faults_served: dict[tuple[str, int], int] = field(default_factory=dict)


class FakeGemini(LocalServer):
    """A threaded HTTP server playing scripted Gemini responses."""

    name = "fake-gemini"

    def __init__(self, scripts: dict[str, list[Reply | Fault]] | None = None, *,
                 default: str = "default") -> None:
        self.scripts = dict(scripts or {})
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._state = _State()
        self._lock = threading.Lock()


    def scripted(self, script: str | None = None) -> list[RecordedRequest]:
        """The generate requests answered from a script (optionally: that one)."""
        return [r for r in self.requests
                if r.turn is not None and (script is None or r.script == script)]

    def _choose(self, body: dict[str, Any]) -> tuple[str | None, int | None, Reply | Fault]:
        if not body.get("tools"):
            return None, None, reply(text('{"reasoning": "fake", "next_speaker": "user"}'),
                                     prompt_tokens=10, output_tokens=5)
        found = MARKER.search(_all_text(body))
        name = found.group(1) if found else self.default
        script = self.scripts.get(name)
        if not script:
            return name, None, reply(text("OK"))
        turn = sum(1 for c in body.get("contents", []) if c.get("role") == "model")
        step = script[min(turn, len(script) - 1)]
        if isinstance(step, Fault) and step.times is not None:
            with self._lock:
                served = self._state.faults_served.get((name, turn), 0)
                self._state.faults_served[(name, turn)] = served + 1
            if served >= step.times:
                step = script[min(turn + 1, len(script) - 1)]
        return name, turn, step


def _all_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for content in body.get("contents", []):
        for part in content.get("parts", []) or []:
            if isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "\n".join(parts)


def _chunk_of(parts: list[dict[str, Any]], model: str,
              usage: dict[str, int] | None = None, finish: bool = False) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model,
                             "responseId": f"fake-{time.monotonic_ns()}"}
    if usage is not None:
        chunk["usageMetadata"] = usage
    return chunk


class _Handler(FakeHandler):
    fake: FakeGemini

    def _error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": {"code": status, "message": message,
                                           "status": STATUS_NAMES.get(status, "UNKNOWN")}})

    def _dispatch(self) -> None:
        raw = self._raw_body()
        body = self._parsed(raw)
        req = RecordedRequest(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body)
        with self.fake._lock:
            self.fake.requests.append(req)
        path = self.path.split("?", 1)[0]
        found = re.fullmatch(r"/v1beta/models/([^/:]+):(\w+)", path)
        if self.command == "POST" and found and isinstance(body, dict):
            model, method = found.groups()
            if method in ("streamGenerateContent", "generateContent"):
                self._generate(req, body, model, method == "streamGenerateContent")
            elif method == "countTokens":
                self._send_json(200, {"totalTokens": max(1, len(raw) // 4)})
            else:
                self._error(404, f"fake server has no method {method}")
        elif self.command == "GET" and path.rstrip("/") == "/v1beta/models":
            self._send_json(200, {"models": [{"name": f"models/{m}"} for m in
                                             ("gemini-2.5-pro", "gemini-2.5-flash")]})
        else:
            self._error(404, f"fake server has no route for {self.command} {path}")

    do_GET = do_POST = _dispatch

    def _generate(self, req: RecordedRequest, body: dict[str, Any], model: str,
                  stream: bool) -> None:
        name, turn, step = self.fake._choose(body)
        req.script, req.turn = name, turn
        if isinstance(step, Fault):
            req.status = step.status
            self._error(step.status, step.message)
            return
        parts = list(step.parts)
        if not stream:
            self._send_json(200, _chunk_of(parts, model, step.usage, finish=True))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # One chunk per part, the usage and finish reason on the last (as the API does).
        last = len(parts) - 1
        chunks = (_chunk_of([part], model, step.usage if n == last else None, finish=n == last)
                  for n, part in enumerate(parts))
        self._stream((f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks), step.delay)


FakeGemini.handler = _Handler
