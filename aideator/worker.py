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
    instead of leaving them to wait for its leases to expire."""

    _drain: Any = None

    def _service(self) -> Any:
        # Told to stop while still booting, the worker has no application yet.
        extensions = getattr(getattr(self, "wsgi", None), "extensions", None) or {}
        return extensions.get("aideator")

    def handle_exit(self, sig: int, frame: Any) -> None:
        import gevent
        service = self._service()
        if self.alive and service is not None and self._drain is None:
            self._drain = gevent.spawn(service.drain)
        super().handle_exit(sig, frame)

    def run(self) -> None:
        super().run()
        if self._drain is not None:   # finish the hand-over before the process ends
            self._drain.join(timeout=self.cfg.graceful_timeout)
