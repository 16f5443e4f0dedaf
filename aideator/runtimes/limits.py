"""What one local variation may use of the machine: processes, memory, disk, open files and
wall time, and the guarantee that nothing it started outlives it.

Found once when the local runtime starts, from what the kernel lets this service do:
- control groups, one per variation (its launcher joins them first, so everything it
  starts is inside): a ``pids`` cap (a fork bomb stops at it), a ``memory`` cap (the
  kernel's OOM killer acts inside the group only), and a group that can be emptied at once
  (cgroup v2's ``cgroup.kill``; else every member is SIGKILLed until none is left), which
  takes double-forked daemons and what a setup or a check left behind. Both cgroup v2
  (controllers delegated to the service's own group) and v1 hierarchies (one per
  controller, as on hybrid hosts) are used where writable;
- resource limits (setrlimit, through ``prlimit``), which need no privilege: open files
  (``RLIMIT_NOFILE``), the largest file (``RLIMIT_FSIZE``: no single file above the disk
  cap), no core dumps;
- the service's own watch (``breach``), while it follows the variation: the variation's
  directory (workspace, HOME, output log) measured against the disk cap, the wall time,
  and the groups' counters; a breach ends the whole variation and says why.
What cannot be had here is reported (``in_force`` in /health, a warning in the log),
never assumed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass
from typing import Any, Mapping

log = logging.getLogger(__name__)

CGROUP_ROOT = "/sys/fs/cgroup"
# Where a breach is recorded, beside exit.json: the reason the variation ended.
BREACH_FILE = "limit.json"
MIB = 1 << 20


@dataclass(frozen=True)
class Caps:
    pids: int            # processes and threads at once
    memory_bytes: int
    disk_bytes: int      # written in the variation's directory (workspace, HOME, log)
    open_files: int      # per process
    wall_seconds: float  # from its start


@dataclass(frozen=True)
class Hierarchy:
    """Where a controller's groups are made: ``base`` (a directory the service may write,
    its own group) and the file names of the limit and of its counter of breaches."""
    kind: str            # "pids", "memory" or "kill"
    base: str
    version: str         # "v1" or "v2"
    limit_file: str = ""
    events_file: str = ""
    events_key: str = ""


def _own_groups(proc_cgroup: str = "/proc/self/cgroup") -> dict[str, str]:
    """This process's group path per hierarchy: controller name (or "" for v2) -> path."""
    groups: dict[str, str] = {}
    with contextlib.suppress(OSError), open(proc_cgroup) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                groups[name] = path
    return groups


def _writable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _can_kill(base: str) -> bool:
    """Whether groups made under ``base`` have ``cgroup.kill`` (Linux 5.14+; a root
    group has none itself, so a child is made to look)."""
    if os.path.exists(os.path.join(base, "cgroup.kill")):
        return True
    probe = os.path.join(base, f"aideator-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
    except OSError:
        return False
    try:
        return os.path.exists(os.path.join(probe, "cgroup.kill"))
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(probe)


def find_hierarchies(root: str = CGROUP_ROOT) -> list[Hierarchy]:
    """The groups this service can make: pids, memory and kill, each at most once."""
    own = _own_groups()
    found: dict[str, Hierarchy] = {}
    unified = next((p for p in (root, os.path.join(root, "unified"))
                    if os.path.exists(os.path.join(p, "cgroup.controllers"))), None)
    if unified is not None and "" in own:
        base = os.path.join(unified, own[""].lstrip("/"))
        if _writable_dir(base):
            try:
                with open(os.path.join(base, "cgroup.subtree_control")) as f:
                    delegated = f.read().split()
            except OSError:
                delegated = []
            if _can_kill(base):
                found["kill"] = Hierarchy("kill", base, "v2")
            if "pids" in delegated:
                found["pids"] = Hierarchy("pids", base, "v2", "pids.max", "pids.events", "max")
            if "memory" in delegated:
                found["memory"] = Hierarchy("memory", base, "v2", "memory.max", "memory.events",
                                            "oom_kill")
    # cgroup v1 (a hybrid host): one hierarchy per controller.
    v1 = {"pids": ("pids.max", "pids.events", "max"),
          "memory": ("memory.limit_in_bytes", "memory.oom_control", "oom_kill")}
    for kind, (limit, events, key) in v1.items():
        base = os.path.join(root, kind, own.get(kind, "/").lstrip("/"))
        if kind not in found and kind in own and _writable_dir(base) \
                and os.path.exists(os.path.join(root, kind, "cgroup.procs")):
            found[kind] = Hierarchy(kind, base, "v1", limit, events, key)
    return list(found.values())


def _read_counter(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _members(group: str) -> list[int]:
    try:
        with open(os.path.join(group, "cgroup.procs")) as f:
            return [int(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return []


def directory_bytes(top: str) -> int:
    """Bytes on disk under ``top`` (allocated blocks: a sparse file counts what it holds)."""
    total = 0
    stack = [top]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    total += st.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
    return total


class Limits:
    """The caps of every variation of one service (one data directory)."""

    def __init__(self, caps: Caps, data_dir: str, *,
                 hierarchies: list[Hierarchy] | None = None) -> None:
        self.caps = caps
        self._hierarchies = find_hierarchies() if hierarchies is None else hierarchies
        # Several services share a machine (and tests run many): their groups apart.
        tag = hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:12]
        self._parent = f"aideator-{tag}"
        self._root = os.path.abspath(os.path.join(data_dir, "runs"))
        self._prlimit = shutil.which("prlimit")
        kinds = {h.kind for h in self._hierarchies}
        missing = [what for what, kind in (("processes", "pids"), ("memory", "memory"),
                                           ("leftover processes", "kill")) if kind not in kinds]
        if "kill" not in kinds and kinds:
            missing.remove("leftover processes")   # a v1 group can be emptied one by one
        if not self._prlimit:
            missing.append("open files (prlimit not found)")
        if missing:
            log.warning("variations run without a cap on: %s (no writable cgroup "
                        "controller for them here; see the README's Sandbox section)",
                        ", ".join(missing))

    # -- what /health and the README say ----------------------------------------------
    def in_force(self) -> dict[str, Any]:
        kinds = {h.kind: h for h in self._hierarchies}

        def how(kind: str, value: Any) -> Any:
            if kind not in kinds:
                return {"enforced": False, "cap": value}
            return {"enforced": True, "cap": value, "by": f"cgroup {kinds[kind].version}"}
        return {
            "processes": how("pids", self.caps.pids),
            "memory_bytes": how("memory", self.caps.memory_bytes),
            "disk_bytes": {"enforced": True, "cap": self.caps.disk_bytes,
                           "by": "service watch" + (" + RLIMIT_FSIZE" if self._prlimit
                                                    else "")},
            "open_files": {"enforced": bool(self._prlimit), "cap": self.caps.open_files,
                           **({"by": "RLIMIT_NOFILE"} if self._prlimit else {})},
            "wall_seconds": {"enforced": True, "cap": self.caps.wall_seconds,
                             "by": "service watch"},
            "leftover_processes": {"enforced": bool(kinds),
                                   **({"by": "cgroup.kill" if "kill" in kinds
                                       else "cgroup members killed"} if kinds else {})},
        }

    # -- one variation ----------------------------------------------------------------
    def _name(self, directory: str) -> str:
        return os.path.relpath(directory, self._root).replace(os.sep, ".")

    def _groups(self, directory: str) -> list[tuple[Hierarchy, str]]:
        name = self._name(directory)
        return [(h, os.path.join(h.base, self._parent, name)) for h in self._hierarchies]

    def make_groups(self, directory: str) -> list[str]:
        """Create the variation's groups with their caps; the directories its launcher
        joins (``cgroup.procs``). A group that cannot be made is left out, with a warning."""
        made: list[str] = []
        for h, group in self._groups(directory):
            try:
                try:
                    os.makedirs(group, exist_ok=True)
                except FileNotFoundError:   # its parent was just removed as it emptied
                    os.makedirs(group, exist_ok=True)
                if h.kind == "pids":
                    _write(os.path.join(group, h.limit_file), str(self.caps.pids))
                elif h.kind == "memory":
                    _write(os.path.join(group, h.limit_file), str(self.caps.memory_bytes))
                made.append(group)
            except OSError as exc:
                log.warning("no %s group for %s: %s", h.kind, directory, exc)
        return made

    def rlimit_argv(self) -> list[str]:
        """The command prefix setting the resource limits of what follows."""
        if not self._prlimit:
            return []
        return [self._prlimit, f"--nofile={self.caps.open_files}",
                f"--fsize={self.caps.disk_bytes}", "--core=0", "--"]

    def breach(self, directory: str, started: float) -> tuple[str, str] | None:
        """(cause, reason) when the variation went past a cap, else None (``started``: 0
        for no wall time, as for one that has ended). Walks the directory: call it from a
        thread."""
        for h, group in self._groups(directory):
            if h.kind == "kill":
                continue
            if _read_counter(os.path.join(group, h.events_file), h.events_key) > 0:
                if h.kind == "pids":
                    return "pids", (f"the agent reached its cap of {self.caps.pids} processes "
                                    "(a fork bomb?) and was stopped")
                return "oom", (f"the agent ran out of its memory cap of "
                               f"{self.caps.memory_bytes // MIB} MiB and was stopped")
        if started and time.time() - started > self.caps.wall_seconds:
            return "deadline", (f"the agent ran longer than its wall time of "
                                f"{self.caps.wall_seconds:g} s and was stopped")
        if directory_bytes(directory) > self.caps.disk_bytes:
            return "disk", (f"the agent wrote more than its disk cap of "
                            f"{self.caps.disk_bytes // MIB} MiB and was stopped")
        return None

    def record(self, directory: str, cause: str, reason: str) -> None:
        """Keep why it was stopped (the first breach wins), for whoever reads its end."""
        path = os.path.join(directory, BREACH_FILE)
        with contextlib.suppress(FileExistsError, OSError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"cause": cause, "reason": reason}, f)

    def end(self, directory: str, *, remove: bool = True) -> int:
        """Kill every process left in the variation's groups (all of them, however they
        were started); then remove the groups. Returns how many processes were found."""
        found = 0
        groups = self._groups(directory)
        for h, group in groups:
            if h.kind == "kill" and os.path.isdir(group):
                found = max(found, len(_members(group)))
                with contextlib.suppress(OSError):
                    _write(os.path.join(group, "cgroup.kill"), "1")
        deadline = time.monotonic() + 5
        for h, group in groups:
            # Kill until empty: a process may fork while its siblings die (a v1 group).
            while os.path.isdir(group) and time.monotonic() < deadline:
                members = _members(group)
                if not members:
                    break
                found = max(found, len(members))
                for pid in members:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
            if remove:
                for _ in range(100):   # a group empties shortly after its last member dies
                    try:
                        os.rmdir(group)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.01)
                # The service's own parent group too, once it holds no other (else busy).
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.dirname(group))
        return found

    def end_run(self, run_id: str) -> None:
        """Every group of a run (its variations and its setup), ended and removed."""
        for h in self._hierarchies:
            parent = os.path.join(h.base, self._parent)
            with contextlib.suppress(OSError):
                for name in os.listdir(parent):
                    if name.split(".", 1)[0] == run_id:
                        self.end(os.path.join(self._root, *name.split(".")))


def read_breach(directory: str) -> Mapping[str, str] | None:
    try:
        with open(os.path.join(directory, BREACH_FILE)) as f:
            value = json.load(f)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
