"""The environment contract between the service and the agent.

Both runtimes give each variation exactly these variables (the Kubernetes Job as env
entries, the local runtime as the process environment), so one agent entrypoint serves
both. Every knob of a variation's ``agent_config`` becomes an upper-cased variable
(``model`` -> ``MODEL``, ``max_turns`` -> ``MAX_TURNS``); user text only ever lands in
values, never in names.
"""
from __future__ import annotations

import json
from typing import Any, Mapping


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def agent_environment(*, run_id: str, variation_id: int, repo_url: str, prompt: str,
                      config: Mapping[str, Any], workspace: str) -> dict[str, str]:
    """The variables one variation's agent runs with (secrets excluded)."""
    env = {
        "RUN_ID": run_id,
        "VARIATION_ID": str(variation_id),
        "REPO_URL": repo_url,
        "PROMPT": prompt,
        "WORKSPACE": workspace,
    }
    for key, value in sorted(config.items()):
        if value is not None:
            env[key.upper()] = _env_value(value)
    return env
