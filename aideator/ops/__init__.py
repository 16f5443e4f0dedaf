"""Operations: how a process reports on itself (JSON ``logs``, Prometheus ``metrics`` and
their own port, ``tracing``) and the gunicorn ``worker`` class that drains on SIGTERM.
Imports only the foundation modules; gunicorn's master imports ``logs`` before forking."""
