"""Settings, read from ``AIDEATOR_*`` environment variables (how Helm values arrive).

Every setting, its variable and its default are listed in ``SETTINGS``; the README's
configuration table is this list.
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

DEFAULT_MODEL = "claude-sonnet-4-5"


def _agent_command() -> tuple[str, ...]:
    return (sys.executable, "-m", "agent")


@dataclass(frozen=True)
class Settings:
    # Where variations run: "local" (processes on this machine) or "kubernetes" (Jobs).
    runtime: str = "local"
    # Working data: the SQLite database, per-variation workspaces and logs.
    data_dir: str = "./data"
    # Database URL: empty means sqlite:///<data_dir>/aideator.db; postgresql://user:pw@host/db
    # for PostgreSQL, which several replicas (or gunicorn workers) share.
    database_url: str = ""
    # PostgreSQL connections each worker process may open at most (a pool).
    db_pool_size: int = 20
    # Origins allowed to call the API from a browser ("*" or a comma-separated list);
    # empty: none (the web app is served from the service's own origin).
    cors_origins: str = ""
    # Host names the service answers to besides localhost, 127.0.0.1 and the bound address
    # (comma-separated; ".example.com" matches its subdomains). Empty: with auth off only
    # those (so no other site, nor a DNS-rebinding page, can drive it); with auth
    # required, any name.
    trusted_hosts: str = ""
    # Connections one gevent worker serves at once (gunicorn's worker_connections).
    worker_connections: int = 2000
    # SSE streams one principal, and one stream link, may hold open in one worker (beyond:
    # 429). Streams of all callers together stop short of worker_connections, so probes
    # and API calls always find a connection.
    max_streams_per_principal: int = 100
    max_streams_per_link: int = 20
    # Largest request body accepted, in bytes.
    max_body_bytes: int = 64 * 1024
    # Model used when a request names none.
    default_model: str = DEFAULT_MODEL
    # Variations running at once on the local runtime; the rest wait in a queue.
    max_concurrent_variations: int = 5
    # Command that runs one variation locally (the agent entrypoint).
    agent_command: tuple[str, ...] = field(default_factory=_agent_command)
    # How the local runtime contains its agents: "bubblewrap" (each variation in its own
    # sandbox; without bwrap and socat no agent starts) or "off" (agents run unsandboxed as
    # the service's own user: an explicit opt-out, reported in the log and in /health).
    sandbox: str = "bubblewrap"
    # Seconds a cancelled variation gets to stop after SIGTERM before SIGKILL.
    cancel_grace_seconds: float = 5.0
    # Caps of each local variation and of each run's setup (runtimes/limits.py): processes
    # and threads at once, memory, MiB written in its directory (workspace, HOME, log), open
    # files per process. Its wall time is AIDEATOR_JOB_DEADLINE_SECONDS.
    sandbox_max_processes: int = 1024
    sandbox_memory_mb: int = 4096
    sandbox_disk_mb: int = 10240
    sandbox_open_files: int = 4096
    # Seconds between SSE heartbeat comments on an idle stream.
    sse_heartbeat_seconds: float = 15.0
    # Seconds the event log waits to batch writes before committing them.
    flush_interval_seconds: float = 0.02
    # Events kept in memory per live run for fan-out (older ones are read from the DB).
    fanout_window: int = 50_000
    # Days a finished run is kept (its events, diffs, prompt and local workspace); then
    # every replica's retention pass deletes it (each run once). 0: kept until deleted
    # (DELETE /api/v1/runs/{id}). Fractions allowed.
    retention_days: float = 0.0
    # Seconds between retention passes of each process.
    retention_check_seconds: float = 300.0

    # Port of GET /metrics (Prometheus), served by gunicorn's master for all its workers on
    # the API's host (AIDEATOR_BIND), never on the API port itself. 0: no metrics.
    metrics_port: int = 9464

    # -- Logs (aideator/ops/logs.py) -----------------------------------------------------------
    # "json" (one object per line) or "text"; empty: text on a terminal, else json.
    log_format: str = ""
    # Lowest level logged: debug, info, warning, error or critical.
    log_level: str = "info"

    # -- Replicas (several processes sharing one database) -------------------------------
    # Seconds a replica's lease on a run lasts; it renews it every quarter of that, and
    # another replica takes over a dead one's runs within about 1.25 times it.
    lease_seconds: float = 10.0
    # Name of this replica in leases and events; empty means the host name (the pod name).
    replica_name: str = ""
    # Seconds between reads of the store for runs owned by another replica, when no
    # notification wakes the reader first (SQLite has none; on PostgreSQL a fallback).
    store_poll_seconds: float = 0.2

    # -- Access control and spending limits (see ``auth``, ``limits``) --------------------
    # "off" (anyone who reaches the API may use it: the loopback default of `make run`) or
    # "required" (a bearer token on every /api/v1 call but health and the OpenAPI document).
    auth: str = "off"
    # Lets auth "off" listen on a non-loopback address (gunicorn.conf.py refuses otherwise).
    insecure_allow_no_auth: bool = False
    # An admin token usable from the first minute (the chart takes it from a Secret).
    admin_token: str = field(default="", repr=False)
    # Key that signs stream links; empty: one generated once and kept in the database,
    # shared by every replica.
    secret_key: str = field(default="", repr=False)
    # Seconds a signed stream link (the stream_url of a run) stays valid.
    stream_token_seconds: int = 3600
    # Per principal, unless its token overrides them (0: no limit): unfinished runs at
    # once, runs started in any hour, and the ceiling of max_budget_usd per variation (a
    # request without one gets the ceiling, which the agent itself enforces).
    limit_concurrent_runs: int = 10
    limit_runs_per_hour: int = 60
    limit_max_budget_usd: float = 5.0

    # -- Model gateway (aideator/gateway/): agents reach models and git only through it ---
    # Base URL agents use to reach this service's gateway when no local bridge serves it:
    # on Kubernetes the API's in-cluster Service URL (e.g. http://aideator.aideator:8000);
    # empty: http://<AIDEATOR_BIND> (loopback), for the local runtime without a sandbox.
    gateway_url: str = ""
    # Where git clones come from: the gateway passes git's smart HTTP (read-only) through
    # to this host (a mirror, or a fake one in tests).
    github_url: str = "https://github.com"
    # Where GitHub's REST API is: pull requests and the token check (GitHub Enterprise
    # Server: https://<host>/api/v3).
    github_api_url: str = "https://api.github.com"
    # Key that encrypts the GitHub tokens principals connect, at rest (any string; the
    # chart takes it from a Secret). Empty: derived from AIDEATOR_SECRET_KEY; without
    # either, one generated once into <data_dir>/encryption.key (one machine only).
    encryption_key: str = field(default="", repr=False)
    # A YAML file of model prices (USD per million tokens) for models the built-in table
    # (aideator/gateway/prices.yaml) does not know, or to override it.
    prices_file: str = ""
    # Seconds a variation's gateway credential stays valid at most (it is refused sooner,
    # as soon as the variation has ended).
    gateway_token_seconds: int = 86400

    # -- Setup egress (aideator/egress/): registries a run's setup command may reach -------
    # Comma- or space-separated hosts ("pypi.org", any port 80/443), "host:port", or an exact
    # "IP:port" (the only way to allow a private or loopback address).
    egress_allow: str = ("pypi.org files.pythonhosted.org registry.npmjs.org proxy.golang.org "
                         "sum.golang.org crates.io static.crates.io index.crates.io "
                         "rubygems.org deb.debian.org security.debian.org")
    # Kubernetes: a PersistentVolumeClaim mounted in every agent pod at
    # AIDEATOR_SETUP_CACHE_DIR as the setup's package cache (pip, npm, Go, cargo). It is
    # shared by concurrent pods, so ReadWriteMany. Empty: no cache volume.
    setup_cache_claim: str = ""
    setup_cache_dir: str = "/cache"

    # -- Local repositories as a run's source (``repo_path``; local runtime only) ---------
    # Comma-separated directories a run's repo_path may lie under. Empty: any path this
    # service's user can read, but only for requests from this machine (a loopback peer),
    # as the `aideator` command line makes them.
    local_repo_roots: str = ""
    # Largest snapshot (the git bundle of the commit and its history) a run may take, MiB.
    local_repo_max_mb: int = 500

    # -- Kubernetes runtime (AIDEATOR_RUNTIME=kubernetes) --------------------------------
    # Namespace the agent Jobs run in.
    kube_namespace: str = "default"
    # Kubeconfig file; empty: in-cluster config inside a pod, else the usual kubeconfig.
    kube_config: str = ""
    # Agent container image and its pull policy.
    agent_image: str = "aideator-agent:latest"
    agent_image_pull_policy: str = "IfNotPresent"
    # Seconds a finished Job (with its pod and logs) is kept before Kubernetes deletes it.
    job_ttl_seconds: int = 3600
    # Seconds a variation may run: a Job's activeDeadlineSeconds (Kubernetes stops it,
    # DeadlineExceeded); a local variation is killed with everything it started.
    job_deadline_seconds: int = 1800
    # Agent container resources.
    agent_cpu_request: str = "250m"
    agent_cpu_limit: str = "1"
    agent_memory_request: str = "512Mi"
    agent_memory_limit: str = "2Gi"
    # Agent container ephemeral storage (workspace, HOME, /tmp, logs): over it, evicted.
    agent_ephemeral_storage_request: str = "1Gi"
    agent_ephemeral_storage_limit: str = "10Gi"
    # RuntimeClass of the agent pods (e.g. gVisor's "gvisor", Kata's "kata"): a kernel
    # boundary between the model's commands and the node. Empty: the cluster's default.
    agent_runtime_class: str = ""


ENV_PREFIX = "AIDEATOR_"
AUTH_MODES = ("off", "required")
SANDBOX_MODES = ("bubblewrap", "off")


def _convert(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, tuple):
        return tuple(shlex.split(raw))
    return raw


def load_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then ``AIDEATOR_<NAME>`` variables, then explicit overrides (tests)."""
    environ = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw != "":
            try:
                values[f.name] = _convert(raw, getattr(defaults, f.name))
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{f.name.upper()}: {exc}") from None
    values.update(overrides or {})
    settings = Settings(**values)
    if settings.runtime not in ("local", "kubernetes"):
        raise ValueError(f"{ENV_PREFIX}RUNTIME must be 'local' or 'kubernetes', "
                         f"not {settings.runtime!r}")
    if settings.sandbox not in SANDBOX_MODES:
        raise ValueError(f"{ENV_PREFIX}SANDBOX must be 'bubblewrap' or 'off', "
                         f"not {settings.sandbox!r}")
    if settings.lease_seconds < 1:
        raise ValueError(f"{ENV_PREFIX}LEASE_SECONDS must be at least 1")
    if settings.auth not in AUTH_MODES:
        raise ValueError(f"{ENV_PREFIX}AUTH must be 'off' or 'required', not {settings.auth!r}")
    if settings.stream_token_seconds < 1:
        raise ValueError(f"{ENV_PREFIX}STREAM_TOKEN_SECONDS must be at least 1")
    if settings.log_format not in ("", "json", "text"):
        raise ValueError(f"{ENV_PREFIX}LOG_FORMAT must be 'json' or 'text', "
                         f"not {settings.log_format!r}")
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"{ENV_PREFIX}LOG_LEVEL must be debug, info, warning, error or "
                         f"critical, not {settings.log_level!r}")
    if settings.gateway_token_seconds < 60:
        raise ValueError(f"{ENV_PREFIX}GATEWAY_TOKEN_SECONDS must be at least 60")
    if settings.retention_days < 0 or settings.retention_check_seconds <= 0:
        raise ValueError(f"{ENV_PREFIX}RETENTION_DAYS must be 0 (off) or more, and "
                         f"{ENV_PREFIX}RETENTION_CHECK_SECONDS more than 0")
    if not 0 <= settings.metrics_port <= 65535:
        raise ValueError(f"{ENV_PREFIX}METRICS_PORT must be a port (0 to 65535; 0: off)")
    if min(settings.sandbox_max_processes, settings.sandbox_memory_mb, settings.sandbox_disk_mb,
           settings.sandbox_open_files, settings.job_deadline_seconds) < 1:
        raise ValueError(f"{ENV_PREFIX}SANDBOX_MAX_PROCESSES, _MEMORY_MB, _DISK_MB, "
                         f"_OPEN_FILES and {ENV_PREFIX}JOB_DEADLINE_SECONDS must be at least 1")
    if settings.db_pool_size < 2:
        raise ValueError(f"{ENV_PREFIX}DB_POOL_SIZE must be at least 2")
    return settings


def gateway_url(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The base URL agents reach the gateway at (see ``Settings.gateway_url``)."""
    if settings.gateway_url:
        return settings.gateway_url.rstrip("/")
    environ = os.environ if environ is None else environ
    host, _, port = environ.get("AIDEATOR_BIND", "127.0.0.1:8000").rpartition(":")
    if host in ("0.0.0.0", "", "::", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def trusted_hosts(settings: Settings, environ: Mapping[str, str] | None = None
                  ) -> list[str] | None:
    """The host names requests may name (see ``Settings.trusted_hosts``); None: any."""
    configured = [h.strip() for h in settings.trusted_hosts.split(",") if h.strip()]
    if not configured and settings.auth != "off":
        return None
    environ = os.environ if environ is None else environ
    host = environ.get("AIDEATOR_BIND", "127.0.0.1:8000").rpartition(":")[0].strip("[]")
    names = ["localhost", "127.0.0.1"]
    if host and host not in ("0.0.0.0", "::"):
        names.append(host)
    return list(dict.fromkeys(names + configured))


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return "sqlite:///" + os.path.abspath(os.path.join(settings.data_dir, "aideator.db"))
