"""The agent's settings, read and checked from its environment before any work starts.

The service passes everything as environment variables (see ``aideator/runtimes/agent_env.py``):
the run identity, the repo, the prompt, a workspace, and one upper-cased variable per
``agent_config`` knob, numbers JSON-encoded. Everything is validated here so that a bad
setting ends the run with one ``config_invalid`` error instead of a traceback half-way.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import base_change, engines
from .base_change import BaseChange

DEFAULT_MODEL = engines.default_model(engines.DEFAULT_ENGINE)
DEFAULT_MAX_TURNS = 30
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
# "shell": file tools plus Claude Code's Bash (inside the sandbox); "files": file tools only.
TOOL_SETS = ("shell", "files")
DEFAULT_TOOLS = "shell"
# Setup (see agent/setup.py): its own time limit, and the longest command line accepted.
DEFAULT_SETUP_TIMEOUT = 600
MAX_SETUP_TIMEOUT = 1800
MAX_SETUP_CHARS = 4096
# "run": the whole agent; "setup": clone and setup only (the local runtime's once-per-run
# prepare step, whose workspace every variation then starts from).
MODES = ("run", "setup")

# Owner: GitHub's rules (alphanumerics and single dashes, at most 39); repo: its charset.
REPO_URL_RE = re.compile(
    r"^https://github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?)/"
    r"(?P<repo>[A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$")
# Or a git bundle on this machine: a local repository's snapshot, which the service binds
# read-only into the sandbox (aideator/runs/snapshot.py).
BUNDLE_RE = re.compile(r"^/[^\x00\n]{1,4000}\.bundle$")

# Any one of these lets Claude Code reach a model; without them it would fail later and
# less clearly (or try an interactive login).


# Checks (CHECKS): the service validates them first (aideator/schemas/openapi.yaml); the
# agent checks again because it runs them.
MAX_CHECKS = 5
MAX_CHECK_COMMAND = 4000
DEFAULT_CHECK_TIMEOUT = 300
MAX_CHECK_TIMEOUT = 1800


@dataclass(frozen=True)
class Check:
    """One of the run's checks: a shell command line run in the clone's root."""
    name: str
    command: str
    timeout_seconds: int = DEFAULT_CHECK_TIMEOUT
    # A JUnit XML report the command writes, relative to the repository's root.
    junit_report: str | None = None


class ConfigError(ValueError):
    """A missing or invalid setting; ``field`` names the environment variable."""

    def __init__(self, field_: str, message: str) -> None:
        super().__init__(message)
        self.field = field_


@dataclass(frozen=True)
class Settings:
    run_id: str
    variation_id: int | None
    repo_url: str
    prompt: str
    workspace: str
    model: str = DEFAULT_MODEL
    engine: str = engines.DEFAULT_ENGINE
    temperature: float | None = None
    max_turns: int = DEFAULT_MAX_TURNS
    max_budget_usd: float | None = None
    effort: str | None = None
    max_thinking_tokens: int | None = None
    tools: str = DEFAULT_TOOLS
    checks: tuple[Check, ...] = field(default_factory=tuple)
    # Run the checks on the unchanged clone too, before the model starts (variation 0).
    baseline_checks: bool = False
    setup: str | None = None
    setup_timeout: int = DEFAULT_SETUP_TIMEOUT
    setup_from_repo: bool = False
    # The workspace was cloned and set up already (by a MODE=setup run): skip both.
    prepared: bool = False
    mode: str = "run"
    # The egress proxy URL for the setup command only (never the model's or a check's).
    setup_proxy: str | None = None
    # Start from another run's variation: its base commit plus its change (the file
    # BASE_PATCH_FILE names).
    base_change: BaseChange | None = None

    @property
    def clone_dir(self) -> str:
        return os.path.join(self.workspace, "repo")

def _text(env: Mapping[str, str], name: str) -> str | None:
    # Kubernetes renders unset optional values as empty strings: treat those as absent.
    value = env.get(name)
    return value if value not in (None, "") else None


def _required(env: Mapping[str, str], name: str) -> str:
    value = _text(env, name)
    if value is None or not value.strip():
        raise ConfigError(name, f"{name} is required")
    return value


def _int(env: Mapping[str, str], name: str, *, minimum: int,
         maximum: int | None = None) -> int | None:
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(name, f"{name} must be {bound}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, *, minimum: float, maximum: float | None = None,
           exclusive_min: bool = False) -> float | None:
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, f"{name} must be a number, got {raw!r}") from None
    too_low = value <= minimum if exclusive_min else value < minimum
    if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
        raise ConfigError(name, f"{name} is out of range: {raw!r}")
    return value


def _checks(env: Mapping[str, str]) -> tuple[Check, ...]:
    raw = _text(env, "CHECKS")
    if raw is None:
        return ()
    try:
        items = json.loads(raw)
    except ValueError:
        raise ConfigError("CHECKS", "CHECKS must be a JSON list of checks") from None
    if not isinstance(items, list) or len(items) > MAX_CHECKS:
        raise ConfigError("CHECKS", f"CHECKS must be a JSON list of at most {MAX_CHECKS} "
                                    "checks")
    checks: list[Check] = []
    for i, item in enumerate(items):
        where = f"CHECKS[{i}]"
        if not isinstance(item, dict):
            raise ConfigError("CHECKS", f"{where} must be an object")
        name, command = item.get("name"), item.get("command")
        timeout = item.get("timeout_seconds", DEFAULT_CHECK_TIMEOUT)
        report = item.get("junit_report")
        if not isinstance(name, str) or not name.strip() or \
                name in (c.name for c in checks):
            raise ConfigError("CHECKS", f"{where}.name must be a unique, non-empty string")
        if not isinstance(command, str) or not command.strip() or "\0" in command \
                or len(command) > MAX_CHECK_COMMAND:
            raise ConfigError("CHECKS", f"{where}.command must be one command line of at "
                                        f"most {MAX_CHECK_COMMAND} characters")
        if isinstance(timeout, bool) or not isinstance(timeout, int) \
                or not 1 <= timeout <= MAX_CHECK_TIMEOUT:
            raise ConfigError("CHECKS", f"{where}.timeout_seconds must be an integer from 1 "
                                        f"to {MAX_CHECK_TIMEOUT}")
        if report is not None and (not isinstance(report, str) or not report
                                   or os.path.isabs(report)):
            raise ConfigError("CHECKS", f"{where}.junit_report must be a relative path")
        checks.append(Check(name, command, timeout, report))
    return tuple(checks)


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default: ``os.environ``); raises :class:`ConfigError`."""
    env = os.environ if env is None else env
    mode = (_text(env, "MODE") or "run").strip()
    if mode not in MODES:
        raise ConfigError("MODE", f"MODE must be one of {', '.join(MODES)}")
    # The prepare step never reaches the model: it needs no prompt and no credential.
    prompt = _required(env, "PROMPT") if mode == "run" else (_text(env, "PROMPT") or "")
    repo_url = _required(env, "REPO_URL").strip()
    if not (REPO_URL_RE.match(repo_url) or BUNDLE_RE.match(repo_url)):
        raise ConfigError("REPO_URL", "REPO_URL must look like "
                                      "https://github.com/<owner>/<repo>[.git] or be the "
                                      "absolute path of a git bundle")
    workspace = _text(env, "WORKSPACE") or os.getcwd()
    if not os.path.isabs(workspace):
        raise ConfigError("WORKSPACE", "WORKSPACE must be an absolute path")
    variation_id = _int(env, "VARIATION_ID", minimum=0)
    effort = _text(env, "EFFORT")
    if effort is not None and effort not in EFFORT_LEVELS:
        raise ConfigError("EFFORT", f"EFFORT must be one of {', '.join(EFFORT_LEVELS)}")
    tools = (_text(env, "TOOLS") or DEFAULT_TOOLS).strip()
    if tools not in TOOL_SETS:
        raise ConfigError("TOOLS", f"TOOLS must be one of {', '.join(TOOL_SETS)}")
    engine = (_text(env, "ENGINE") or engines.DEFAULT_ENGINE).strip()
    if engine not in engines.NAMES:
        raise ConfigError("ENGINE", f"ENGINE must be one of {', '.join(engines.NAMES)}")
    model = (_text(env, "MODEL") or engines.default_model(engine)).strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:@/\[\]-]{0,199}", model):
        raise ConfigError("MODEL", f"MODEL is not a model name: {model!r}")
    credentials = engines.credentials(engine)
    if mode == "run" and not any(_text(env, name) for name in credentials):
        raise ConfigError(credentials[0],
                          f"no model credentials for {engine}: set {credentials[0]}"
                          + (" (or another of its credential variables)"
                             if len(credentials) > 1 else ""))
    max_turns = _int(env, "MAX_TURNS", minimum=1, maximum=1000)
    return Settings(
        run_id=_text(env, "RUN_ID") or "",
        variation_id=variation_id,
        repo_url=repo_url,
        prompt=prompt,
        workspace=workspace,
        model=model,
        engine=engine,
        temperature=_float(env, "TEMPERATURE", minimum=0.0, maximum=1.0),
        max_turns=max_turns if max_turns is not None else DEFAULT_MAX_TURNS,
        max_budget_usd=_float(env, "MAX_BUDGET_USD", minimum=0.0, exclusive_min=True),
        effort=effort,
        max_thinking_tokens=_int(env, "MAX_THINKING_TOKENS", minimum=0, maximum=1_000_000),
        tools=tools,
        checks=_checks(env),
        baseline_checks=_text(env, "BASELINE_CHECKS") == "1",
        mode=mode,
        base_change=_base_change(env),
        **_setup(env),
    )


def _base_change(env: Mapping[str, str]) -> BaseChange | None:
    try:
        return base_change.from_env(env)
    except base_change.BaseChangeError as exc:
        raise ConfigError(exc.field, str(exc)) from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (_text(env, name) or "0").strip().lower()
    if raw not in ("0", "1", "true", "false"):
        raise ConfigError(name, f"{name} must be 0 or 1, got {raw!r}")
    return raw in ("1", "true")


def _setup(env: Mapping[str, str]) -> dict[str, Any]:
    """SETUP and its companions (see PROTOCOL.md)."""
    command = _text(env, "SETUP")
    if command is not None:
        if "\0" in command or "\n" in command or "\r" in command:
            raise ConfigError("SETUP", "SETUP must be one command line (no NUL or newline)")
        if len(command) > MAX_SETUP_CHARS or not command.strip():
            raise ConfigError("SETUP", f"SETUP must be 1 to {MAX_SETUP_CHARS} characters")
    timeout = _int(env, "SETUP_TIMEOUT_SECONDS", minimum=1, maximum=MAX_SETUP_TIMEOUT)
    proxy = _text(env, "SETUP_PROXY")
    if proxy is not None and not re.fullmatch(r"http://[^\s/]+/?", proxy):
        raise ConfigError("SETUP_PROXY", "SETUP_PROXY must be an http://host:port URL")
    return {"setup": command,
            "setup_timeout": timeout if timeout is not None else DEFAULT_SETUP_TIMEOUT,
            "setup_from_repo": _flag(env, "SETUP_FROM_REPO"),
            "prepared": _flag(env, "PREPARED"),
            "setup_proxy": proxy}
