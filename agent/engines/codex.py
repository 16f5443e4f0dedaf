"""OpenAI's Codex CLI (npm ``@openai/codex``, pinned in agent/package-lock.json) as an engine.

``codex exec --json`` runs one unattended task and prints its progress as JSON lines
(``thread.started``, ``turn.started``, ``item.started``/``item.completed`` for reasoning,
agent messages, command executions and file changes, ``error`` for retries,
``turn.completed`` with usage, ``turn.failed``); this module translates them into our
protocol. The CLI gets a fresh ``CODEX_HOME`` that we write (nothing from the user's
``~/.codex`` or the repository: no MCP servers, hooks, plugins, skills, rules, AGENTS.md,
no telemetry, analytics, feedback or update checks) whose only model provider is
``OPENAI_BASE_URL`` (the service's gateway) over plain HTTPS streaming.

Its own sandbox is off (``danger-full-access``, approvals ``never``) in favour of ours: the
agent already runs inside one (bubblewrap locally, the restricted pod on Kubernetes) that
confines it to its workspace with no network but the gateway. Codex's sandbox is itself a
bubblewrap; it does nest inside our local one, but the restricted pod's seccomp profile
refuses the user namespace it needs, so it would fail every command there, and an engine
must behave the same on every runtime. See agent/PROTOCOL.md, *Engines*.
``TOOLS=files`` turns the shell tools off: the model keeps ``apply_patch`` only.

The CLI has no turn limit and retries some failures without end ("waiting for network"):
we count model turns ourselves (``MAX_TURNS``) and stop a CLI that prints nothing useful
for ``CODEX_IDLE_TIMEOUT_SECONDS``.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import instructions, protocol, toolchain
from ..config import Settings
from ..outcome import Outcome, model_failure
from ..output import Emitter, clip

NAME = "codex"
ROOT = Path(__file__).resolve().parents[1]
BINARY = ROOT / "node_modules" / ".bin" / "codex"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

MAX_TOOL_RESULT_BYTES = 4 * 1024
MAX_TOOL_INPUT_STRING_BYTES = 4 * 1024
# Each stdout line is one JSON event; a command's whole output can be in one.
LINE_LIMIT = 32 << 20
# The CLI's own retries of a failed model call (it waits with backoff between them).
DEFAULT_REQUEST_RETRIES = 4
DEFAULT_STREAM_RETRIES = 4
DEFAULT_STREAM_IDLE_MS = 300_000
# Our deadline: silence (nothing but retry notices) for this long ends the engine.
# Longer than a shell command's own limit (Codex stops those itself) plus a model turn.
DEFAULT_IDLE_SECONDS = 900
KILL_GRACE_SECONDS = 5

EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}

_SHELL = ("You can run commands (for example the repository's tests) to check your change; "
          "they run in a sandbox with no network access, so nothing can be downloaded. "
          "Do not change the .git directory.")
_FILES = ("You can read and edit files with apply_patch, but you cannot run commands.")


def info() -> dict[str, Any]:
    version = None
    try:
        package = ROOT / "node_modules" / "@openai" / "codex" / "package.json"
        version = json.loads(package.read_text()).get("version")
    except (OSError, ValueError):
        pass
    return {"name": NAME, "version": version, "sdk": f"@openai/codex {version}"}


def report(settings: Settings) -> dict[str, Any]:
    applied: dict[str, Any] = {"model": settings.model, "max_turns": settings.max_turns,
                               "tools": settings.tools}
    not_applied: dict[str, Any] = {}
    if settings.effort is not None:
        applied["effort"] = settings.effort
    if settings.max_budget_usd is not None:
        # Enforced by the gateway, which refuses model calls once the variation spent it.
        applied["max_budget_usd"] = settings.max_budget_usd
    if settings.temperature is not None:
        not_applied["temperature"] = {
            "value": settings.temperature,
            "reason": "the Codex CLI has no temperature setting; the value is accepted and "
                      "recorded but does not change sampling"}
    if settings.max_thinking_tokens is not None:
        not_applied["max_thinking_tokens"] = {
            "value": settings.max_thinking_tokens,
            "reason": "the Codex CLI sets reasoning by effort only (use effort), not by a "
                      "token budget"}
    return {"applied": applied, "not_applied": not_applied}


# -- the CLI's configuration ------------------------------------------------------------------

def _toml(value: Any) -> str:
    # JSON strings are valid TOML basic strings for what we write (no control characters
    # other than those JSON escapes the same way).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))


def _positive(environ: dict[str, str], name: str, default: int) -> int:
    value = environ.get(name, "")
    return int(value) if value.isdigit() and 0 < len(value) <= 9 else default


def config_toml(settings: Settings, environ: dict[str, str]) -> str:
    """The whole of the CLI's configuration (``$CODEX_HOME/config.toml``)."""
    shell = settings.tools == "shell"
    base_url = (environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    top = {
        "model": settings.model,
        "model_provider": "aideator",
        "approval_policy": "never",
        "sandbox_mode": "danger-full-access",
        "check_for_update_on_startup": False,
        "web_search": "disabled",
        "model_reasoning_summary": "detailed",
        # The repository's AGENTS.md is not read, as Claude Code reads no CLAUDE.md here.
        "project_doc_max_bytes": 0,
        "developer_instructions": instructions.around((_SHELL if shell else _FILES) + " "),
    }
    if settings.effort is not None:
        top["model_reasoning_effort"] = EFFORTS[settings.effort]
    provider = {
        "name": "AIdeator gateway",
        "base_url": base_url,
        "env_key": "OPENAI_API_KEY",
        "wire_api": "responses",
        "supports_websockets": False,
        "request_max_retries": _positive(environ, "CODEX_REQUEST_MAX_RETRIES",
                                         DEFAULT_REQUEST_RETRIES),
        "stream_max_retries": _positive(environ, "CODEX_STREAM_MAX_RETRIES",
                                        DEFAULT_STREAM_RETRIES),
        "stream_idle_timeout_ms": _positive(environ, "CODEX_STREAM_IDLE_TIMEOUT_MS",
                                            DEFAULT_STREAM_IDLE_MS),
    }
    features = {name: False for name in (
        "goals", "hooks", "plugins", "apps", "image_generation", "shell_snapshot",
        "tool_suggest", "skill_search", "computer_use", "browser_use", "in_app_browser",
        "remote_plugin", "sleep_tool", "memories")}
    if not shell:
        features.update(shell_tool=False, unified_exec=False)
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    sections = {
        "model_providers.aideator": provider,
        # Commands see the basics only, never a credential or our settings.
        "shell_environment_policy": {"inherit": "core"},
        "analytics": {"enabled": False},
        "feedback": {"enabled": False},
        "otel": {"exporter": "none"},
        "agents": {"enabled": False},
        "features": features,
    }
    for name, table in sections.items():
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def argv(settings: Settings) -> list[str]:
    # "-": the prompt comes on stdin, verbatim (no shell, no argv parsing of user text).
    return [str(BINARY), "exec", "--json", "--strict-config", "--ephemeral",
            "--skip-git-repo-check", "--ignore-rules", "--color", "never",
            "-m", settings.model, "-C", settings.clone_dir, "-"]


def cli_env(settings: Settings, home: str, environ: dict[str, str]) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "OPENAI_API_KEY")
    env = {k: environ[k] for k in keep if k in environ}
    # Its exec tool sees the repository's toolchain, not the agent's own Python.
    env["PATH"] = toolchain.path(settings.clone_dir, environ)
    env.update(CODEX_HOME=home, NO_COLOR="1", RUST_LOG="error")
    return env


# -- translating its events -------------------------------------------------------------------

_RETRY = re.compile(r"Reconnecting\.\.\.\s*(\d+)/(\d+)")
_STATUS = re.compile(r"\b(400|401|402|403|404|408|409|413|422|429|500|502|503|504|529)\b")
_REASONS = (
    (re.compile(r"401|unauthori[sz]ed|invalid[_ ]api[_ ]key|incorrect api key", re.I),
     "authentication_failed", 401),
    (re.compile(r"429|rate.?limit|too many requests|usage limit|quota", re.I),
     "rate_limit", 429),
    (re.compile(r"402|billing|insufficient_quota", re.I), "billing_error", 402),
    (re.compile(r"\b5\d\d\b|internal server error|server_error|bad gateway|"
                r"service unavailable|overloaded|high demand|stream disconnected|connection", re.I),
     "server_error", None),
    (re.compile(r"\b400\b|invalid_request|bad request|not found|404", re.I),
     "invalid_request", None),
)


def classify(message: str) -> tuple[str, int | None]:
    """Our reason (as Claude's) and the HTTP status, from a CLI error message."""
    found = _STATUS.search(message)
    status = int(found.group(1)) if found else None
    for pattern, reason, default_status in _REASONS:
        if pattern.search(message):
            return reason, status or default_status
    return "unknown", status


def _bounded(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        return clip(value, MAX_TOOL_INPUT_STRING_BYTES)
    if isinstance(value, dict):
        pairs = {k: _bounded(v) for k, v in value.items()}
        return {k: p[0] for k, p in pairs.items()}, any(p[1] for p in pairs.values())
    if isinstance(value, list):
        items = [_bounded(v) for v in value]
        return [p[0] for p in items], any(p[1] for p in items)
    return value, False


TOOL_ITEMS = {"command_execution": "shell", "file_change": "apply_patch",
              "mcp_tool_call": "mcp", "web_search": "web_search"}


@dataclass
class Translator:
    emitter: Emitter
    settings: Settings
    turns: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    failure: tuple[str, str, int | None] | None = None   # message, reason, status
    final_text: str | None = None
    completed: bool = False
    over_turns: bool = False
    _in_tools: bool = False
    _tools_started: set[str] = field(default_factory=set)
    _last_status: int | None = None

    def emit(self, type_: str, **fields: Any) -> None:
        self.emitter.emit(type_, **fields)

    def _turn_activity(self) -> None:
        """The model said something: a new turn when its tools had just answered."""
        if self.turns == 0 or self._in_tools:
            self.turns += 1
            self._in_tools = False
            if self.turns > self.settings.max_turns:
                self.over_turns = True

    def feed(self, event: dict[str, Any]) -> bool:
        """Translate one CLI event; True when it shows progress (for our deadline)."""
        kind = event.get("type")
        if kind == "thread.started":
            self.emit(protocol.STATUS, phase="running", session_id=event.get("thread_id"),
                      model=self.settings.model,
                      tools=(["shell", "apply_patch"] if self.settings.tools == "shell"
                             else ["apply_patch"]),
                      permission_mode="never")
        elif kind in ("item.started", "item.updated", "item.completed"):
            self._item(kind, event.get("item") or {})
        elif kind == "turn.completed":
            self.completed = True
            for name, amount in (event.get("usage") or {}).items():
                if isinstance(amount, int) and not isinstance(amount, bool):
                    self.usage[name] = self.usage.get(name, 0) + amount
        elif kind == "turn.failed":
            message = str((event.get("error") or {}).get("message") or "the turn failed")
            reason, status = classify(message)
            self.failure = (_api_message(message), reason, status or self._last_status)
        elif kind == "error":
            message = str(event.get("message") or "")
            retry = _RETRY.search(message)
            reason, status = classify(message)
            self._last_status = status or self._last_status
            self.emit(protocol.STATUS, phase="retrying",
                      attempt=int(retry.group(1)) if retry else None,
                      max_retries=int(retry.group(2)) if retry else None, delay_ms=None,
                      error_status=status, reason=reason)
            return False
        return True

    def _item(self, kind: str, item: dict[str, Any]) -> None:
        item_type, item_id = item.get("type"), str(item.get("id") or "")
        where = {"message_id": item_id, "index": 0}
        if item_type == "error":
            self.emitter.log(f"codex: {item.get('message', '')}")
            return
        if item_type in ("reasoning", "agent_message") and kind == "item.completed":
            self._turn_activity()
            if item_type == "reasoning":
                self.emit(protocol.THINKING, **where, thinking=str(item.get("text") or ""))
            else:
                self.final_text = str(item.get("text") or "")
                self.emit(protocol.TEXT, **where, text=self.final_text)
            return
        if item_type not in TOOL_ITEMS:
            return
        if item_id not in self._tools_started and kind in ("item.started", "item.completed"):
            self._turn_activity()
            self._tools_started.add(item_id)
            tool_input, cut = _bounded(_tool_input(item_type, item))
            self.emit(protocol.TOOL_USE, **where, id=item_id, name=TOOL_ITEMS[item_type],
                      input=tool_input, truncated=cut)
        if kind == "item.completed":
            self._in_tools = True
            content, is_error = _tool_output(item_type, item)
            content, cut = clip(content, MAX_TOOL_RESULT_BYTES)
            self.emit(protocol.TOOL_RESULT, tool_use_id=item_id, name=TOOL_ITEMS[item_type],
                      content=content, truncated=cut, is_error=is_error)


def _api_message(message: str) -> str:
    """The API's own error message when the CLI quotes the error JSON."""
    start = message.find("{")
    if start >= 0:
        try:
            error = json.loads(message[start:]).get("error") or {}
            if isinstance(error, dict) and error.get("message"):
                return str(error["message"])
        except (ValueError, AttributeError):
            pass
    return message


def _tool_input(item_type: str, item: dict[str, Any]) -> dict[str, Any]:
    if item_type == "command_execution":
        return {"command": item.get("command")}
    if item_type == "file_change":
        return {"changes": item.get("changes") or []}
    return {k: v for k, v in item.items() if k not in ("id", "type", "status", "result")}


def _tool_output(item_type: str, item: dict[str, Any]) -> tuple[str, bool]:
    failed = item.get("status") in ("failed", "declined")
    if item_type == "command_execution":
        code = item.get("exit_code")
        return str(item.get("aggregated_output") or ""), failed or (code not in (0, None))
    if item_type == "file_change":
        changes = item.get("changes") or []
        summary = "\n".join(f"{c.get('kind')} {c.get('path')}" for c in changes
                            if isinstance(c, dict))
        return (("failed: " if failed else "") + summary), failed
    result = item.get("result") or item.get("error") or ""
    return (result if isinstance(result, str) else json.dumps(result)), failed


# -- running it ---------------------------------------------------------------------------------

async def _stop(proc: asyncio.subprocess.Process) -> None:
    """End the CLI and everything it started (its own process group)."""
    if proc.returncode is not None:
        return
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(proc.wait(), wait)
            return
        except asyncio.TimeoutError:
            continue


async def run(settings: Settings, emitter: Emitter) -> Outcome:
    environ = dict(os.environ)
    home = os.path.join(settings.workspace, ".codex-home")
    os.makedirs(home, mode=0o700, exist_ok=True)
    with open(os.path.join(home, "config.toml"), "w", encoding="utf-8") as f:
        f.write(config_toml(settings, environ))
    idle = _positive(environ, "CODEX_IDLE_TIMEOUT_SECONDS", DEFAULT_IDLE_SECONDS)
    translator = Translator(emitter, settings)
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv(settings), cwd=settings.clone_dir, env=cli_env(settings, home, environ),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=LINE_LIMIT)
    except OSError as exc:
        return Outcome(False, "agent_error", f"the Codex CLI could not start: {exc}")
    stderr_task = asyncio.create_task(_relay_stderr(proc, emitter))
    stopped: str | None = None
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(settings.prompt.encode("utf-8"))
        await proc.stdin.drain()
        proc.stdin.close()
        last_progress = time.monotonic()
        while True:
            remaining = idle - (time.monotonic() - last_progress)
            if remaining <= 0:
                stopped = "idle"
                break
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), remaining)
            except asyncio.TimeoutError:
                stopped = "idle"
                break
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                emitter.log(f"codex: {line.decode('utf-8', 'replace').rstrip()}")
                continue
            if isinstance(event, dict) and translator.feed(event):
                last_progress = time.monotonic()
            if translator.over_turns:
                stopped = "turns"
                break
        if stopped:
            await _stop(proc)
        await proc.wait()
    except asyncio.CancelledError:
        await _stop(proc)
        raise
    finally:
        if proc.returncode is None:
            await _stop(proc)
        await asyncio.gather(stderr_task, return_exceptions=True)
    return _finish(translator, stopped, proc.returncode, idle,
                   int((time.monotonic() - started) * 1000))


async def _relay_stderr(proc: asyncio.subprocess.Process, emitter: Emitter) -> None:
    assert proc.stderr is not None
    async for line in proc.stderr:
        text = line.decode("utf-8", "replace").rstrip()
        if text and not text.startswith("Reading additional input from stdin"):
            emitter.log(f"codex: {text}")


def _finish(t: Translator, stopped: str | None, returncode: int | None, idle: int,
            duration_ms: int) -> Outcome:
    cached = t.usage.get("cached_input_tokens", 0)
    # As the other engines count: input_tokens without the cache reads, which come apart.
    usage = {"input_tokens": max(0, t.usage.get("input_tokens", 0) - cached),
             "output_tokens": t.usage.get("output_tokens", 0),
             "cache_read_input_tokens": cached,
             "reasoning_output_tokens": t.usage.get("reasoning_output_tokens", 0)}
    if stopped == "idle" and t.failure is None:
        t.failure = (f"the Codex CLI made no progress for {idle} s (model calls failing "
                     "or retrying); stopped", "timeout", t._last_status)
    failed = t.failure is not None
    ok = t.completed and not failed and stopped is None and returncode == 0
    subtype = ("error_max_turns" if stopped == "turns" else
               "success" if ok or failed else "error_during_execution")
    # The CLI reports no cost: the gateway meters and prices every call.
    t.emit(protocol.RESULT, subtype=subtype, is_error=not ok,
           num_turns=min(t.turns, t.settings.max_turns), duration_ms=duration_ms,
           duration_api_ms=None, total_cost_usd=None, usage=usage,
           stop_reason=None, text=None if failed else t.final_text)
    if t.failure is not None:
        return model_failure(*t.failure)
    if stopped == "turns":
        return Outcome(False, "limit_reached",
                       "the agent stopped at a limit (error_max_turns)",
                       {"reason": "error_max_turns"})
    if not ok:
        return Outcome(False, "agent_error",
                       f"the Codex CLI ended without finishing its turn (exit {returncode})",
                       {"reason": subtype})
    return Outcome(True)
