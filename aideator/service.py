"""The parts of the service that outlive a request, wired together once per process."""
from __future__ import annotations

import logging

from .config import Settings
from .eventlog import EventLog
from .fanout import Fanout
from .orchestrator import Orchestrator
from .runtimes import create_runtime

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fanout = Fanout(settings.fanout_window)
        self.log = EventLog(self.fanout, settings.flush_interval_seconds)
        self.runtime = create_runtime(settings)
        self.orchestrator = Orchestrator(runtime=self.runtime, log=self.log,
                                         fanout=self.fanout)

    def resume(self) -> None:
        """Re-attach to runs an earlier process left unfinished (call once, at start)."""
        count = self.orchestrator.recover()
        if count:
            log.info("resumed %d unfinished run(s)", count)
