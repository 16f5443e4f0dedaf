"""gunicorn settings: one gevent worker serves every SSE client of this process.

One worker on purpose: a run's collectors and its in-memory fan-out live in the process
that started it, and SQLite wants a single writer. gevent gives that worker thousands of
concurrent connections. Every value can be overridden with GUNICORN_CMD_ARGS.
"""
import os

# Loopback by default: the API has no authentication. The container image listens on
# 0.0.0.0 (AIDEATOR_BIND in the Dockerfile and the chart).
bind = os.environ.get("AIDEATOR_BIND", "127.0.0.1:8000")
worker_class = "gevent"
workers = 1
worker_connections = int(os.environ.get("AIDEATOR_WORKER_CONNECTIONS", "2000"))
# SSE responses are long: the timeout only guards the worker's heartbeat.
timeout = 60
graceful_timeout = 10
keepalive = 75
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
# The runtime control socket is not used, and two instances would fight over its path.
control_socket_disable = True
