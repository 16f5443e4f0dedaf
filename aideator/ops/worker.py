"""The gunicorn worker class of the service (``worker_class`` in gunicorn.conf.py), kept in
the package the way uvicorn ships its workers.

gunicorn's master imports this module before it forks the workers, so it must import
nothing heavy: importing the service here would import the PostgreSQL driver before gevent
patches the workers (its waits would then block them). Only gunicorn's own GeventWorker at
the top; gevent inside the methods, which run in a worker.
"""
from __future__ import annotations

from typing import Any

from gunicorn.workers.ggevent import GeventWorker


class DrainingGeventWorker(GeventWorker):
    """A gevent worker that, told to stop (SIGTERM: a rolling update, a scale-down), fails
    readiness, hands its runs over to the other replicas at once and ends its streams,
    instead of leaving them to wait for its leases to expire.

    It also lets go of idle keep-alive connections at once: gunicorn waits for every open
    connection before a worker exits, and one waiting for its next request (a browser's,
    a proxy's) would otherwise hold the stop up for the whole graceful timeout."""

    _drain: Any = None
    _clients: Any = None

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        if self._clients is None:
            import weakref
            self._clients = weakref.WeakSet()
        self._clients.add(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self._clients.discard(client)

    def _service(self) -> Any:
        # Told to stop while still booting, the worker has no application yet.
        extensions = getattr(getattr(self, "wsgi", None), "extensions", None) or {}
        return extensions.get("aideator")

    def handle_exit(self, sig: int, frame: Any) -> None:
        import gevent
        service = self._service()
        if self.alive and service is not None and self._drain is None:
            self._drain = gevent.spawn(self._drain_then_let_go, service)
        super().handle_exit(sig, frame)

    def _drain_then_let_go(self, service: Any) -> None:
        import socket
        service.drain()   # streams end here
        # No more requests are read: a connection waiting for one sees its end now (a
        # response being written still goes out whole).
        for client in list(self._clients or ()):
            try:
                client.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def run(self) -> None:
        super().run()
        if self._drain is not None:   # finish the hand-over before the process ends
            self._drain.join(timeout=self.cfg.graceful_timeout)
