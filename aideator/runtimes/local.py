"""The embedded runtime: each variation is a local process group in its own directory.

A variation's directory (``<data_dir>/runs/<run_id>/<n>/``) holds its workspace, its
HOME, ``output.log`` (stdout and stderr, written by the process itself so nothing is
lost when the service restarts) and ``exit.json`` (written by the launcher). Output is
followed by byte offset, which is the cursor.

Each variation runs in a bubblewrap sandbox (``sandbox.py``): launcher (outside) -> bwrap
-> ``sandbox-init.sh`` -> the agent command, reaching the service's gateway only, through
the Unix socket this process serves in ``bridge/`` while it watches the variation
(``bridge.py``). Where no sandbox can be made, variations fail at once saying why, unless
the user opted out (AIDEATOR_SANDBOX=off: agents run as before, as the service's user).

Several processes (gunicorn workers, replicas on one machine) share the data directory:
a variation is launched by whoever creates its ``output.log`` first (O_EXCL), and anyone
else re-attaches to it through ``launcher.pid``, so no agent is ever started twice.

A run with a setup is set up once (``prepare.py``): its ``setup/`` directory is launched
the same way, with the egress proxy bridged in, and each variation starts from a copy.

A run iterating on a variation has the parent's change in ``<run_id>/base.patch``
(beside its variations' directories, so in no workspace and no diff; removed with the
run): each of its agents, and its setup, read it at ``BASE_PATCH_FILE`` (inside the
sandbox, bound read-only at ``agent_env.BASE_PATCH_PATH``).

A run from a local repository has its snapshot in ``<run_id>/source.bundle`` (written by
the API before the run is stored, ``runs/snapshot.py``): its agents, and its setup, clone
it from ``agent_env.SOURCE_PATH``, where it is bound read-only; the person's directory is
never in a sandbox.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from typing import Any, Generator, Iterator, Mapping

import gevent
import gevent.event
import gevent.lock
import psutil

import agent

from ..config import Settings, gateway_url
from ..egress import policy as egress_policy
from ..egress.proxy import EgressProxy
from ..naming import is_run_id
from ..ops import tracing
from . import prepare, sandbox
from .agent_env import BASE_PATCH_PATH, SOURCE_PATH, agent_environment, base_patch_bytes
from .base import Exited, Observation, Output, Started, VariationSpec, Waiting
from .bridge import Bridges, WSGIApp, no_gateway, socket_dir
from .limits import Caps, Limits, read_breach
from .processes import alive, exit_from_status, launched_handle, read_status, reap, split_lines
from .sandbox_probe import Availability, probe
from .slots import Slots

log = logging.getLogger(__name__)

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.sh")
# Only these of the server's variables reach an agent (plus PATH to find git/python). Not
# ANTHROPIC_* nor GIT_CONFIG_*: the model key stays in the service (the gateway's
# upstream), and the agent's model and git settings point at the gateway.
PASSTHROUGH_PREFIXES = ("CLAUDE_CODE_",)
# The parent variation's change, in the run's directory (a run iterating on one).
BASE_PATCH = "base.patch"
# A local repository's snapshot, in the run's directory (runs/snapshot.py writes it).
SOURCE_BUNDLE = "source.bundle"
READ_SIZE = 1 << 18
MAX_LINE = 1 << 20
# How often an idle variation's log is checked for more output: soon after output stops
# (agents write in bursts), then less often while it stays quiet.
POLL_MIN, POLL_MAX = 0.005, 0.05
# How often a followed variation is checked against its caps (limits.py), at least: the
# check that walks its directory waits longer when that walk is slow.
LIMIT_CHECK_SECONDS = 0.25


def passthrough_environment(environ: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in environ.items() if k.startswith(PASSTHROUGH_PREFIXES)}
    if "PATH" in environ:
        env["PATH"] = environ["PATH"]
    return env


class LocalRuntime:
    name = "local"

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None, *,
                 gateway_app: WSGIApp | None = None,
                 availability: Availability | None = None) -> None:
        self._settings = settings
        self._root = os.path.abspath(os.path.join(settings.data_dir, "runs"))
        environ = os.environ if environ is None else environ
        self._sandbox = availability or probe(settings.sandbox)
        self._limits = Limits(Caps(pids=settings.sandbox_max_processes,
                                   memory_bytes=settings.sandbox_memory_mb << 20,
                                   disk_bytes=settings.sandbox_disk_mb << 20,
                                   open_files=settings.sandbox_open_files,
                                   wall_seconds=settings.job_deadline_seconds),
                              settings.data_dir)
        self._passthrough = passthrough_environment(environ)
        self._slots = Slots(settings.max_concurrent_variations)
        self._tickets: dict[tuple[str, int], gevent.event.AsyncResult] = {}
        self._bridges = Bridges(gateway_app or no_gateway)
        # The setup egress proxy, bridged into each run's setup sandbox (prepare.py).
        self._egress = EgressProxy(egress_policy.parse(settings.egress_allow))
        self._setups: dict[str, Mapping[str, Any]] = {}   # run id -> its setup's handle
        self._setup_lock = gevent.lock.RLock()
        # What the agent command needs readable inside (found once: the command is fixed).
        self._readable = sandbox.readable(
            [*sandbox.runtime_paths(settings.agent_command, path_env=environ.get("PATH")),
             sandbox.agent_package()],
            hidden=[settings.data_dir])
        if self._sandbox.state == "off":
            log.warning("agents run unsandboxed (AIDEATOR_SANDBOX=off): each one can read "
                        "and write what this service's user can, and reach the network")
        elif not self._sandbox.sandboxed:
            log.error("%s", self._sandbox.problem)

    # -- paths and process start -------------------------------------------------------
    def _dir(self, run_id: str, index: int) -> str:
        return os.path.join(self._root, run_id, str(index))

    def _base_patch(self, spec: VariationSpec) -> str | None:
        """The run's file of its parent's change (written once, by whoever gets here
        first; every writer writes the same bytes), or None for a run that starts from
        the repository."""
        if not spec.base_change:
            return None
        path = os.path.join(self._root, spec.run_id, BASE_PATCH)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, part = tempfile.mkstemp(prefix=f".{BASE_PATCH}.", dir=os.path.dirname(path))
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(base_patch_bytes(spec.base_change))
                os.replace(part, path)   # whole or absent: an agent never reads half of it
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(part)
                raise
        return path

    def _source(self, spec: VariationSpec) -> str | None:
        """The run's snapshot bundle (a run from a local repository), or None."""
        return os.path.join(self._root, spec.run_id, SOURCE_BUNDLE) if spec.local_source \
            else None

    def _prepared_dir(self, spec: VariationSpec) -> str | None:
        """The run's setup directory when its variations start from a prepared workspace:
        sandboxed runs with a setup. Unsandboxed (the opt-out), each variation runs the
        setup itself, with this machine's network (the sandbox is what makes the copy's
        paths line up and what keeps the egress to the allow-list)."""
        if spec.setup is None or not self._sandbox.sandboxed:
            return None
        return prepare.setup_dir(os.path.join(self._root, spec.run_id))

    def _environment(self, spec: VariationSpec, directory: str, *,
                     inside: str | None = None, mode: str = "run") -> dict[str, str]:
        """The agent's environment; ``inside``: the directory its files appear under in
        its sandbox (the run's setup directory, for a prepared variation)."""
        env = dict(self._passthrough)
        where = inside or directory
        # The parent's change: bound at BASE_PATCH_PATH in the sandbox, else read in place.
        patch_file = (BASE_PATCH_PATH if self._sandbox.sandboxed
                      else self._base_patch(spec) or "")
        # Sandboxed, the gateway is on the sandbox's own loopback (the bridge); unsandboxed
        # (the opt-out), at the service's own address.
        gateway = (f"http://127.0.0.1:{sandbox.BRIDGE_PORT}" if self._sandbox.sandboxed
                   else gateway_url(self._settings))
        source = self._source(spec)
        repo_url = (SOURCE_PATH if self._sandbox.sandboxed else source) if source \
            else spec.repo_url
        env.update(agent_environment(run_id=spec.run_id, variation_id=spec.index,
                                     repo_url=repo_url, prompt=spec.prompt,
                                     config=spec.config,
                                     workspace=os.path.join(where, "workspace"),
                                     gateway_url=gateway, gateway_token=spec.gateway_token,
                                     checks=spec.checks, baseline=spec.baseline,
                                     base_change=spec.base_change,
                                     base_patch_file=patch_file))
        env["HOME"] = os.path.join(where, "home")
        # The default command is ``python -m agent``: let it find the agent package.
        env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(agent.__file__)))
        if mode == "setup":
            assert spec.setup is not None
            env.update(spec.setup.environment(), MODE="setup",
                       SETUP_PROXY=f"http://127.0.0.1:{sandbox.EGRESS_PORT}")
        elif inside is not None:
            env["PREPARED"] = "1"
        elif spec.setup is not None:
            env.update(spec.setup.environment())
        return env

    def _argv(self, directory: str, *, inside: str | None = None, egress: bool = False,
              base_patch: str | None = None, source: str | None = None) -> list[str]:
        """The launcher's command line: the agent command, in its sandbox unless opted out."""
        rlimits = self._limits.rlimit_argv()
        if not self._sandbox.sandboxed:
            return ["/bin/sh", LAUNCHER, directory, *rlimits, *self._settings.agent_command]
        etc = os.path.join(directory, "etc")
        os.makedirs(etc, exist_ok=True)
        home = os.path.join(directory, "home")
        mounts = sandbox.Mounts(directory=directory,
                                workspace=os.path.join(directory, "workspace"), home=home,
                                bridge=socket_dir(directory),
                                passwd=os.path.join(etc, "passwd"),
                                group=os.path.join(etc, "group"), inside=inside,
                                base_patch=base_patch, source=source)
        for name, text in sandbox.etc_files(mounts.at(home)).items():
            with open(os.path.join(etc, name), "w") as f:
                f.write(text)
        return ["/bin/sh", LAUNCHER, "--sandbox", directory, *rlimits,
                *sandbox.bwrap_argv(self._settings.agent_command, mounts,
                                    readable_paths=self._readable, egress=egress)]

    def _spawn(self, spec: VariationSpec) -> dict[str, Any]:
        """Launch the variation; if it was launched already, its handle."""
        directory = self._dir(spec.run_id, spec.index)
        inside = self._prepared_dir(spec)
        return self._launch(directory, self._argv(directory, inside=inside,
                                                  base_patch=self._base_patch(spec),
                                                  source=self._source(spec)),
                            self._environment(spec, directory, inside=inside))

    def _launch(self, directory: str, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
        """Start ``argv`` through the launcher in ``directory``, unless someone did."""
        for sub in ("workspace", "home"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        try:
            out = os.open(os.path.join(directory, "output.log"),
                          os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                          0o600)
        except FileExistsError:
            return launched_handle(directory)
        # Its control groups, which the launcher joins first (its options follow its path).
        groups = [arg for group in self._limits.make_groups(directory)
                  for arg in ("--cgroup", group)]
        argv = [*argv[:2], *groups, *argv[2:]]
        try:
            # posix_spawn, not fork: forking the whole worker costs ~10 ms a variation.
            # Every other descriptor of the server is close-on-exec (PEP 446).
            pid = os.posix_spawn(
                "/bin/sh", argv, env, setsid=True,
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, out, 2)])
        finally:
            os.close(out)
        gevent.spawn(reap, pid)
        return {"pid": pid, "create_time": psutil.Process(pid).create_time()}

    # -- the runtime interface ---------------------------------------------------------
    def watch(self, spec: VariationSpec, *, handle: Mapping[str, Any] | None,
              cursor: str | None) -> Iterator[Observation]:
        directory = self._dir(spec.run_id, spec.index)
        if handle is None and self._sandbox.state == "unavailable":
            yield Exited(False, self._sandbox.problem, cause="start_failed")
            return
        prepared = self._prepared_dir(spec) if handle is None else None
        if prepared is not None:
            ok = yield from self._prepare(spec, prepared, cursor)
            if not ok:
                return
            cursor = None   # the variation's own output starts now
        if handle is None:
            ticket = self._slots.acquire()
            self._tickets[(spec.run_id, spec.index)] = ticket
            try:
                if not ticket.ready():
                    yield Waiting(f"waiting for a free slot ({self._slots.used} of "
                                  f"{self._slots.limit} variations running)")
                if not ticket.get():
                    yield Exited(False, "cancelled before it started", cause="cancelled")
                    return
                with tracing.span("local.process.create", **{
                        "aideator.run_id": spec.run_id, "aideator.variation": spec.index,
                        "aideator.job_name": spec.job_name}):
                    if self._sandbox.sandboxed:
                        # Listening before the agent starts: its first request finds it.
                        self._bridges.open(directory)
                    handle = self._spawn(spec)
            except BaseException:
                self._bridges.close(directory)
                self._slots.withdraw(ticket)
                raise
            finally:
                self._tickets.pop((spec.run_id, spec.index), None)
            yield Started(f"{spec.job_name}-p{handle['pid']}", handle)
        else:
            # Re-attached: counted whatever the limit; if it ended while nobody watched,
            # what it wrote is still read below. A sandboxed one (it has a bridge
            # directory) gets its gateway back: the old socket died with its server.
            self._slots.take()
            if os.path.isdir(socket_dir(directory)) and not os.path.exists(
                    os.path.join(directory, "exit.json")):
                self._bridges.open(directory)
        try:
            yield from self._follow(directory, handle, int(cursor or 0))
        finally:
            self._bridges.close(directory)
            self._slots.release()

    # -- set up once per run (prepare.py) ----------------------------------------------
    def _prepare(self, spec: VariationSpec, prepared: str,
                 cursor: str | None) -> Generator[Observation, None, bool]:
        """Start (or join) the run's setup, relay its setup lines to this variation, and
        on success give the variation its copy of the prepared workspace."""
        directory = self._dir(spec.run_id, spec.index)
        if os.path.exists(os.path.join(directory, prepare.COPIED)):
            return True
        offset = prepare.cursor_offset(cursor) or 0
        yield Waiting("setting up the repository (once for the run)")
        handle = self._start_setup(spec, prepared)
        exited = None
        for obs in self._follow(prepared, handle, offset):
            if isinstance(obs, Output):
                lines = prepare.relayed(obs.lines)
                if lines:
                    yield Output(lines, prepare.CURSOR_PREFIX + obs.cursor)
            elif isinstance(obs, Exited):
                exited = obs
        if exited is None or not exited.ok:
            reason = exited.reason if exited else "it stopped reporting"
            yield Exited(False, f"the run's setup failed ({reason})",
                         exited.exit_code if exited else None,
                         cause=exited.cause if exited and exited.cause == "killed"
                         else "exit_code")
            return False
        try:
            prepare.copy_prepared(prepared, directory)
        except (OSError, prepare.CopyFailed) as exc:
            yield Exited(False, f"copying the prepared workspace failed: {exc}",
                         cause="start_failed")
            return False
        return True

    def _start_setup(self, spec: VariationSpec, prepared: str) -> dict[str, Any]:
        """The run's setup process: started by the first variation of the run that gets
        here, joined by the others (and after a restart, re-attached to)."""
        with self._setup_lock:
            handle = self._setups.get(spec.run_id)
            if handle is not None:
                return handle
            os.makedirs(prepared, exist_ok=True)
            if os.path.exists(os.path.join(prepared, "exit.json")):
                return {"pid": 0, "create_time": 0.0}   # it ended: follow what it wrote
            # Its gateway (for the clone) and its egress proxy: listening before it
            # starts, served until it ends.
            self._bridges.open(prepared, egress=self._egress.server)
            try:
                handle = self._launch(prepared, self._argv(prepared, egress=True,
                                                           base_patch=self._base_patch(spec),
                                                           source=self._source(spec)),
                                      self._environment(spec, prepared, mode="setup"))
            except BaseException:
                self._bridges.close(prepared)
                raise
            gevent.spawn(self._end_setup, spec.run_id, prepared, handle)
            self._setups[spec.run_id] = handle
            return handle

    def _end_setup(self, run_id: str, prepared: str, handle: Mapping[str, Any]) -> None:
        while not os.path.exists(os.path.join(prepared, "exit.json")) and alive(handle):
            gevent.sleep(0.1)
        self._bridges.close(prepared)
        self._setups.pop(run_id, None)

    def _within_limits(self, directory: str, handle: Mapping[str, Any], *,
                       ended: bool = False) -> float:
        """Stop the variation if it went past a cap (recording why); the seconds until
        the next check. ``ended``: it has just ended (say whether a cap ended it: the
        OOM killer may have stopped it before any check saw it), its wall time aside."""
        begun = time.monotonic()
        # The disk check walks the directory: off the event loop.
        breach = gevent.get_hub().threadpool.spawn(
            self._limits.breach, directory,
            0.0 if ended else handle.get("create_time") or 0.0).get()
        took = time.monotonic() - begun
        if breach is not None:
            log.warning("variation %s stopped: %s", directory, breach[1])
            self._limits.record(directory, *breach)
            self._limits.end(directory, remove=False)
            if handle.get("pid"):   # also where no control group could be made
                self._kill_group(handle["pid"])
        return max(LIMIT_CHECK_SECONDS, 20 * took)

    def _follow(self, directory: str, handle: Mapping[str, Any],
                offset: int) -> Iterator[Observation]:
        status_path = os.path.join(directory, "exit.json")
        poll, pending, finished = POLL_MIN, b"", False
        next_check = 0.0
        with open(os.path.join(directory, "output.log"), "rb") as f:
            f.seek(offset)
            while True:
                now = time.monotonic()
                if now >= next_check and not finished:
                    next_check = now + self._within_limits(directory, handle)
                chunk = f.read(READ_SIZE)
                if chunk:
                    poll = POLL_MIN
                    pending += chunk
                    cut = pending.rfind(b"\n")
                    if cut < 0 and len(pending) < MAX_LINE:
                        continue
                    if cut < 0:
                        cut = MAX_LINE - 1
                    complete, pending = pending[:cut + 1], pending[cut + 1:]
                    offset += len(complete)
                    yield Output(split_lines(complete), str(offset))
                    gevent.sleep(0)  # let the other variations and the clients run
                elif finished:
                    if pending:
                        offset += len(pending)
                        yield Output(split_lines(pending), str(offset))
                    self._within_limits(directory, handle, ended=True)
                    # Nothing it started outlives it: daemons, what a setup or check left.
                    self._limits.end(directory)
                    yield exit_from_status(read_status(status_path), read_breach(directory))
                    return
                else:
                    # At the end of what was written: if the process has ended meanwhile,
                    # the next reads reach the true end of its output.
                    finished = os.path.exists(status_path) or not alive(handle)
                    if not finished:
                        gevent.sleep(poll)
                        poll = min(poll * 1.5, POLL_MAX)

    def cancel(self, run_id: str, handles: Mapping[int, Mapping[str, Any] | None]) -> None:
        setup = self._setups.get(run_id)
        if setup and alive(setup):   # the variations waiting for it then end, cancelled
            self._signal_group(setup["pid"], signal.SIGTERM)
        for index, handle in handles.items():
            ticket = self._tickets.get((run_id, index))
            if ticket is not None and not ticket.ready():
                self._slots.withdraw(ticket)
            elif handle and alive(handle):
                self._signal_group(handle["pid"], signal.SIGTERM)
                gevent.spawn_later(self._settings.cancel_grace_seconds,
                                   self._kill_group, handle["pid"])

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill_group(self, pgid: int) -> None:
        self._signal_group(pgid, signal.SIGKILL)

    def remove(self, run_id: str) -> None:
        # The run's directory: every variation's workspace, home, log and status file.
        if is_run_id(run_id):
            self._limits.end_run(run_id)   # what a cancelled variation may have left
            shutil.rmtree(os.path.join(self._root, run_id), ignore_errors=True)

    def job_counts(self, run_id: str) -> None:
        return None

    def health(self) -> dict[str, Any]:
        # Unable to sandbox (and not told not to): it cannot run variations.
        return {"ok": self._sandbox.state != "unavailable", "running": self._slots.used,
                "queued": self._slots.queued, "limit": self._slots.limit,
                "sandbox": self._sandbox.state, "limits": self._limits.in_force()}
