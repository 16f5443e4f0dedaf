"""The coding agents a variation can run, behind one interface.

Each engine is registered in ``_ENGINES`` (its default model, and the environment
variables any one of which gives it a model credential: checked at start-up) and is a
module here with:
- ``NAME``: what ``ENGINE`` names;
- ``info() -> dict``: the ``engine`` object of the first ``status`` line (``name``,
  ``version``, plus what identifies the build);
- ``report(settings) -> {"applied": {...}, "not_applied": {knob: {value, reason}}}``;
- ``async run(settings, emitter) -> Outcome``: runs the engine on ``settings.clone_dir``,
  emits its work as protocol lines (``status running``/``retrying``, thinking, text,
  tool calls and results, ``result``) and says how it ended. The clone, setup, checks and
  diff around it are the agent's, the same for every engine.

Only this package knows which engines exist: ``agent.config`` asks it for the names, the
default models and the credential variables without importing an engine (an engine may
import its vendor's SDK).
"""
from __future__ import annotations

import importlib
from types import ModuleType

# Engine name -> (module, default model, credential variables).
_ENGINES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "claude-code": ("claude_code", "claude-sonnet-4-5",
                    ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
                     "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX",
                     "CLAUDE_CODE_USE_FOUNDRY")),
    "codex": ("codex", "gpt-5.5", ("OPENAI_API_KEY",)),
    "gemini": ("gemini", "gemini-2.5-pro", ("GEMINI_API_KEY",)),
}
DEFAULT_ENGINE = "claude-code"
NAMES = tuple(_ENGINES)


def default_model(name: str) -> str:
    return _ENGINES[name][1]


def credentials(name: str) -> tuple[str, ...]:
    return _ENGINES[name][2]


def load(name: str) -> ModuleType:
    return importlib.import_module(f".{_ENGINES[name][0]}", __name__)
