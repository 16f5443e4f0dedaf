"""Google's Gemini CLI (``@google/gemini-cli``, pinned in agent/package-lock.json).

Runs ``gemini --prompt=… --output-format stream-json`` in the clone and translates its
events (agent/engines/gemini_events.py). The CLI reads settings from the repository
(``.gemini/settings.json``: hooks, MCP servers, tool discovery commands, skills, agents)
and from ``~/.gemini``; it refuses to run headless in an untrusted folder, so the clone is
trusted. Two layers keep the repository's settings out: the repository's ``.gemini`` is
moved out of the clone while the CLI runs (and put back before the diff), and our settings,
which turn each of those features off (``system_settings``), are given at the user level of
a fresh home beside the clone and at the *system* level, which outranks the workspace's.
The system level alone is not enough: the CLI silently skips a system settings file unless
it and every directory above it are owned by root and writable by nobody else, which a
checkout under /tmp, or a sandbox whose user namespace maps the owner elsewhere, fails.
"""
from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import signal
import time
from typing import Any, Iterator

from .. import instructions, protocol, toolchain
from ..config import Settings
from ..outcome import Outcome, model_failure
from ..output import Emitter
from .gemini_events import ModelFailure, Translator

NAME = "gemini"
CLI_VERSION = "0.61.0"   # agent/package.json
_AGENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BIN = os.path.join(_AGENT_DIR, "node_modules", ".bin", "gemini")

FILE_TOOLS = ["read_file", "read_many_files", "write_file", "replace", "glob",
              "grep_search", "list_directory"]
SHELL_TOOLS = ["run_shell_command"]
# The model gets no answer for this long while we wait on it (not while a tool runs): the
# CLI retries failed calls itself (up to general.maxAttempts, 10 by default, with backoff),
# so this is what stops one that would retry, or wait on a silent stream, for ever.
DEFAULT_MODEL_SILENCE_SECONDS = 300.0



def system_settings(tools: str) -> dict[str, Any]:
    """The settings at the CLI's system level, which win over the repository's.

    Shipped as files (``gemini_settings/<tools>.json``, checked against this function by
    the tests): the CLI skips a system settings file any of whose directories others can
    write to, such as one under /tmp, so they cannot be written per run.
    """
    shell = tools == "shell"
    return {
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True,
                    "checkpointing": {"enabled": False}},
        "security": {"auth": {"selectedType": "gemini-api-key"},
                     "folderTrust": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False, "logPrompts": False},
        "tools": {
            # The built-in tools offered, and nothing a settings file could add: no tool
            # discovery or call command (programs a repo would name), our sandbox, not
            # the CLI's own (docker/podman/seatbelt).
            "core": FILE_TOOLS + (SHELL_TOOLS if shell else []),
            "exclude": [] if shell else list(SHELL_TOOLS),
            "discoveryCommand": "", "callCommand": "",
            "sandbox": False,
        },
        "mcp": {"allowed": []},
        "hooksConfig": {"enabled": False},
        "skills": {"enabled": False},
        "experimental": {"enableAgents": False},
        # The repository's own GEMINI.md is still read (the CLI always adds that name to
        # whatever is configured): text the model could read anyway, and instructions the
        # repository wrote for agents like this one. Nothing above the clone is read.
        "context": {"memoryBoundaryMarkers": []},
        "ui": {"hideBanner": True, "hideTips": True},
        "ide": {"enabled": False},
    }


SETTINGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gemini_settings")


def config_dir(settings: Settings) -> str:
    return os.path.join(settings.workspace, ".gemini-cli")


def write_config(settings: Settings, environ: dict[str, str]) -> dict[str, str]:
    """Write a fresh config home; return the CLI's environment additions."""
    home = config_dir(settings)
    os.makedirs(os.path.join(home, ".gemini"), mode=0o700, exist_ok=True)
    # The user level: our settings again (the system level may be skipped, see above), and
    # the turn limit (we count turns ourselves too).
    user: dict[str, Any] = {**system_settings(settings.tools),
                            "model": {"maxSessionTurns": settings.max_turns}}
    attempts = environ.get("GEMINI_MAX_ATTEMPTS", "")
    if attempts.isdigit() and 1 <= int(attempts) <= 10:
        user["general"] = {"maxAttempts": int(attempts)}
    with open(os.path.join(home, ".gemini", "settings.json"), "w", encoding="utf-8") as f:
        json.dump(user, f)
    return {
        "GEMINI_CLI_HOME": home,
        "GEMINI_CLI_SYSTEM_SETTINGS_PATH": os.path.join(SETTINGS_DIR,
                                                        f"{settings.tools}.json"),
        "GEMINI_CLI_SYSTEM_DEFAULTS_PATH": os.path.join(home, "no-system-defaults.json"),
        # Headless runs need a trusted folder; what trust would load is turned off above.
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "GEMINI_SANDBOX": "false",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


def prompt_text(settings: Settings) -> str:
    """What the CLI is given: our instructions, then the prompt as written.

    The CLI has no way to add to its system prompt (``GEMINI_SYSTEM_MD`` replaces it), so
    the instructions lead the prompt; that also keeps a prompt starting with ``/`` from
    being taken for one of the CLI's slash commands.
    """
    can = ("You can read, search and edit files, and run shell commands (in a sandbox with "
           "no network access) to check your change. Do not change the .git directory. "
           if settings.tools == "shell" else
           "You can read, search and edit files, but you cannot run commands. ")
    return instructions.around(can) + "\n\nThe task:\n\n" + settings.prompt


def info() -> dict[str, Any]:
    return {"name": NAME, "version": CLI_VERSION, "cli": "@google/gemini-cli"}


def report(settings: Settings) -> dict[str, Any]:
    applied: dict[str, Any] = {"model": settings.model, "max_turns": settings.max_turns,
                               "tools": settings.tools}
    reasons = {
        "temperature": "the Gemini CLI has no temperature option; the model's default "
                       "sampling is used",
        "effort": "the Gemini CLI has no reasoning-effort option",
        "max_thinking_tokens": "the Gemini CLI has no thinking-budget option",
        "max_budget_usd": "the Gemini CLI has no spending limit of its own; the gateway "
                          "meters and refuses calls past the variation's budget",
    }
    not_applied = {name: {"value": getattr(settings, name), "reason": reason}
                   for name, reason in reasons.items() if getattr(settings, name) is not None}
    return {"applied": applied, "not_applied": not_applied}


def _silence_limit(environ: dict[str, str]) -> float:
    try:
        value = float(environ.get("MODEL_SILENCE_SECONDS", ""))
    except ValueError:
        return DEFAULT_MODEL_SILENCE_SECONDS
    return value if 0 < value < 86_400 else DEFAULT_MODEL_SILENCE_SECONDS


class _Transcript:
    """Follows the CLI's session transcript (JSONL) for what stream-json leaves out."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.path: str | None = None
        self.offset = 0
        self.session: str | None = None

    def read(self) -> list[dict[str, Any]]:
        if self.path is None and self.session:
            found = glob.glob(os.path.join(self.home, ".gemini", "tmp", "*", "chats",
                                           f"session-*{self.session[:8]}*.jsonl"))
            self.path = found[0] if found else None
        if self.path is None:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1    # whole lines only: the CLI may be mid-write
        self.offset += end
        records = []
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records


@contextlib.contextmanager
def repository_settings_hidden(settings: Settings) -> Iterator[None]:
    """The repository's ``.gemini`` (settings, hooks, MCP servers, commands, agents) out of
    the clone, beside it in the workspace, for as long as the CLI runs; then back, before
    the diff is taken. One the model makes meanwhile gives way to the repository's own
    (its edits there could not have been read by the CLI anyway)."""
    inside = os.path.join(settings.clone_dir, ".gemini")
    aside = os.path.join(settings.workspace, ".gemini-of-the-repository")
    moved = os.path.lexists(inside)
    if moved:
        os.rename(inside, aside)
    try:
        yield
    finally:
        if moved:
            if os.path.lexists(inside):
                if os.path.isdir(inside) and not os.path.islink(inside):
                    shutil.rmtree(inside)
                else:
                    os.unlink(inside)
            os.rename(aside, inside)


async def run(settings: Settings, emitter: Emitter) -> Outcome:
    with repository_settings_hidden(settings):
        return await _run(settings, emitter)


async def _run(settings: Settings, emitter: Emitter) -> Outcome:
    environ = dict(os.environ)
    # Its shell tool sees the repository's toolchain, not the agent's own Python.
    env = {**environ, **toolchain.environment(settings.clone_dir, environ),
           **write_config(settings, environ)}
    binary = environ.get("GEMINI_BIN") or DEFAULT_BIN
    args = [binary, f"--prompt={prompt_text(settings)}", "--output-format", "stream-json",
            f"--model={settings.model}", "--approval-mode=yolo", "--extensions=none",
            "--allowed-mcp-server-names=none"]
    translator = Translator(emitter.emit)
    transcript = _Transcript(env["GEMINI_CLI_HOME"])
    silence = _silence_limit(environ)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=settings.clone_dir, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, limit=16 * 1024 * 1024)
    stderr_tail: list[str] = []
    stderr_task = asyncio.create_task(_relay_stderr(proc, emitter, stderr_tail))
    timed_out = False
    try:
        assert proc.stdout is not None
        waiting_on_model = True
        while True:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(),
                                              silence if waiting_on_model else None)
            except asyncio.TimeoutError:
                timed_out = True
                break
            if not line:
                break
            event = protocol.parse(line.decode("utf-8", "replace"))
            if event is None:
                emitter.log(f"gemini: {line.decode('utf-8', 'replace').rstrip()}")
                continue
            if event.get("type") == "init":
                transcript.session = event.get("session_id")
                emitter.emit(protocol.STATUS, phase="running",
                             session_id=event.get("session_id"), model=event.get("model"),
                             tools=FILE_TOOLS + (SHELL_TOOLS if settings.tools == "shell"
                                                 else []),
                             permission_mode="yolo")
            if event.get("type") in ("tool_use", "tool_result", "result"):
                if event.get("type") == "tool_use":
                    # The turn's record (with its thoughts) lands just after the call is
                    # printed: give it a moment so thinking goes out before the call.
                    await _wait_for_record(transcript, translator)
                elif event.get("type") == "tool_result" and not event.get("output"):
                    # Some tools (read_file) print nothing: the transcript has the output.
                    await _wait_for_result(transcript, translator, str(event.get("tool_id")))
                for record in transcript.read():
                    translator.transcript(record)
            translator.feed(event)
            if translator.turn > settings.max_turns:
                # The repository's settings outrank the CLI's own turn limit; ours holds.
                translator.turn_limit = True
                break
            # A tool is running between its call and its result: that is not the model.
            kind = event.get("type")
            waiting_on_model = kind != "tool_use"
        for record in transcript.read():
            translator.transcript(record)
    finally:
        await _stop(proc)
        stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stderr_task
    duration_ms = int((time.monotonic() - started) * 1000)
    return _finish(translator, emitter, proc.returncode, timed_out, silence, duration_ms,
                   stderr_tail)


async def _wait_for_record(transcript: _Transcript, translator: Translator) -> None:
    for _ in range(10):
        records = transcript.read()
        for record in records:
            translator.transcript(record)
        if any(r.get("type") == "gemini" for r in records):
            return
        await asyncio.sleep(0.02)


async def _wait_for_result(transcript: _Transcript, translator: Translator,
                           tool_id: str) -> None:
    for _ in range(10):
        for record in transcript.read():
            translator.transcript(record)
        if translator.has_result(tool_id):
            return
        await asyncio.sleep(0.02)


async def _relay_stderr(proc: asyncio.subprocess.Process, emitter: Emitter,
                        tail: list[str]) -> None:
    assert proc.stderr is not None
    async for raw in proc.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        emitter.log(f"gemini: {line}")
        tail.append(line)
        del tail[:-20]


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """End the CLI and whatever it started (its shell commands): the whole group."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), 3)
        except asyncio.TimeoutError:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        await proc.wait()


def _finish(translator: Translator, emitter: Emitter, returncode: int | None,
            timed_out: bool, silence: float, duration_ms: int,
            stderr_tail: list[str]) -> Outcome:
    result = translator.result or {}
    stats = result.get("stats") or {}
    failure: ModelFailure | None = translator.failure
    if timed_out:
        failure = ModelFailure("timeout", f"no answer from the model for {silence:g} s "
                               "(the Gemini CLI was stopped)")
    if failure is None and translator.fatal is None and returncode not in (0, None) \
            and not translator.turn_limit:
        # Ended without saying why on stdout: its stderr may say (e.g. an API error).
        from .gemini_events import classify
        failure = classify("\n".join(stderr_tail))
    limit = translator.turn_limit
    ok = not timed_out and failure is None and returncode == 0 and not limit \
        and result.get("status") == "success"
    subtype = ("success" if ok else "error_max_turns" if limit
               else "error_during_execution")
    usage = {k: stats.get(k) for k in ("input_tokens", "output_tokens", "cached",
                                       "total_tokens") if k in stats}
    emitter.emit(protocol.RESULT, subtype=subtype, is_error=not ok,
                 num_turns=translator.turn, duration_ms=stats.get("duration_ms", duration_ms),
                 duration_api_ms=None,
                 # The CLI reports tokens, not prices: the gateway's metering has the cost.
                 total_cost_usd=None, usage=usage, stop_reason=None,
                 text=None if failure else "".join(translator.final_text) or None)
    if failure is not None:
        return model_failure(failure.message, failure.reason, failure.status)
    if limit:
        return Outcome(False, "limit_reached", "the agent stopped at a limit (error_max_turns)",
                       {"reason": "error_max_turns"})
    if not ok:
        message = translator.fatal or (stderr_tail[-1] if stderr_tail else "") or \
            f"the Gemini CLI exited with code {returncode}"
        return Outcome(False, "agent_error", message, {"reason": subtype})
    return Outcome(True)
