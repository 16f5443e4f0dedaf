"""What every model API route of the gateway does alike, whatever the vendor: refuse a call
past the variation's budget, send the request upstream with the service's key, relay the
answer as it arrives while a meter reads its usage, and record that usage, priced, once
the answer has ended. Each vendor's module keeps what differs: its paths, how its
credential arrives, its error format and how its usage reads (its meter)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from flask import Response, request

from ..ops import metrics
from ..store import usage
from . import credentials, inflight, prices, upstream
from .metering import Meter

log = logging.getLogger(__name__)

# The refusal's words, which the engines turn into ``limit_reached``.
BUDGET_EXHAUSTED = "aideator gateway: budget exhausted"


@dataclass(frozen=True)
class Upstream:
    """Where a vendor's API is, and the service's real credential for it (read from the
    service's environment by each vendor's module)."""
    base_url: str
    # The real credential; repr=False keeps it out of any log of this object.
    headers: Mapping[str, str] = field(repr=False)


def request_model(body: bytes) -> str | None:
    """The model a JSON request body names (Anthropic's and OpenAI's APIs put it there)."""
    if request.headers.get("content-encoding"):
        return None
    try:
        model = json.loads(body).get("model")
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


class Refusal(Exception):
    """A call the gateway does not pass on: ``status`` 401 (no valid credential) or 400
    (the variation's budget is spent), worded by the caller the way its API words one."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def admit(api: str, credential: str, settings: Any, calling: bool) -> credentials.Grant:
    """The variation ``credential`` stands for, if it may make this call; Refusal
    (counted) if not. ``calling``: a model call, which the budget covers (a listing of
    models is not)."""
    try:
        grant = credentials.verify(credential, settings)
    except credentials.Refused as exc:
        metrics.gateway_call(api, "unauthorized")
        raise Refusal(401, str(exc)) from None
    refusal = over_budget(api, grant) if calling else None
    if refusal:
        raise Refusal(400, refusal)
    return grant


def over_budget(api: str, grant: credentials.Grant) -> str | None:
    """Why this model call is refused (the variation's budget is spent: the refusal is
    counted), or None when it may go."""
    if grant.max_budget_usd is None:
        return None
    spent = usage.cost(grant.run_id, grant.variation)
    if spent < grant.max_budget_usd:
        return None
    usage.refuse(grant.run_id, grant.variation)
    metrics.gateway_call(api, "refused_budget")
    log.info("gateway: refused a %s call of variation %d of %s: $%.4f spent of $%.4f",
             api, grant.variation, grant.run_id, spent, grant.max_budget_usd)
    return (f"{BUDGET_EXHAUSTED}: this variation's model calls cost ${spent:.4f}, its "
            f"max_budget_usd is ${grant.max_budget_usd:.4f}")


def forward(api: str, *, method: str, url: str, headers: Mapping[str, str],
            body: bytes | None, meter_for: Callable[[bool], Meter],
            return_headers: Iterable[str], error: Callable[[int, str], Any],
            settings: Any, grant: credentials.Grant, metered: bool) -> Any:
    """Send the call upstream and relay its answer; ``meter_for(streamed)`` reads its usage,
    recorded when ``metered`` (a model call, not a listing) and the call succeeded."""
    headers = {**headers, "accept-encoding": "identity"}   # relayed as is: nothing to decode
    key = (grant.run_id, grant.variation)
    budgeted = metered and grant.max_budget_usd is not None
    cost: list[float | None] = []

    def release() -> None:   # once, however the call ends
        if budgeted and not cost:
            cost.append(None)
            inflight.leave(key, None)

    if budgeted:
        assert grant.max_budget_usd is not None
        if inflight.enter(key, grant.max_budget_usd,
                          lambda: usage.cost(grant.run_id, grant.variation)):
            refusal = over_budget(api, grant)   # spent by the calls it waited for
            if refusal:
                release()
                return error(400, refusal)
    try:
        response = upstream.send(method, url, headers=headers, body=body)
    except upstream.Unreachable as exc:
        release()
        metrics.gateway_call(api, "unreachable")
        log.warning("gateway: the %s API could not be reached: %s", api, exc)
        return error(502, "aideator gateway: the model API could not be reached")
    metrics.gateway_call(api, "ok" if response.status < 400 else "upstream_error")
    meter = meter_for("text/event-stream" in response.headers.get("content-type", ""))

    def ended(complete: bool) -> None:
        meter.finish()
        spent = None
        if metered and response.status < 400 and meter.seen:
            spent = record(settings, grant, meter)
        if budgeted and not cost:
            cost.append(spent)
            inflight.leave(key, spent)

    out = Response(upstream.relay(response, meter.feed, ended), status=response.status,
                   direct_passthrough=True)
    out.headers.clear()
    for name in return_headers:
        if name in response.headers:
            out.headers[name] = response.headers[name]
    out.headers["Cache-Control"] = "no-store"
    # Proxies in front of the service must not buffer the stream either.
    out.headers["X-Accel-Buffering"] = "no"
    out.call_on_close(release)   # a client gone before the body started
    return out


def record(settings: Any, grant: credentials.Grant, meter: Meter) -> float | None:
    """Store the call's usage; its cost (None when its model has no price)."""
    tokens = meter.tokens()
    price = prices.price(meter.model, settings.prices_file)
    cost = None if price is None else price.cost(tokens)
    try:
        usage.add(grant.run_id, grant.variation, tokens, cost)
    except Exception:  # noqa: BLE001 - the call went through; its record must not crash it
        log.exception("gateway: could not store the usage of a model call")
    metrics.gateway_usage(meter.model, tokens, cost)
    return cost
