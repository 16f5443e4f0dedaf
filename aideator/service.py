"""The parts of the service that outlive a request, wired together once per process.

Each process (a replica, or one gunicorn worker of several) is a peer: it serves any run's
requests and streams, collects the runs whose lease it holds, and takes over the runs of
peers that are gone.
"""
from __future__ import annotations

import logging

from .config import Settings
from .gateway import create_app as create_gateway_app
from .gateway import credentials
from .runs.deletion import Retention
from .runs.orchestrator import Orchestrator
from .runtimes import create_runtime
from .store.models import is_postgres
from .store.ownership import Leases, replica_id
from .stream.eventlog import EventLog
from .stream.fanout import Fanout
from .stream.mirror import Mirror
from .stream.notify import Listener

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.replica = replica_id(settings.replica_name)
        self.leases = Leases(self.replica, settings.lease_seconds)
        self.fanout = Fanout(settings.fanout_window)
        self.event_log = EventLog(self.fanout, settings.flush_interval_seconds, leases=self.leases)
        self.mirror = Mirror(self.fanout, settings.store_poll_seconds)
        self.runtime = create_runtime(settings, gateway_app=create_gateway_app(settings))
        self.orchestrator = Orchestrator(
            runtime=self.runtime, event_log=self.event_log, fanout=self.fanout,
            leases=self.leases,
            issue_token=lambda run_id, index: credentials.issue(run_id, index, settings))
        self.listener = Listener(database_url, on_events=self.fanout.poke,
                                 on_control=self._on_control,
                                 on_reconnect=self._on_reconnect) if is_postgres() else None
        self.retention = Retention(settings.retention_days,
                                   settings.retention_check_seconds, self.runtime)
        self.draining = False

    def resume(self) -> None:
        """Start taking part: listen for other replicas, take over runs left without a
        live owner (an earlier process's, after a restart), keep the leases (call once)."""
        if self.listener is not None:
            self.listener.start()
        self.orchestrator.start()
        self.retention.start()
        log.info("replica %s started", self.replica)

    def drain(self) -> None:
        """Shutting down: fail readiness, hand every run over, end every stream."""
        if self.draining:
            return
        self.draining = True
        self.retention.stop()
        runs = self.orchestrator.hand_over()
        log.info("replica %s handed %d run(s) over", self.replica, len(runs))
        self.fanout.close_all()
        if self.listener is not None:
            self.listener.stop()

    def _on_control(self, message: str) -> None:
        command, _, _ = message.partition(" ")
        self.orchestrator.wake(scan=command == "released")

    def _on_reconnect(self) -> None:
        # Notifications may have been missed meanwhile.
        self.fanout.poke_all()
        self.orchestrator.wake(scan=True)
