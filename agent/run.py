"""Runs Claude Code on the clone through claude-agent-sdk and reports how it ended.

The file tools, plus ``Bash`` when the run's ``tools`` is ``"shell"`` (the default): the
agent runs inside the sandbox the service gives it (bubblewrap locally, the restricted pod
on Kubernetes; no network but the service's gateway), each command with a time limit.
Nothing is read from settings files in the repo (project settings can define hooks, which
run commands outside any tool call), and the CLI is told not to phone home: it talks to
the model API and nothing else.
"""
from __future__ import annotations

import os
from contextlib import aclosing
from typing import Any

from claude_agent_sdk import (ClaudeAgentOptions, ClaudeSDKError, HookMatcher,
                              ResultError, query)

from . import guard, instructions, toolchain
from .config import Settings
from .outcome import Outcome, model_failure
from .output import Emitter
from .translate import Translator

FILE_TOOLS = ["Read", "Glob", "Grep", "Edit", "Write"]
SHELL_TOOLS = ["Bash"]
# Named as well as left out of the tool list: if a CLI version adds one of these to the
# base set, the deny list still wins. Bash leaves this list when the shell is on; its
# background helpers never do (commands run in the foreground, within their time limit).
BLOCKED_TOOLS = ["Bash", "BashOutput", "KillShell", "KillBash", "TaskOutput", "TaskStop",
                 "WebFetch", "WebSearch", "Task", "Agent", "NotebookEdit", "TodoWrite",
                 "Skill", "SlashCommand", "ExitPlanMode", "MultiEdit"]

# Bash's time limits, in milliseconds: a command the model starts without a timeout is
# stopped after the default; one that asks for longer gets at most the maximum. Long
# enough for a test suite or a build, short enough that a hung command (a server, a
# prompt waiting for input) costs minutes, not the variation's whole deadline. The
# variables pass through when the agent's environment sets them (tests use short ones).
BASH_DEFAULT_TIMEOUT_MS = 120_000
BASH_MAX_TIMEOUT_MS = 600_000

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



def system_append(shell: bool, default_ms: int = BASH_DEFAULT_TIMEOUT_MS,
                  max_ms: int = BASH_MAX_TIMEOUT_MS) -> str:
    """What the agent is told it can do, appended to Claude Code's own system prompt."""
    if not shell:
        return instructions.around("You can read, search and edit files, but you cannot run "
                                   "commands. ")
    return instructions.around(
        "You can read, search and edit files, and run commands with the "
        "Bash tool (for example the repository's tests, linters or build) to check your "
        "change. Commands run inside a sandbox with no network access: nothing can be "
        "downloaded or installed from the internet; use what is already installed. "
        f"Each command is stopped after {_duration(default_ms)} unless you give it a "
        f"longer timeout (at most {_duration(max_ms)}), and commands cannot run in the "
        "background. Do not change the .git directory. ")


def _duration(ms: int) -> str:
    return f"{ms // 60_000} minutes" if ms % 60_000 == 0 else f"{ms / 1000:g} seconds"


LIMIT_SUBTYPES = {"error_max_turns", "error_max_budget_usd"}


def tools_for(settings: Settings) -> list[str]:
    return FILE_TOOLS + (SHELL_TOOLS if settings.tools == "shell" else [])


def cli_env(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, str]:
    """What the CLI's environment gets on top of the agent's own."""
    environ = dict(os.environ) if environ is None else environ
    # Its Bash sees the repository's toolchain, not the agent's own Python.
    env = {**CLI_ENV, **toolchain.environment(settings.clone_dir, environ)}
    if settings.tools == "shell":
        env.update(
            BASH_DEFAULT_TIMEOUT_MS=str(_ms(environ, "BASH_DEFAULT_TIMEOUT_MS",
                                            BASH_DEFAULT_TIMEOUT_MS)),
            BASH_MAX_TIMEOUT_MS=str(_ms(environ, "BASH_MAX_TIMEOUT_MS", BASH_MAX_TIMEOUT_MS)),
            # No run_in_background, no auto-backgrounding of a command at its time limit.
            CLAUDE_CODE_DISABLE_BACKGROUND_TASKS="1",
            # Each command starts in the clone, whatever an earlier one cd'ed into.
            CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR="1",
        )
    return env


def _ms(environ: dict[str, str], name: str, default: int) -> int:
    value = environ.get(name, "")
    # The CLI ignores anything but 1-9 digits; so do we, rather than promise a wrong limit.
    return int(value) if value.isdigit() and 0 < len(value) <= 9 and int(value) > 0 else default


def options(settings: Settings, emitter: Emitter) -> ClaudeAgentOptions:
    tools = tools_for(settings)
    shell = settings.tools == "shell"
    env = cli_env(settings)
    hooks = [HookMatcher(matcher="|".join(FILE_TOOLS),
                         hooks=[guard.make_hook(settings.clone_dir)])]
    if shell:
        hooks.append(HookMatcher(matcher="Bash", hooks=[guard.make_shell_hook()]))
    thinking: Any = None
    if settings.max_thinking_tokens == 0:
        thinking = {"type": "disabled"}
    elif settings.max_thinking_tokens is not None:
        thinking = {"type": "enabled", "budget_tokens": settings.max_thinking_tokens}
    return ClaudeAgentOptions(
        cwd=settings.clone_dir,
        model=settings.model,
        tools=list(tools),
        allowed_tools=list(tools),
        disallowed_tools=[t for t in BLOCKED_TOOLS if t not in tools],
        # Anything not pre-approved above is denied instead of waiting for a prompt.
        permission_mode="dontAsk",
        setting_sources=[],
        # Only the MCP servers given here (none): a repo's .mcp.json could start programs.
        strict_mcp_config=True,
        system_prompt={"type": "preset", "preset": "claude_code",
                       "append": system_append(
                           shell, int(env.get("BASH_DEFAULT_TIMEOUT_MS", 0)),
                           int(env.get("BASH_MAX_TIMEOUT_MS", 0)))},
        include_partial_messages=True,
        # The prompt is user text: no "@/path" file expansion (it would read files
        # without going through the tools, so past the guard) and no slash commands.
        verbatim_prompts=True,
        max_turns=settings.max_turns,
        max_budget_usd=settings.max_budget_usd,
        effort=settings.effort,  # type: ignore[arg-type]  # validated in config
        thinking=thinking,
        hooks={"PreToolUse": hooks},
        env=env,
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
    if model is not None:
        return model_failure(model.message, model.reason, model.status)
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
