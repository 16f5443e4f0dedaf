"""gunicorn settings: gevent workers, each serving thousands of SSE clients.

In the package so that an installed copy can serve too (the ``aideator`` command starts
the embedded service with ``gunicorn -c <this file> 'aideator:served_app()'``); the repository's
``gunicorn.conf.py`` is a thin wrapper over it (the image, the chart and the tests use that).

Every worker is a full peer (see ``aideator.service``): it serves any run and collects the
runs whose lease it holds, so AIDEATOR_WORKERS may be raised on one machine (SQLite or
PostgreSQL), and several such servers may share one PostgreSQL database. Every value can
be overridden with GUNICORN_CMD_ARGS.
"""
import glob
import ipaddress
import os
import shutil
import tempfile

from aideator.config import load_settings
from aideator.ops import logs

_settings = load_settings()


def _check_open_bind(address: str) -> None:
    """Refuse to serve without access control anywhere but loopback: whoever reaches the
    port could spend the Anthropic budget and read every transcript."""
    if _settings.auth != "off" or _settings.insecure_allow_no_auth:
        return
    host = address.rpartition(":")[0].strip("[]") if ":" in address else address
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or address.startswith("unix:")
    if not loopback:
        raise SystemExit(f"refusing to listen on {address} with AIDEATOR_AUTH=off: set "
                         f"AIDEATOR_AUTH=required (and AIDEATOR_ADMIN_TOKEN), or bind to "
                         f"127.0.0.1, or set AIDEATOR_INSECURE_ALLOW_NO_AUTH=1 to force it")


# Loopback by default, where access control may stay off (`make run`). The container image
# listens on 0.0.0.0 with AIDEATOR_AUTH=required (the Dockerfile and the chart).
bind = os.environ.get("AIDEATOR_BIND", "127.0.0.1:8000")


def on_starting(server):
    # The final addresses: -b and GUNICORN_CMD_ARGS may have replaced the one above.
    try:
        for address in server.cfg.bind:
            _check_open_bind(address)
    except SystemExit:
        on_exit(server)
        raise
    _clear_metrics_dir()


# Drains on SIGTERM (hands its runs over). A name, imported by the master before it forks:
# aideator.ops.worker imports nothing heavy (no database driver before gevent patches).
worker_class = "aideator.ops.worker.DrainingGeventWorker"
workers = int(os.environ.get("AIDEATOR_WORKERS", "1"))
worker_connections = _settings.worker_connections
# SSE responses are long: the timeout only guards the worker's heartbeat.
timeout = 60
graceful_timeout = 10
keepalive = 75
# Every line the server writes goes through aideator.ops.logs (JSON, or text on a terminal):
# gunicorn's own messages and the access log too. The access log never holds the raw
# request line: its query may carry a stream token.
loglevel = _settings.log_level
logconfig_dict = logs.logconfig(_settings.log_format, _settings.log_level)
accesslog = "-"
# The path without its query: a stream link's query carries a token (aideator.ops.logs writes
# the access line from its parts, the query with its secrets taken out).
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
# The runtime control socket is not used, and two instances would fight over its path.
control_socket_disable = True


# Metrics of several workers (prometheus_client's multiprocess mode): every worker writes
# its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape of any of them sums them all.
# Unset, a private directory is made here (and removed on exit), before any worker starts.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_private_metrics_dir = not _metrics_dir
if _private_metrics_dir:
    _metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="aideator-metrics-")


def _clear_metrics_dir():
    # A directory given from outside may hold an earlier server's values: start from zero.
    for path in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(path)


def child_exit(server, worker):
    # Imported here: the master needs it only once a worker has gone.
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid, _metrics_dir)


# GET /metrics on a port of its own (aideator/ops/metrics_server.py), served by this master
# process from every worker's files: never on the public API port.
_metrics_server = None


def when_ready(server):
    global _metrics_server
    if _settings.metrics_port:
        from aideator.ops import metrics_server
        _metrics_server = metrics_server.start(
            _settings.metrics_port, metrics_server.host_of(server.cfg.bind[0]), _metrics_dir)


def on_exit(server):
    if _metrics_server is not None:
        _metrics_server.shutdown()
    if _private_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
