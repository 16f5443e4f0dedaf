"""The interface every runtime offers, and the observations it reports."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol, Union


@dataclass(frozen=True)
class SetupSpec:
    """The run's setup command (the same for every variation of a run)."""
    command: str | None          # the request's command line; None: the repository's script
    from_repo: bool
    timeout_seconds: int

    def environment(self) -> dict[str, str]:
        """The agent's variables for it (see agent/PROTOCOL.md)."""
        env = {"SETUP_TIMEOUT_SECONDS": str(self.timeout_seconds),
               "SETUP_FROM_REPO": "1" if self.from_repo else "0"}
        if self.command:
            env["SETUP"] = self.command
        return env


@dataclass(frozen=True)
class VariationSpec:
    """Everything a runtime needs to run one variation; plain data, no models."""
    run_id: str
    index: int
    job_name: str
    repo_url: str
    prompt: str
    config: Mapping[str, Any]
    # The variation's own gateway credential (aideator.gateway.credentials), issued by the
    # orchestrator: the agent's model key and git credential.
    gateway_token: str = field(default="", repr=False)
    # The run's checks ({name, command, timeout_seconds[, junit_report]}), and whether this
    # variation also runs them on the unchanged repository first (the run's baseline).
    checks: tuple[Mapping[str, Any], ...] = ()
    baseline: bool = False
    setup: SetupSpec | None = None
    # Start from another run's variation: {commit, patch, parent_run, parent_variation}.
    base_change: Mapping[str, Any] | None = field(default=None, repr=False)
    # The run's source is a local repository's snapshot (``<run dir>/source.bundle``, local
    # runtime only), which the agent clones instead of ``repo_url``.
    local_source: bool = False


@dataclass(frozen=True)
class Waiting:
    """Not running yet (queued, being scheduled, pulling its image...)."""
    reason: str
    # Set once the variation exists somewhere (e.g. its Job was created): stored at once,
    # so a restarted service re-attaches instead of creating it again.
    handle: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Notice:
    """Something the user should see that does not change the variation's state
    (e.g. the Kubernetes API stopped answering and is being retried)."""
    message: str


@dataclass(frozen=True)
class WarningEvent:
    """A warning the cluster recorded about the variation (a Kubernetes Warning Event on its
    Job or pod), as it stands now: reported again whenever it repeats or is listed again,
    so whoever stores it decides what is news."""
    reason: str                          # e.g. FailedScheduling, FailedMount, Failed
    message: str
    object: str                          # kind/name, e.g. pod/agent-run-x-0-abcde
    count: int                           # how often the cluster has seen it
    first_seen: str | None               # RFC 3339, as the cluster reports
    last_seen: str | None


@dataclass(frozen=True)
class Started:
    source: str                          # process or pod name, shown with each line
    handle: Mapping[str, Any] = field(default_factory=dict)  # how to find it again


@dataclass(frozen=True)
class Output:
    lines: list[str]
    cursor: str                          # resuming after this cursor repeats nothing


# Why a variation failed, as a small fixed set (metrics count by it; ``reason`` tells more).
CAUSES = frozenset({"image_pull", "unschedulable", "oom", "deadline", "exit_code", "killed",
                    "cancelled", "deleted", "create_failed", "start_failed", "lost",
                    "internal", "pids", "disk", "other"})


@dataclass(frozen=True)
class Exited:
    ok: bool
    reason: str
    exit_code: int | None = None
    cause: str = "other"                 # one of CAUSES, when not ok


Observation = Union[Waiting, Notice, WarningEvent, Started, Output, Exited]


class Runtime(Protocol):
    name: str

    def watch(self, spec: VariationSpec, *, handle: Mapping[str, Any] | None,
              cursor: str | None) -> Iterator[Observation]:
        """Run (or re-attach to) a variation and report on it until it has exited.

        ``handle`` and ``cursor`` are what an earlier watch reported; with a handle the
        variation was already started and is re-attached, never started twice.
        """

    def cancel(self, run_id: str, handles: Mapping[int, Mapping[str, Any] | None]) -> None:
        """Stop these variations of a run (index -> handle, None if never started)."""

    def remove(self, run_id: str) -> None:
        """The run has been deleted: remove what this runtime keeps of it outside the
        database (workspaces and logs, Jobs). Its variations have all ended."""

    def job_counts(self, run_id: str) -> dict[int, dict[str, int]] | None:
        """Live active/succeeded/failed counts per variation, or None to use the stored
        states (the local runtime's processes are fully described by them)."""

    def health(self) -> dict[str, Any]:
        """Whether this runtime can run variations now, for /health: ``ok`` and, for a
        cluster, ``kubernetes`` (whether its API answers)."""
