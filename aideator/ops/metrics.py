"""Every Prometheus metric of the service (each name is defined here and nowhere else),
and the helpers that record them. ``GET /metrics`` is served on a port of its own by
gunicorn's master (``aideator.ops.metrics_server``), never by the API.

Labels only take values from small sets: statuses, failure reasons, Kubernetes verbs,
resources and HTTP codes, and model names (only those that look like one, at most
``MAX_MODELS`` per process). Never a run id, a prompt or a URL.

Several gunicorn workers: prometheus_client's multiprocess mode. Each worker writes its
values to files in ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py makes a private one when
it is unset, and forgets a dead worker's live gauges), and the master's listener sums
them all on each scrape. Several replicas: each pod is scraped on its own, and each count
is made once, by the process that did the work (a run's owner counts its runs, variations
and agent results; a client's server counts its events), so sums over pods are right.
"""
from __future__ import annotations

import bisect
import re
from typing import Any, Mapping

import gevent
from prometheus_client import Counter, Gauge, Histogram

RUNS_SUBMITTED = Counter("aideator_runs_submitted", "Runs created (POST /runs).")
RUNS_FINISHED = Counter("aideator_runs_finished", "Runs that ended, by final status.",
                        ["status"])
VARIATIONS_FINISHED = Counter(
    "aideator_variations_finished",
    "Variations that ended, by outcome (succeeded, failed, cancelled) and reason "
    "(none when it succeeded).", ["outcome", "reason"])
AGENT_TURNS = Counter("aideator_agent_turns", "Agent turns (from the agents' result lines), "
                      "by model.", ["model"])
AGENT_TOKENS = Counter("aideator_agent_tokens", "Model tokens the agents used (from their "
                       "result lines), by model and kind.", ["model", "kind"])
AGENT_COST = Counter("aideator_agent_cost_usd", "What the agents' model calls cost in US "
                     "dollars (from their result lines), by model.", ["model"])
GATEWAY_CALLS = Counter(
    "aideator_gateway_calls",
    "Requests to the model gateway, by upstream (anthropic, git) and outcome (ok, "
    "upstream_error, unreachable, unauthorized, refused, refused_budget).",
    ["upstream", "outcome"])
GATEWAY_TOKENS = Counter("aideator_gateway_tokens", "Model tokens metered by the gateway, "
                         "by model and kind.", ["model", "kind"])
GATEWAY_COST = Counter("aideator_gateway_cost_usd", "What the model calls through the "
                       "gateway cost in US dollars (priced calls only), by model.",
                       ["model"])
GATEWAY_UNPRICED = Counter("aideator_gateway_unpriced_calls", "Model calls through the "
                           "gateway to a model with no known price, by model.", ["model"])
FIRST_OUTPUT = Histogram(
    "aideator_first_output_seconds",
    "Seconds from POST /runs to a variation's first output line, by runtime.", ["runtime"],
    buckets=(0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800))
RUNS_DELETED = Counter("aideator_runs_deleted", "Runs deleted with everything kept about "
                       "them, by reason (request: DELETE /runs/{id}; retention).",
                       ["reason"])
SSE_CLIENTS = Gauge("aideator_sse_clients", "SSE clients connected.",
                    multiprocess_mode="livesum")
EVENTS_STORED = Counter("aideator_events_stored", "Events committed to the event log.")
EVENTS_SENT = Counter("aideator_events_sent",
                      "Events sent to SSE clients, by where they were read (window: this "
                      "process's memory; store: the database).", ["source"])
DELIVERY_LAG = Histogram(
    "aideator_delivery_lag_seconds",
    "Seconds from an output line being read to it being sent to an SSE client (clients "
    "of the process that reads the run's output).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
KUBE_REQUESTS = Counter("aideator_kube_requests",
                        "Kubernetes API requests, by verb, resource and HTTP status (none: "
                        "no answer).", ["verb", "resource", "code"])
KUBE_LATENCY = Histogram("aideator_kube_request_seconds",
                         "Seconds a Kubernetes API request took (streams: until the answer "
                         "began), by verb and resource.", ["verb", "resource"])
DB_WRITE = Histogram(
    "aideator_db_write_batch_seconds",
    "Seconds one event log commit took (a batch of events and state changes).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

# Failure reasons (the runtimes' classification, aideator.runtimes.base.CAUSES).
REASONS = frozenset({"image_pull", "unschedulable", "oom", "deadline", "exit_code",
                     "killed", "cancelled", "deleted", "create_failed", "start_failed",
                     "lost", "internal", "no_model_key", "pids", "disk", "other"})
TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
               "cache_read_input_tokens")
MAX_MODELS = 50
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,79}")
_models: set[str] = set()


def model_label(model: Any) -> str:
    """The model as a label: itself if it looks like a model name and fewer than
    MAX_MODELS have been seen here, else ``other``."""
    if not isinstance(model, str) or not _MODEL.fullmatch(model):
        return "other"
    if model not in _models:
        if len(_models) >= MAX_MODELS:
            return "other"
        _models.add(model)
    return model


def _amount(value: Any) -> float:
    """A non-negative number from an agent's line, else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return 0.0
    return max(float(value), 0.0)


def variation_finished(outcome: str, cause: str) -> None:
    reason = "none" if outcome == "succeeded" else \
        "cancelled" if outcome == "cancelled" else cause if cause in REASONS else "other"
    VARIATIONS_FINISHED.labels(outcome, reason).inc()


def agent_result(model: Any, result: Mapping[str, Any]) -> None:
    """What an agent's ``result`` line says it used."""
    label = model_label(model)
    AGENT_TURNS.labels(label).inc(_amount(result.get("num_turns")))
    AGENT_COST.labels(label).inc(_amount(result.get("total_cost_usd")))
    usage = result.get("usage")
    if isinstance(usage, Mapping):
        for kind in TOKEN_KINDS:
            amount = _amount(usage.get(kind))
            if amount:
                AGENT_TOKENS.labels(label, kind.removesuffix("_tokens")).inc(amount)


GATEWAY_OUTCOMES = frozenset({"ok", "upstream_error", "unreachable", "unauthorized",
                              "refused", "refused_budget"})


def gateway_call(upstream: str, outcome: str) -> None:
    GATEWAY_CALLS.labels(upstream, outcome if outcome in GATEWAY_OUTCOMES else "other").inc()


def gateway_usage(model: Any, tokens: Mapping[str, int], cost_usd: float | None) -> None:
    """One model call's metered usage (``cost_usd`` None: the model has no price)."""
    label = model_label(model)
    for kind in TOKEN_KINDS:
        if tokens.get(kind):
            GATEWAY_TOKENS.labels(label, kind.removesuffix("_tokens")).inc(tokens[kind])
    if cost_usd is None:
        GATEWAY_UNPRICED.labels(label).inc()
    elif cost_usd > 0:
        GATEWAY_COST.labels(label).inc(cost_usd)


# Sends are the hottest path (every chunk to every SSE client): they add up in memory, and
# the sums reach the shared values within SENT_FLUSH_SECONDS (the master
# reads the files, so a scrape shows them at most that late).
SENT_FLUSH_SECONDS = 1.0
_sent: dict[str, int] = {}
_lag_counts = [0] * len(DELIVERY_LAG._upper_bounds)
_lag_sum = 0.0
_sent_timer: gevent.Greenlet | None = None


def events_sent(count: int, source: str, lag: float | None = None, clients: int = 1) -> None:
    """``count`` events sent to ``clients`` clients in all; ``lag``: since the first of
    them was read (the same for each of those clients)."""
    global _lag_sum, _sent_timer
    _sent[source] = _sent.get(source, 0) + count
    if lag is not None:
        _lag_counts[bisect.bisect_left(DELIVERY_LAG._upper_bounds, lag)] += clients
        _lag_sum += max(lag, 0.0) * clients
    if _sent_timer is None:
        _sent_timer = gevent.spawn_later(SENT_FLUSH_SECONDS, flush_sent)


def flush_sent() -> None:
    """Add what was sent since the last flush to the shared values."""
    global _sent, _lag_counts, _lag_sum, _sent_timer
    if _sent_timer is not None and _sent_timer is not gevent.getcurrent():
        _sent_timer.kill(block=False)
    sent, counts, total = _sent, _lag_counts, _lag_sum
    _sent, _lag_counts, _lag_sum, _sent_timer = {}, [0] * len(counts), 0.0, None
    for source, count in sent.items():
        EVENTS_SENT.labels(source).inc(count)
    if any(counts):
        # Histogram.observe, for many observations at once (per bucket, not cumulative).
        DELIVERY_LAG._sum.inc(total)
        for bucket, count in zip(DELIVERY_LAG._buckets, counts):
            if count:
                bucket.inc(count)


def kube_request(verb: str, resource: str, code: int, seconds: float) -> None:
    KUBE_REQUESTS.labels(verb, resource, str(code) if code else "none").inc()
    KUBE_LATENCY.labels(verb, resource).observe(seconds)
