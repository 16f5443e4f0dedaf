"""The environment contract between the service and the agent.

Both runtimes give each variation exactly these variables (the Kubernetes Job as env
entries, the local runtime as the process environment), so one agent entrypoint serves
both. Every knob of a variation's ``agent_config`` becomes an upper-cased variable
(``model`` -> ``MODEL``, ``max_turns`` -> ``MAX_TURNS``); user text only ever lands in
values, never in names.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from . import engines

# The variables that carry the user's text (the prompt, the setup and the checks' commands)
# or the variation's credential (the key, git's Authorization header, the setup's proxy
# URL): the Kubernetes runtime passes them through a Secret, never in the Job spec that
# anyone allowed to ``get jobs`` can read and etcd keeps.
SECRET_VARIABLES = frozenset({"PROMPT", "SETUP", "CHECKS", "ANTHROPIC_API_KEY",
                              "OPENAI_API_KEY", "GEMINI_API_KEY",
                              "GIT_CONFIG_VALUE_1", "SETUP_PROXY"})
# Where an agent finds the parent variation's change when it iterates on one (the user's
# code, up to MAX_CHANGE_BYTES of aideator/api/lineage.py: far more than an environment
# variable may hold, so a file, whose path is BASE_PATCH_FILE): read-only, outside the
# clone. The same path on both runtimes: the Kubernetes runtime mounts the Job's Secret
# key BASE_PATCH_KEY here, the sandboxed local runtime binds its file of the run here.
BASE_PATCH_DIR = "/run/aideator-change"
BASE_PATCH_KEY = "base.patch"
BASE_PATCH_PATH = f"{BASE_PATCH_DIR}/{BASE_PATCH_KEY}"
# Where an agent finds its run's source when it comes from a local repository: a git
# bundle of the snapshot (REPO_URL names it), bound read-only by the sandboxed local runtime.
SOURCE_DIR = "/run/aideator-source"
SOURCE_PATH = f"{SOURCE_DIR}/source.bundle"
# Knobs of a variation's config that are not agent settings: the prompt travels as PROMPT.
_NOT_KNOBS = frozenset({"prompt"})


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def gateway_environment(gateway_url: str, gateway_token: str,
                        engine: str = engines.DEFAULT_ENGINE) -> dict[str, str]:
    """How the agent reaches models and git: only through the service's gateway, with its
    variation's credential (the real model key never reaches it)."""
    base = gateway_url.rstrip("/")
    # Only the engine's own variables: another vendor's would be a credential it never uses.
    own = engines.ENGINES.get(engine) or engines.ENGINES[engines.DEFAULT_ENGINE]
    return {
        own.url_variable: f"{base}{own.route}",
        own.key_variable: gateway_token,
        # https://github.com/<owner>/<repo> -> the gateway's read-only git pass-through.
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": f"url.{base}/gateway/git/.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://github.com/",
        "GIT_CONFIG_KEY_1": f"http.{base}/gateway/git/.extraHeader",
        "GIT_CONFIG_VALUE_1": f"Authorization: Bearer {gateway_token}",
    }


def agent_environment(*, run_id: str, variation_id: int, repo_url: str, prompt: str,
                      config: Mapping[str, Any], workspace: str, gateway_url: str = "",
                      gateway_token: str = "",
                      checks: Sequence[Mapping[str, Any]] = (),
                      baseline: bool = False,
                      base_change: Mapping[str, Any] | None = None,
                      base_patch_file: str = BASE_PATCH_PATH) -> dict[str, str]:
    """The variables one variation's agent runs with (secrets excluded).

    ``prompt`` is the one this variation runs (its own or the run's). ``ENGINE`` names
    its engine. With a ``gateway_url`` the agent reaches the model and GitHub through the
    service's gateway only, with its own ``gateway_token``: the engine by its CLI's base
    URL and key variables, git by a URL rewrite and a header (GIT_CONFIG_* variables, so
    no file is written). With a ``base_change`` its patch is not in the environment: the
    runtime puts it in the file ``base_patch_file`` (the path as the agent sees it)."""
    engine = config.get("engine") or engines.DEFAULT_ENGINE
    env = {
        "RUN_ID": run_id,
        "VARIATION_ID": str(variation_id),
        "REPO_URL": repo_url,
        "WORKSPACE": workspace,
    }
    if checks:
        # The run's checks as one JSON value (user text in a value, never in a name); the
        # agent runs them in its sandbox or pod, with no credential in their environment.
        env["CHECKS"] = json.dumps([dict(c) for c in checks], separators=(",", ":"),
                                   ensure_ascii=False)
        if baseline:
            env["BASELINE_CHECKS"] = "1"
    for key, value in sorted(config.items()):
        if value is not None and key not in _NOT_KNOBS:
            env[key.upper()] = _env_value(value)
    env["PROMPT"] = prompt
    env["ENGINE"] = engine
    if base_change:
        # Start from another run's variation (agent/base_change.py applies it).
        env["BASE_PATCH_FILE"] = base_patch_file
        env["BASE_COMMIT"] = base_change["commit"]
        env["PARENT_RUN_ID"] = str(base_change.get("parent_run") or "")
        env["PARENT_VARIATION_ID"] = str(base_change.get("parent_variation") or 0)
    if gateway_url:
        env.update(gateway_environment(gateway_url, gateway_token, engine))
    return env


def base_patch_bytes(base_change: Mapping[str, Any]) -> bytes:
    """The content of the file BASE_PATCH_FILE names: the stored patch, as UTF-8."""
    return base_change["patch"].encode("utf-8", "surrogateescape")


def setup_environment(setup: Mapping[str, str], gateway_url: str, gateway_token: str,
                      settings: Any) -> dict[str, str]:
    """A Kubernetes pod's setup variables: the setup itself, the egress proxy (the
    service's own address, with the variation's credential as the proxy password: see
    aideator/egress/window.py) and, when the chart gives one, the package cache."""
    url = urlsplit(gateway_url)
    env = dict(setup)
    env["SETUP_PROXY"] = f"{url.scheme}://setup:{gateway_token}@{url.netloc}"
    if settings.setup_cache_claim:
        env["SETUP_CACHE_DIR"] = settings.setup_cache_dir
    return env
