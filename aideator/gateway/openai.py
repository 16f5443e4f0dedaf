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

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from flask import Response, current_app, jsonify, request

from .. import metrics, usage
from . import credentials, prices, upstream
from .metering import Meter

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
FORWARD_HEADERS = ("content-type", "accept", "content-encoding", "openai-beta")
RETURN_HEADERS = ("content-type", "content-encoding", "x-request-id", "retry-after",
                  "openai-processing-ms", "x-ratelimit-limit-requests",
                  "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens",
                  "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests",
                  "x-ratelimit-reset-tokens")
# What a refusal for the budget says: the agent recognises it (agent/engines/codex.py).
BUDGET_EXHAUSTED = "aideator gateway: budget exhausted"
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
               404: "invalid_request_error", 502: "server_error"}
ERROR_CODES = {401: "invalid_api_key", 404: "not_found"}


@dataclass(frozen=True)
class Upstream:
    base_url: str
    # The real credential; repr=False keeps it out of any log of this object.
    headers: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Upstream":
        environ = os.environ if environ is None else environ
        base = (environ.get("AIDEATOR_OPENAI_URL") or DEFAULT_BASE_URL).rstrip("/")
        key = environ.get("OPENAI_API_KEY")
        # Without a key the upstream answers 401, which the agent reports.
        return cls(base, {"authorization": f"Bearer {key}"} if key else {})


def error(status: int, message: str) -> Any:
    """An error the way the OpenAI API words one, so the engine reports it as such."""
    return jsonify({"error": {"message": message,
                              "type": ERROR_TYPES.get(status, "server_error"),
                              "param": None, "code": ERROR_CODES.get(status)}}), status


def _credential() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _request_model(body: bytes) -> str | None:
    if request.headers.get("content-encoding"):
        return None
    try:
        model = json.loads(body).get("model")
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def proxy(method: str, path: str) -> Any:
    """Forward ``path`` (``/responses`` or ``/models``) to the upstream API."""
    gateway = current_app.extensions["aideator.gateway"]
    try:
        grant = credentials.verify(_credential(), gateway.settings)
    except credentials.Refused as exc:
        metrics.gateway_call("openai", "unauthorized")
        return error(401, str(exc))
    calling = path == "/responses"
    if calling and grant.max_budget_usd is not None:
        spent = usage.cost(grant.run_id, grant.variation)
        if spent >= grant.max_budget_usd:
            usage.refuse(grant.run_id, grant.variation)
            metrics.gateway_call("openai", "refused_budget")
            log.info("gateway: refused a model call of variation %d of %s: $%.4f spent of "
                     "$%.4f", grant.variation, grant.run_id, spent, grant.max_budget_usd)
            return error(400, f"{BUDGET_EXHAUSTED}: this variation's model calls cost "
                              f"${spent:.4f}, its max_budget_usd is "
                              f"${grant.max_budget_usd:.4f}")
    body = request.get_data(cache=False) if method == "POST" else None
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_HEADERS}
    headers.update(gateway.openai.headers)
    headers["accept-encoding"] = "identity"   # relayed as is: nothing to decode
    query = request.query_string.decode("latin-1")
    url = gateway.openai.base_url + path + (f"?{query}" if query else "")
    try:
        response = upstream.send(method, url, headers=headers, body=body)
    except upstream.Unreachable as exc:
        metrics.gateway_call("openai", "unreachable")
        log.warning("gateway: the OpenAI API could not be reached: %s", exc)
        return error(502, "aideator gateway: the model API could not be reached")
    metrics.gateway_call("openai", "ok" if response.status < 400 else "upstream_error")
    streamed = "text/event-stream" in response.headers.get("content-type", "")
    meter = Meter(streamed, _request_model(body or b""), api="openai")

    def ended(complete: bool) -> None:
        meter.finish()
        if calling and response.status < 400 and meter.seen:
            _record(gateway, grant, meter)

    out = Response(upstream.relay(response, meter.feed, ended), status=response.status,
                   direct_passthrough=True)
    out.headers.clear()
    for name in RETURN_HEADERS:
        if name in response.headers:
            out.headers[name] = response.headers[name]
    out.headers["Cache-Control"] = "no-store"
    out.headers["X-Accel-Buffering"] = "no"
    return out


def _record(gateway: Any, grant: credentials.Grant, meter: Meter) -> None:
    tokens = meter.tokens()
    price = prices.price(meter.model, gateway.settings.prices_file)
    cost = None if price is None else price.cost(tokens)
    try:
        usage.add(grant.run_id, grant.variation, tokens, cost)
    except Exception:  # noqa: BLE001 - the call went through; its record must not crash it
        log.exception("gateway: could not store the usage of a model call")
    metrics.gateway_usage(meter.model, tokens, cost)
