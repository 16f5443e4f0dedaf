"""Runs Claude Code on the clone through claude-agent-sdk and reports how it ended.

Only file tools are available (the PRD rules out executing code), nothing is read from
settings files in the repo (project settings can define hooks, which run commands), and
the CLI is told not to phone home: it talks to the model API and nothing else.
"""
from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import (ClaudeAgentOptions, ClaudeSDKError, HookMatcher,
                              ResultError, query)

from . import guard
from .config import Settings
from .output import Emitter
from .translate import Translator

TOOLS = ["Read", "Glob", "Grep", "Edit", "Write"]
# Named as well as left out of TOOLS: if a CLI version adds one of these to the base
# set, the deny list still wins.
BLOCKED_TOOLS = ["Bash", "BashOutput", "KillShell", "KillBash", "WebFetch", "WebSearch",
                 "Task", "Agent", "NotebookEdit", "TodoWrite", "Skill", "SlashCommand",
                 "ExitPlanMode", "MultiEdit"]

CLI_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    "CLAUDE_CODE_DISABLE_AUTO_MEMORY": "1",
    # The CLI silently swaps older model names for newer ones; a variation asked for a
    # specific model, so it gets that model (or the API's error for it).
    "CLAUDE_CODE_DISABLE_LEGACY_MODEL_REMAP": "1",
}

SYSTEM_APPEND = (
    "You are running unattended inside AIdeator: nobody will answer questions. "
    "Work only in the current repository. You can read, search and edit files, but you "
    "cannot run commands. Make the requested change directly in the files, then reply with "
    "a short summary of what you changed.")

LIMIT_SUBTYPES = {"error_max_turns", "error_max_budget_usd"}
# How the service's model gateway words a call it refused because the variation's budget
# is spent (aideator/gateway/anthropic.py): a limit reached, not a model failure.
GATEWAY_BUDGET = "aideator gateway: budget exhausted"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: str | None = None        # the protocol error code when not ok
    message: str = ""
    detail: dict[str, Any] | None = None

    @property
    def has_work(self) -> bool:
        """Whether the clone may hold changes worth a diff."""
        return self.ok or self.code == "limit_reached"


def options(settings: Settings, emitter: Emitter) -> ClaudeAgentOptions:
    thinking: Any = None
    if settings.max_thinking_tokens == 0:
        thinking = {"type": "disabled"}
    elif settings.max_thinking_tokens is not None:
        thinking = {"type": "enabled", "budget_tokens": settings.max_thinking_tokens}
    return ClaudeAgentOptions(
        cwd=settings.clone_dir,
        model=settings.model,
        tools=list(TOOLS),
        allowed_tools=list(TOOLS),
        disallowed_tools=list(BLOCKED_TOOLS),
        # Anything not pre-approved above is denied instead of waiting for a prompt.
        permission_mode="dontAsk",
        setting_sources=[],
        # Only the MCP servers given here (none): a repo's .mcp.json could start programs.
        strict_mcp_config=True,
        system_prompt={"type": "preset", "preset": "claude_code", "append": SYSTEM_APPEND},
        include_partial_messages=True,
        # The prompt is user text: no "@/path" file expansion (it would read files
        # without going through the tools, so past the guard) and no slash commands.
        verbatim_prompts=True,
        max_turns=settings.max_turns,
        max_budget_usd=settings.max_budget_usd,
        effort=settings.effort,  # type: ignore[arg-type]  # validated in config
        thinking=thinking,
        hooks={"PreToolUse": [HookMatcher(matcher="|".join(TOOLS),
                                          hooks=[guard.make_hook(settings.clone_dir)])]},
        env=dict(CLI_ENV),
        stderr=lambda line: emitter.log(f"claude: {line}"),
    )


async def run(settings: Settings, emitter: Emitter) -> Outcome:
    translator = Translator(emitter.emit)
    failure: ClaudeSDKError | None = None
    try:
        async with aclosing(query(prompt=settings.prompt,
                                  options=options(settings, emitter))) as messages:
            async for message in messages:
                translator.feed(message)
    except ResultError as exc:
        # The CLI already reported the failed result; the exception adds the HTTP status.
        failure = exc
        if translator.model_failure and exc.api_error_status:
            translator.model_failure.status = exc.api_error_status
    except ClaudeSDKError as exc:
        failure = exc
    return _outcome(translator, failure)


def _outcome(translator: Translator, failure: ClaudeSDKError | None) -> Outcome:
    result, model = translator.result, translator.model_failure
    if model is not None and GATEWAY_BUDGET in model.message:
        return Outcome(False, "limit_reached", model.message,
                       {"reason": "max_budget_usd", "status": model.status})
    if model is not None:
        return Outcome(False, "model_error", model.message,
                       {"reason": model.reason, "status": model.status})
    if result is not None and result.subtype in LIMIT_SUBTYPES:
        return Outcome(False, "limit_reached",
                       f"the agent stopped at a limit ({result.subtype})",
                       {"reason": result.subtype})
    if failure is not None or result is None or result.is_error:
        message = str(failure) if failure is not None else (
            "Claude Code ended without a result" if result is None
            else f"the agent failed ({result.subtype})")
        return Outcome(False, "agent_error", message,
                       {"reason": result.subtype if result else None})
    return Outcome(True)
