"""``GET /metrics`` on a port of its own (``AIDEATOR_METRICS_PORT``), served by gunicorn's
master process, never on the public API port.

The API port is what an Ingress routes to the world; metrics say how many runs, what they
cost and which models are used, which is for Prometheus, not for anyone who can reach the
API. On its own port, the chart's Service exposes it to the cluster (and its scrape
annotations name it) while the Ingress routes only the API.

Every worker already writes its values to files (prometheus_client's multiprocess mode,
see ``aideator.ops.metrics``); the master reads and sums them on each scrape, so one listener
serves the whole server however many workers it has, stays up while a worker restarts,
and answers while every worker is busy with streams. This module runs in the master: it
imports prometheus_client and the standard library only (no gevent, no database driver
before the workers patch).
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def host_of(bind: str) -> str:
    """The host of a gunicorn bind address (``HOST:PORT``, ``[::1]:PORT``, ``unix:...``):
    metrics listen on the same interface as the API (loopback by default)."""
    if bind.startswith(("unix:", "fd://")):
        return "127.0.0.1"
    host = bind.rpartition(":")[0] if ":" in bind else bind
    return host.strip("[]") or "0.0.0.0"


def start(port: int, host: str, multiprocess_dir: str) -> Any:
    """Serve the sum of every worker's metrics on ``host:port`` from a thread of this
    process; returns the server (``shutdown()`` stops it), or None when it cannot listen
    (logged: the API goes on without metrics rather than not at all)."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.error("metrics: cannot listen on %s:%d (%s); set AIDEATOR_METRICS_PORT to a "
                  "free port (0: no metrics)", host, port, exc)
        return None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
