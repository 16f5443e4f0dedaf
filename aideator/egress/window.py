"""Kubernetes: who may use the egress proxy, and until when.

Each agent pod runs its own setup, reaching the proxy through the service (the agents'
NetworkPolicy allows only the API pods' port and DNS, so the proxy is served on that
port, see ``wsgi.py``). The pod's only credential is its variation's gateway credential,
which the model holds too (it is its model key); so the credential alone cannot close the
proxy to the model. The service closes it instead: a credential opens the proxy only while
its variation has a setup and has not reported that setup's end (``setup_finished``,
stored by the collector as ``Variation.setup.passed``), and not after the variation ended.
Open tunnels are checked again every few seconds (``proxy.RECHECK_SECONDS``) and cut when
the window has closed.

What is left (stated in the README): the time between the agent printing
``setup_finished`` and the collector storing it (the pod log's latency, usually under a
second, before the model has made its first call), during which a process the setup left
running could still open a connection.
"""
from __future__ import annotations

from ..config import Settings
from ..gateway import credentials
from ..store.models import Variation, connection
from .proxy import Authorize


def authorizer(settings: Settings) -> Authorize:
    def authorize(credential: str | None) -> bool:
        if not credential:
            return False
        try:
            grant = credentials.verify(credential, settings)
        except credentials.Refused:
            return False
        with connection():
            row = (Variation.select(Variation.setup)
                   .where((Variation.run == grant.run_id)
                          & (Variation.index == grant.variation)).first())
        setup = row.setup if row is not None else None
        return bool(setup) and setup.get("passed") is None
    return authorize
