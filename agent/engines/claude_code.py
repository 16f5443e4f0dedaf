"""Claude Code, through ``claude-agent-sdk`` (which bundles the CLI): see ``agent/run.py``."""
from __future__ import annotations

from typing import Any

from .. import run as _run
from ..config import Settings
from ..outcome import Outcome
from ..output import Emitter

NAME = "claude-code"


def info() -> dict[str, Any]:
    import claude_agent_sdk
    try:  # where the SDK records its bundled CLI's version; not a public name
        from claude_agent_sdk._cli_version import __cli_version__ as cli_version
    except ImportError:
        cli_version = None
    return {"name": NAME, "version": cli_version,
            "sdk": f"claude-agent-sdk {claude_agent_sdk.__version__}"}


def report(settings: Settings) -> dict[str, Any]:
    """Applied vs. accepted-but-ignored knobs, for the first ``status`` line."""
    applied: dict[str, Any] = {"model": settings.model, "max_turns": settings.max_turns,
                               "tools": settings.tools}
    for name in ("max_budget_usd", "effort", "max_thinking_tokens"):
        value = getattr(settings, name)
        if value is not None:
            applied[name] = value
    not_applied: dict[str, Any] = {}
    if settings.temperature is not None:
        not_applied["temperature"] = {
            "value": settings.temperature,
            "reason": "Claude Code has no temperature setting; the value is accepted "
                      "and recorded but does not change sampling"}
    return {"applied": applied, "not_applied": not_applied}


async def run(settings: Settings, emitter: Emitter) -> Outcome:
    return await _run.run(settings, emitter)
