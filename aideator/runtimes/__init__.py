"""Where variations run. Each runtime turns one variation into a stream of observations
(waiting, started, output lines with a resume cursor, exited); collectors turn those into
events. Runtimes never touch the database or the event log: besides the engines a variation
can run (``engines``), they import only ``egress`` (the setup's proxy), ``ops`` and the agent."""
from __future__ import annotations

from typing import Any, Callable

from ..config import Settings
from .base import Runtime


def create_runtime(settings: Settings, *,
                   gateway_app: Callable[..., Any] | None = None) -> Runtime:
    """The configured runtime; ``gateway_app`` is the gateway-only WSGI app the local
    runtime serves to its sandboxes (see ``bridge``)."""
    if settings.runtime == "local":
        from .local import LocalRuntime
        return LocalRuntime(settings, gateway_app=gateway_app)
    if settings.runtime == "kubernetes":
        # Imported here: only this runtime needs the kubernetes client.
        from .kubernetes import KubernetesRuntime
        return KubernetesRuntime(settings)
    raise ValueError(f"runtime {settings.runtime!r} is not available yet")
