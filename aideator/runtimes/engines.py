"""The engines a variation can run, as the service sees them: the names a request may
give, the models each is known to take (offered by the web app's form; any other name is
allowed), the model a variation gets when it names none, and the real key the service
must hold for the gateway to reach the engine's vendor.

The agent has its own registry (agent/engines/: what it runs, its default models and the
credential variables its CLIs read); this table adds what only the service needs (labels,
the models offered, the real keys, the gateway's routes). tests/test_units.py keeps the
names and the default models of the two in step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

DEFAULT_ENGINE = "claude-code"


@dataclass(frozen=True)
class Engine:
    name: str
    label: str
    # Known model names, the default first (the service's AIDEATOR_DEFAULT_MODEL replaces
    # Claude Code's default).
    models: tuple[str, ...]
    # The service's environment variables any one of which is the vendor's real key.
    keys: tuple[str, ...]
    # What the agent's CLI reads: its base URL variable (set to the gateway's route for
    # the vendor's API) and its key variable (set to the variation's gateway credential).
    url_variable: str
    route: str
    key_variable: str


ENGINES: dict[str, Engine] = {e.name: e for e in (
    Engine("claude-code", "Claude Code",
           ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "claude-opus-4-5"),
           ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),
           "ANTHROPIC_BASE_URL", "/gateway/anthropic", "ANTHROPIC_API_KEY"),
    # Codex offers its apply_patch file tool only to the models in its own catalog:
    # these are from the pinned CLI's (0.171).
    Engine("codex", "Codex CLI", ("gpt-5.5", "gpt-5.4", "gpt-5.3-codex", "gpt-5.2-codex",
                                  "gpt-5.1-codex-max"),
           ("OPENAI_API_KEY",), "OPENAI_BASE_URL", "/gateway/openai/v1", "OPENAI_API_KEY"),
    Engine("gemini", "Gemini CLI", ("gemini-2.5-pro", "gemini-2.5-flash",
                                    "gemini-2.5-flash-lite"),
           ("GEMINI_API_KEY",), "GOOGLE_GEMINI_BASE_URL", "/gateway/gemini",
           "GEMINI_API_KEY"),
)}
NAMES = tuple(ENGINES)


def default_model(engine: str, service_default: str) -> str:
    """The model of a variation that names none: the service's configured default for
    Claude Code, the engine's own otherwise (a Claude model means nothing to Codex)."""
    return service_default if engine == DEFAULT_ENGINE else ENGINES[engine].models[0]


def missing_key(engine: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Why a variation of ``engine`` cannot reach its model, or None. Checked for the
    engines added beside Claude Code only: a Claude variation without a key goes on
    reaching the gateway as it always did (offline demos and tests point
    ANTHROPIC_BASE_URL at a fake model, and the upstream's own 401 is reported as
    ``authentication_failed``)."""
    if engine == DEFAULT_ENGINE or engine not in ENGINES:
        return None
    environ = os.environ if environ is None else environ
    keys = ENGINES[engine].keys
    if any(environ.get(k) for k in keys):
        return None
    return f"no {' or '.join(keys)} configured for the {engine} engine"


def catalogue(service_default: str) -> list[dict[str, object]]:
    """What the web app's form offers: each engine with its known models, default first."""
    out = []
    for e in ENGINES.values():
        first = default_model(e.name, service_default)
        out.append({"name": e.name, "label": e.label,
                    "models": [first, *(m for m in e.models if m != first)]})
    return out
