"""The Anthropic Messages API through the gateway: the agent's credential in, the service's
real key out, the response streamed back as it arrives, its usage metered and priced, and
the variation's budget enforced before each call.

Upstream: the service's own ``ANTHROPIC_BASE_URL`` (default https://api.anthropic.com)
with its ``ANTHROPIC_API_KEY`` (``x-api-key``) or ``ANTHROPIC_AUTH_TOKEN`` (bearer), read
from the service's environment once. Only the endpoints Claude Code needs pass:
``POST /v1/messages`` and ``POST /v1/messages/count_tokens``; everything else is a 404.
Only the headers the API needs are forwarded; never the agent's credential.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from flask import current_app, jsonify, request

from . import relay
from .metering import Meter


DEFAULT_BASE_URL = "https://api.anthropic.com"
FORWARD_HEADERS = ("anthropic-version", "anthropic-beta", "content-type", "accept",
                   "content-encoding")
RETURN_HEADERS = ("content-type", "content-encoding", "request-id", "retry-after",
                  "x-should-retry", "anthropic-ratelimit-requests-limit",
                  "anthropic-ratelimit-requests-remaining",
                  "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               404: "not_found_error", 502: "api_error"}


def upstream(environ: Mapping[str, str] | None = None) -> relay.Upstream:
    environ = os.environ if environ is None else environ
    base = (environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if environ.get("ANTHROPIC_API_KEY"):
        headers = {"x-api-key": environ["ANTHROPIC_API_KEY"]}
    elif environ.get("ANTHROPIC_AUTH_TOKEN"):
        headers = {"authorization": f"Bearer {environ['ANTHROPIC_AUTH_TOKEN']}"}
    else:
        headers = {}   # the upstream will answer 401, which the agent reports
    return relay.Upstream(base, headers)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Any:
    """An error the way the Messages API words one, so the engine reports it as such."""
    response = jsonify({"type": "error", "error": {
        "type": ERROR_TYPES.get(status, "api_error"), "message": message}})
    response.headers.update(headers or {})
    return response, status


def _credential() -> str:
    key = request.headers.get("x-api-key", "")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def proxy(path: str) -> Any:
    """Forward ``path`` (``/v1/messages`` or ``/v1/messages/count_tokens``)."""
    gateway = current_app.extensions["aideator.gateway"]
    calling = path == "/v1/messages"
    try:
        grant = relay.admit("anthropic", _credential(), gateway.settings, calling)
    except relay.Refusal as refusal:
        return error(refusal.status, str(refusal))
    body = request.get_data(cache=False)
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_HEADERS}
    headers.update(gateway.anthropic.headers)
    query = request.query_string.decode("latin-1")
    return relay.forward(
        "anthropic", method="POST",
        url=gateway.anthropic.base_url + path + (f"?{query}" if query else ""),
        headers=headers, body=body,
        meter_for=lambda streamed: Meter(streamed, relay.request_model(body)),
        return_headers=RETURN_HEADERS, error=error, settings=gateway.settings, grant=grant,
        metered=calling)
