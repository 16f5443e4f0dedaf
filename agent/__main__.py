"""``python -m agent``: settings → clone → (parent's change) → setup → (baseline checks) →
Claude Code → diff → checks, as protocol lines.

With ``PREPARED=1`` the workspace was cloned and set up already (the local runtime's
once-per-run prepare step, ``MODE=setup``): both are skipped and the commit is read from
the clone. ``MODE=setup`` stops after the setup.

Every run ends with exactly one terminal line: ``status`` with phase ``finished`` (exit 0)
or an ``error`` whose code maps to the exit status (see ``protocol.ERROR_EXIT_CODES``).
SIGTERM (and SIGINT) cancel whatever step is running, stop the CLI and git children, and
end with an ``error`` of code ``cancelled``.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import traceback
from typing import Any

from . import base_change, checks, clone, config, diff, engines, protocol, setup
from .output import Emitter, Scrubber, secrets_from

# After SIGTERM the run gets this long to clean up before the process exits regardless;
# well inside Kubernetes' default 30 s grace period.
CANCEL_GRACE_SECONDS = 10.0


class Agent:
    def __init__(self, emitter: Emitter) -> None:
        self.out = emitter
        self.cancelled = False
        self.exit_code: int | None = None  # set once the terminal line is out
        self._started = time.monotonic()

    def fail(self, code: str, message: str, **detail: Any) -> int:
        """Emit the terminal ``error`` line (once) and return its exit status."""
        if self.cancelled:
            # Children dying of the same SIGTERM surface as failures of the current step.
            code, message, detail = "cancelled", "the run was cancelled", {}
        if self.exit_code is None:
            self.exit_code = protocol.ERROR_EXIT_CODES[code]
            self.out.emit(protocol.ERROR, code=code, message=message,
                          **{k: v for k, v in detail.items() if v is not None})
        return self.exit_code

    def finish(self, **fields: Any) -> int:
        if self.exit_code is None:
            self.exit_code = protocol.EXIT_OK
            self.out.emit(protocol.STATUS, phase="finished", exit_code=protocol.EXIT_OK,
                          elapsed_ms=int((time.monotonic() - self._started) * 1000), **fields)
        return self.exit_code

    def cancel_now(self) -> None:
        """Last resort when cleanup after SIGTERM hangs."""
        code = self.fail("cancelled", "the run was cancelled (cleanup timed out)")
        sys.stdout.flush()
        os._exit(code)

    async def main(self, settings: config.Settings) -> int:
        engine = engines.load(settings.engine)
        self.out.emit(protocol.STATUS, phase="starting", run_id=settings.run_id,
                      variation_id=settings.variation_id, repo_url=settings.repo_url,
                      engine=engine.info(), settings=engine.report(settings))
        try:
            os.makedirs(settings.workspace, exist_ok=True)
        except OSError as exc:
            return self.fail("config_invalid", f"WORKSPACE is not usable: {exc}",
                             field="WORKSPACE")

        if settings.prepared:
            try:
                commit = await clone.checked_out(settings.clone_dir)
            except clone.CloneError as exc:
                return self.fail("clone_failed", str(exc))
            # A prepared clone has the parent's change committed already (the setup run
            # applied it): HEAD is the diff's base, the parent's commit the repository's.
            base = commit
            if settings.base_change is not None:
                commit = settings.base_change.commit
            self.out.emit(protocol.STATUS, phase="cloned", commit=commit,
                          path=settings.clone_dir, prepared=True, **_lineage(settings))
        else:
            self.out.emit(protocol.STATUS, phase="cloning", repo_url=settings.repo_url)
            try:
                commit = await clone.clone(
                    settings.repo_url, settings.clone_dir,
                    lambda line: self.out.emit(protocol.STATUS, phase="cloning",
                                               progress=line))
            except clone.CloneError as exc:
                return self.fail("clone_failed", str(exc))
            base = commit
            if settings.base_change is not None:
                # Before the setup: it may depend on what the parent's change added.
                commit = settings.base_change.commit
                try:
                    base = await base_change.apply(settings.clone_dir, settings.base_change)
                except base_change.BaseChangeError as exc:
                    return self.fail("clone_failed", "could not start from the parent's "
                                                     f"change: {exc}")
            self.out.emit(protocol.STATUS, phase="cloned", commit=commit,
                          path=settings.clone_dir, **_lineage(settings))
            finished = await setup.run(settings, self.out)
            if finished is not None and not finished["passed"]:
                return self.fail("setup_failed", setup.failure_message(finished))
        if settings.mode == "setup":
            return self.finish(commit=commit)
        if settings.checks and settings.baseline_checks:
            # The same checks on the unchanged repository, before the model touches it.
            await checks.run_all(settings.checks, repo=settings.clone_dir, emitter=self.out,
                                 baseline=True)

        # What exists besides the cloned commit before the model starts (the setup's venv,
        # say) is not the model's work: the diff leaves it out.
        try:
            untouched = await diff.untouched(settings.clone_dir, base)
        except diff.DiffError as exc:
            return self.fail("diff_failed", str(exc))

        outcome = await engine.run(settings, self.out)
        changes = None
        if outcome.has_work:
            try:
                changes = await diff.collect(settings.clone_dir, base, exclude=untouched)
            except diff.DiffError as exc:
                return self.fail("diff_failed", str(exc))
            self.out.emit(protocol.DIFF, **changes.event_fields())
            # Evidence on the variation's work: only when the agent did its work (or
            # stopped at a limit with work to show), after the diff is taken.
            await checks.run_all(settings.checks, repo=settings.clone_dir, emitter=self.out,
                                 baseline=False)
        if not outcome.ok:
            return self.fail(outcome.code or "agent_error", outcome.message,
                             **(outcome.detail or {}))
        return self.finish(files_changed=len(changes.files) if changes else 0)


def _lineage(settings: config.Settings) -> dict[str, Any]:
    """The ``cloned`` line's ``parent``, when the clone started from another run's change."""
    if settings.base_change is None:
        return {}
    return {"parent": settings.base_change.parent()}


def _signal_children(sig: int) -> None:
    """Pass the signal on to our child processes (the CLI, git).

    Left alone, the SDK first closes the CLI's stdin and gives it up to 5 s to finish the
    request in flight; the run is being cancelled, so there is nothing to wait for. Linux
    only (reads /proc); elsewhere the SDK's own shutdown still ends the children.
    """
    me = os.getpid()
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
            if ppid == me:
                os.kill(pid, sig)
        except (OSError, ValueError, IndexError):
            continue


async def _run(agent: Agent, settings: config.Settings) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def on_signal() -> None:
        if agent.cancelled:
            return
        agent.cancelled = True
        task.cancel()
        _signal_children(signal.SIGTERM)
        loop.call_later(CANCEL_GRACE_SECONDS, agent.cancel_now)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        return await agent.main(settings)
    except asyncio.CancelledError:
        return agent.fail("cancelled", "the run was cancelled")


def main() -> int:
    emitter = Emitter(Scrubber(secrets_from(os.environ)))
    agent = Agent(emitter)
    try:
        settings = config.load()
    except config.ConfigError as exc:
        return agent.fail("config_invalid", str(exc), field=exc.field)
    # The proxy is the setup command's alone (agent/setup.py hands it over): the CLI and
    # its shell inherit this process's environment.
    os.environ.pop("SETUP_PROXY", None)
    try:
        return asyncio.run(_run(agent, settings))
    except Exception as exc:  # noqa: BLE001 - the protocol promises an error line, not a traceback
        emitter.log(traceback.format_exc())
        return agent.fail("internal", f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
