"""The Gemini API through the gateway: the agent's credential in, the service's real key
out, the response streamed back as it arrives, its ``usageMetadata`` metered and priced,
and the variation's budget enforced before each generate call.

Upstream: ``AIDEATOR_GEMINI_URL`` (default https://generativelanguage.googleapis.com)
with the service's ``GEMINI_API_KEY`` (sent as ``x-goog-api-key``). The agent's aidg_
token arrives as the Gemini CLI sends a key: ``x-goog-api-key`` (or ``?key=``, which is
taken off the URL before it goes upstream). Served: ``POST v1beta/models/{model}:``
``streamGenerateContent`` / ``generateContent`` / ``countTokens`` and ``GET v1beta/models``
(+ one model); everything else is a 404.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode

from flask import current_app, jsonify, request

from . import relay
from .metering import Meter, _tokens


DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
METHODS = ("streamGenerateContent", "generateContent", "countTokens")
GENERATE = ("streamGenerateContent", "generateContent")
MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FORWARD_HEADERS = ("content-type", "accept", "content-encoding", "x-goog-api-client")
RETURN_HEADERS = ("content-type", "content-encoding", "retry-after")
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND",
                502: "UNAVAILABLE"}


def upstream(environ: Mapping[str, str] | None = None) -> relay.Upstream:
    environ = os.environ if environ is None else environ
    base = (environ.get("AIDEATOR_GEMINI_URL") or DEFAULT_BASE_URL).rstrip("/")
    key = environ.get("GEMINI_API_KEY", "")
    return relay.Upstream(base, {"x-goog-api-key": key} if key else {})


class GeminiMeter(Meter):
    """``usageMetadata`` of each streamed chunk (cumulative: the last one is the call's).

    Thoughts are billed as output; cached prompt tokens are a cache read, the rest of the
    prompt plain input (the Anthropic-shaped kinds the usage table keeps).
    """

    def _line(self, line: bytes) -> None:
        if line.startswith(b"data:") and b'"usageMetadata"' in line:
            try:
                self._message(json.loads(line[5:]))
            except ValueError:
                pass

    def _message(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if isinstance(message.get("modelVersion"), str):
            self.model = message["modelVersion"]
        meta = message.get("usageMetadata")
        if not isinstance(meta, Mapping):
            return
        prompt = _tokens(meta.get("promptTokenCount")) or 0
        cached = min(_tokens(meta.get("cachedContentTokenCount")) or 0, prompt)
        output = (_tokens(meta.get("candidatesTokenCount")) or 0) + \
            (_tokens(meta.get("thoughtsTokenCount")) or 0)
        self.usage.update(input_tokens=prompt - cached, output_tokens=output,
                          cache_read_input_tokens=cached, cache_creation_input_tokens=0)


def error(status: int, message: str) -> Any:
    """An error the way the Gemini API words one, so the CLI reports it as such."""
    return jsonify({"error": {"code": status, "message": message,
                              "status": STATUS_NAMES.get(status, "UNKNOWN")}}), status


def _credential() -> str:
    return (request.headers.get("x-goog-api-key") or request.args.get("key") or "").strip()


def proxy(path: str) -> Any:
    """Forward ``path`` (below ``v1beta/``), checked against what the CLI needs."""
    gateway = current_app.extensions["aideator.gateway"]
    found = re.fullmatch(r"models/([^/:]+):(\w+)", path)
    if request.method == "POST" and found and MODEL_RE.fullmatch(found.group(1)) \
            and found.group(2) in METHODS:
        model, method = found.groups()
    elif request.method == "GET" and (path == "models" or re.fullmatch(
            r"models/[A-Za-z0-9._-]{1,128}", path)):
        model, method = None, "list"
    else:
        return error(404, "aideator gateway: only the model endpoints are served")
    calling = method in GENERATE
    try:
        grant = relay.admit("gemini", _credential(), gateway.settings, calling)
    except relay.Refusal as refusal:
        return error(refusal.status, str(refusal))
    body = request.get_data(cache=False) if request.method == "POST" else None
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_HEADERS}
    headers.update(gateway.gemini.headers)
    # The agent's key never goes upstream; the other parameters (alt=sse) do.
    query = urlencode([(k, v) for k, v in parse_qsl(request.query_string.decode("latin-1"))
                       if k != "key"])
    return relay.forward(
        "gemini", method=request.method,
        url=f"{gateway.gemini.base_url}/v1beta/{path}" + (f"?{query}" if query else ""),
        headers=headers, body=body, meter_for=lambda streamed: GeminiMeter(streamed, model),
        return_headers=RETURN_HEADERS, error=error, settings=gateway.settings, grant=grant,
        metered=calling)
