"""The event path: the SSE vocabulary (``events``, ``sse``), the append-only ``eventlog``,
the in-process ``fanout`` with ``direct`` socket writes, and the cross-replica wake-up
(``notify``) and feed (``mirror``). Imports ``store`` and ``ops``, never the API or a run."""
