"""The OpenAI Responses API through the gateway (what the Codex CLI speaks): the agent's
credential in, the service's real key out, the stream relayed as it arrives, its usage
metered from ``response.completed`` and priced, the variation's budget enforced before
each call.

Upstream: ``AIDEATOR_OPENAI_URL`` (default https://api.openai.com/v1) with the service's
``OPENAI_API_KEY`` as ``Authorization: Bearer``, read from the service's environment once.
Only ``POST /responses`` and ``GET /models`` pass (under ``/gateway/openai/v1``); anything
else is a 404. Only the headers the API needs are forwarded, never the agent's credential
(which arrives as the OpenAI client's own ``Authorization: Bearer``).
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from flask import current_app, jsonify, request

from . import relay
from .metering import Meter


DEFAULT_BASE_URL = "https://api.openai.com/v1"
FORWARD_HEADERS = ("content-type", "accept", "content-encoding", "openai-beta")
RETURN_HEADERS = ("content-type", "content-encoding", "x-request-id", "retry-after",
                  "openai-processing-ms", "x-ratelimit-limit-requests",
                  "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens",
                  "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests",
                  "x-ratelimit-reset-tokens")
# What a refusal for the budget says: the agent recognises it (agent/engines/codex.py).
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
               404: "invalid_request_error", 502: "server_error"}
ERROR_CODES = {401: "invalid_api_key", 404: "not_found"}


def upstream(environ: Mapping[str, str] | None = None) -> relay.Upstream:
    environ = os.environ if environ is None else environ
    base = (environ.get("AIDEATOR_OPENAI_URL") or DEFAULT_BASE_URL).rstrip("/")
    key = environ.get("OPENAI_API_KEY")
    # Without a key the upstream answers 401, which the agent reports.
    return relay.Upstream(base, {"authorization": f"Bearer {key}"} if key else {})


def error(status: int, message: str) -> Any:
    """An error the way the OpenAI API words one, so the engine reports it as such."""
    return jsonify({"error": {"message": message,
                              "type": ERROR_TYPES.get(status, "server_error"),
                              "param": None, "code": ERROR_CODES.get(status)}}), status


def _credential() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def proxy(method: str, path: str) -> Any:
    """Forward ``path`` (``/responses`` or ``/models``) to the upstream API."""
    gateway = current_app.extensions["aideator.gateway"]
    calling = path == "/responses"
    try:
        grant = relay.admit("openai", _credential(), gateway.settings, calling)
    except relay.Refusal as refusal:
        return error(refusal.status, str(refusal))
    body = request.get_data(cache=False) if method == "POST" else None
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_HEADERS}
    headers.update(gateway.openai.headers)
    query = request.query_string.decode("latin-1")
    return relay.forward(
        "openai", method=method,
        url=gateway.openai.base_url + path + (f"?{query}" if query else ""),
        headers=headers, body=body,
        meter_for=lambda streamed: Meter(streamed, relay.request_model(body or b""), api="openai"),
        return_headers=RETURN_HEADERS, error=error, settings=gateway.settings, grant=grant,
        metered=calling)
