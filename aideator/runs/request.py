"""Turns a validated run request into one agent configuration per variation, and its
checks into the list every variation runs."""
from __future__ import annotations

from typing import Any, Mapping

from ..runtimes import engines
from ..schemas import ValidationFailed

DEFAULT_VARIATIONS = 3
DEFAULT_SETUP_TIMEOUT = 600
DEFAULT_CHECK_TIMEOUT = 300


def checks(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's checks, defaults filled in; names must be unique (which no JSON Schema
    states for a property of array items)."""
    found: list[dict[str, Any]] = []
    for i, check in enumerate(body.get("checks") or []):
        if any(c["name"] == check["name"] for c in found):
            raise ValidationFailed(f"checks.{i}.name", f"checks.{i}.name: another check is "
                                                       f"already named {check['name']!r}")
        report = check.get("junit_report")
        # Not in the schema's pattern: a look-ahead there makes generating valid requests
        # (the contract test's fuzzing) hundreds of times slower.
        if report and ".." in report.split("/"):
            raise ValidationFailed(f"checks.{i}.junit_report",
                                   f"checks.{i}.junit_report: must be a relative path inside "
                                   "the repository (no '..' part)")
        found.append({"name": check["name"], "command": check["command"],
                      "timeout_seconds": int(check.get("timeout_seconds",
                                                       DEFAULT_CHECK_TIMEOUT)),
                      **({"junit_report": check["junit_report"]}
                         if check.get("junit_report") else {})})
    return found


def variation_configs(body: Mapping[str, Any], default_model: str) -> list[dict[str, Any]]:
    """``agent_config`` over the defaults, then ``variation_configs[i]`` over that; each
    with its ``engine`` and ``model`` filled in. A model comes from the nearest level that
    names one; a variation that names another engine than the run's but no model gets
    that engine's default (never the run's model, which belongs to another vendor)."""
    base = dict(body.get("agent_config", {}))
    overrides = body.get("variation_configs") or []
    count = int(body.get("variations", len(overrides) or DEFAULT_VARIATIONS))
    if len(overrides) > count:
        raise ValidationFailed("variation_configs",
                               f"variation_configs: has {len(overrides)} items but "
                               f"variations is {count}")
    base_engine = base.get("engine") or engines.DEFAULT_ENGINE
    configs = []
    for i in range(count):
        own = dict(overrides[i]) if i < len(overrides) else {}
        _check_prompt(own.get("prompt"), f"variation_configs.{i}.prompt")
        engine = own.get("engine") or base_engine
        if "model" in own:
            model = own["model"]
        elif "model" in base and engine == base_engine:
            model = base["model"]
        else:
            model = engines.default_model(engine, default_model)
        configs.append({**base, **own, "engine": engine, "model": model})
    return configs


def _check_prompt(prompt: str | None, field: str) -> None:
    """A variation's prompt follows the run's rules; in code rather than in the schema's
    pattern, which makes the contract test's request generation far slower per item."""
    if prompt is None:
        return
    if "\x00" in prompt:
        raise ValidationFailed(field, f"{field}: must not contain NUL characters (it travels "
                                      "in an environment variable)")
    if not prompt.strip():
        raise ValidationFailed(field, f"{field}: must not be blank")


def setup_request(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run's setup as each variation stores it before it runs (``Variation.setup``;
    the outcome fields are filled in by the agent's ``setup_finished``), or None."""
    command = body.get("setup")
    from_repo = bool(body.get("setup_from_repo", False))
    timeout = int(body.get("setup_timeout_seconds", DEFAULT_SETUP_TIMEOUT))
    if command is None and not from_repo:
        if "setup_timeout_seconds" in body:
            raise ValidationFailed("setup_timeout_seconds",
                                   "setup_timeout_seconds: needs setup or setup_from_repo")
        return None
    return {"command": command, "source": "request" if command is not None else "repository",
            "from_repo": from_repo, "timeout_seconds": timeout, "passed": None,
            "exit_code": None, "duration_ms": None, "timed_out": None, "reason": None}
