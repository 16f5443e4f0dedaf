"""The bubblewrap sandbox a local variation runs in: pure argv building, no processes.

An agent reads an untrusted repository and runs what a model chose, so on the local
runtime it runs under bubblewrap (Debian's ``bubblewrap``) with:
- the system read-only (``/usr`` and its merged-usr links, and a short list of ``/etc``);
- its own runtime read-only: the interpreter the command names (for a Python venv, the
  venv and the base installation it was made from), the ``agent`` package directory (never
  the repository root, which holds ``./data``), and any absolute path in the command;
- its workspace and HOME read-write at the paths it is told (``WORKSPACE``, ``HOME``);
- a private ``/tmp``, its own PID, IPC, UTS, cgroup, user (an unprivileged uid, no
  capability) and network namespaces: only its own loopback, so no TCP port of the host;
- the bridge directory at ``/run/aideator``: the gateway's Unix socket, served by the
  service (``bridge.py``), which ``sandbox-init.sh`` exposes on 127.0.0.1:``BRIDGE_PORT``;
- for a run iterating on a variation, the parent's change, one file read-only at
  ``agent_env.BASE_PATCH_PATH`` (outside the workspace, so never in the diff).

What is not mounted does not exist for it: the data directory, the database, other
variations, the service's files. The environment is the one the launcher was started with
(exactly the agent's): bwrap passes it on, so no value (prompt, gateway credential) is
ever in an argv, which every local user can read in /proc/<pid>/cmdline.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from typing import Iterable, Sequence

import agent

from .agent_env import BASE_PATCH_PATH, SOURCE_PATH

HERE = os.path.dirname(os.path.abspath(__file__))
INIT_SCRIPT = os.path.join(HERE, "sandbox-init.sh")
# Where things are inside the sandbox.
BRIDGE_MOUNT = "/run/aideator"
INIT_MOUNT = "/run/aideator-init.sh"
# The gateway's port on the sandbox's own loopback (its network namespace is private, so
# any port will do and every variation uses the same one).
BRIDGE_PORT = 7480
# The setup egress proxy's port, inside the run's setup sandbox only (aideator/egress/).
EGRESS_PORT = 7481
# The unprivileged user the agent is inside (Claude Code refuses some modes as root).
SANDBOX_UID = 1000
SANDBOX_GID = 1000

# What of /etc programs need: the dynamic linker's cache, users and name lookup (for
# "localhost"), time zone, Debian's alternatives (links in /usr/bin point there), CA
# certificates (TLS to the gateway is plain HTTP today, but tools load them), git's
# system config. Not the rest: /etc holds the host's secrets and configuration.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "hosts", "host.conf",
       "gai.conf", "localtime", "timezone", "alternatives", "ssl", "ca-certificates",
       "gitconfig", "os-release", "mime.types", "services", "protocols", "inputrc")
# The system's directories, bound read-only (or recreated as the links they are).
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
PACKAGES = "bubblewrap socat"


@dataclass(frozen=True)
class Mounts:
    """Host paths a variation's sandbox is made of (all absolute)."""
    directory: str          # the variation's directory: the agent's working directory
    workspace: str          # read-write
    home: str               # read-write
    bridge: str             # the directory holding gateway.sock
    passwd: str             # files naming the sandbox's user (its HOME), see etc_files()
    group: str
    # Where the variation's directory appears inside (default: its own path). A variation
    # started from the run's prepared workspace sees it where the setup made it, so the
    # absolute paths a setup writes (a venv's scripts) hold.
    inside: str | None = None
    # The run's file of the parent variation's change (a run iterating on one), bound
    # read-only at BASE_PATCH_PATH.
    base_patch: str | None = None
    # The run's snapshot of a local repository, bound read-only at SOURCE_PATH.
    source: str | None = None

    def at(self, path: str) -> str:
        """Where the host ``path`` (the workspace, HOME) is inside the sandbox."""
        if self.inside is None:
            return path
        return os.path.join(self.inside, os.path.relpath(path, self.directory))

    @property
    def cwd(self) -> str:
        return self.inside or self.directory


def etc_files(home: str) -> dict[str, str]:
    """/etc/passwd and /etc/group for the sandbox: its one user, so tools that look the
    user up (node's os.userInfo(), git's ident, ssh) find it, and the host's users stay
    out of sight."""
    return {"passwd": f"root:x:0:0:root:/root:/bin/sh\n"
                      f"agent:x:{SANDBOX_UID}:{SANDBOX_GID}:AIdeator agent:{home}:/bin/sh\n"
                      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": f"root:x:0:\nagent:x:{SANDBOX_GID}:\nnogroup:x:65534:\n"}


def _is_python_prefix(path: str) -> bool:
    lib = os.path.join(path, "lib")
    try:
        return any(name.startswith("python3") for name in os.listdir(lib))
    except OSError:
        return False


def interpreter_paths(executable: str) -> list[str]:
    """What must be readable for ``executable`` to run: the file (and what its links point
    at); for a Python venv, the venv and its base installation (``home`` in pyvenv.cfg);
    for another Python installation outside /usr (e.g. pyenv's), its prefix."""
    paths = [executable]
    real = os.path.realpath(executable)
    if real != executable:
        paths.append(real)
    for candidate in (executable, real):
        prefix = os.path.dirname(os.path.dirname(candidate))
        cfg = os.path.join(prefix, "pyvenv.cfg")
        if os.path.isfile(cfg):
            paths.append(prefix)
            with open(cfg) as f:
                for line in f:
                    key, _, value = line.partition("=")
                    if key.strip() == "home" and value.strip():
                        base = os.path.dirname(os.path.realpath(value.strip()))
                        paths.append(base)
        elif _is_python_prefix(prefix):
            paths.append(prefix)
    return paths


def runtime_paths(command: Sequence[str], *, path_env: str | None = None) -> list[str]:
    """The host paths the command needs readable: its interpreter (looked up in PATH when
    not absolute), then every absolute path among its arguments that exists."""
    paths: list[str] = []
    executable = command[0] if os.path.isabs(command[0]) else shutil.which(
        command[0], path=path_env)
    if executable and os.path.exists(executable):   # else it fails inside, saying so
        paths += interpreter_paths(os.path.abspath(executable))
        if os.path.abspath(executable) == os.path.abspath(sys.executable):
            # This service's own interpreter: also the base installation it runs from.
            paths.append(sys.base_prefix)
    paths += [arg for arg in command[1:] if os.path.isabs(arg) and os.path.exists(arg)]
    return paths


def agent_package() -> str:
    """The ``agent`` package's directory (``python -m agent`` runs it); its parent goes
    on PYTHONPATH inside, where nothing else of the repository exists."""
    return os.path.dirname(os.path.abspath(agent.__file__))


def _covered(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def readable(paths: Iterable[str], *, hidden: Iterable[str]) -> list[str]:
    """``paths`` without duplicates, without what the system mounts already cover, and
    without any path that is or contains a ``hidden`` one (the data directory: a command
    naming the repository root must not bring the database in)."""
    hidden = [os.path.abspath(h) for h in hidden]
    result: list[str] = []
    for path in paths:
        path = os.path.abspath(path)
        if _covered(path, SYSTEM) or path in result or path == "/":
            continue
        if any(_covered(h, [path]) for h in hidden):
            continue
        result.append(path)
    # A path under another one is mounted by it already.
    return [p for p in result if not _covered(p, [q for q in result if q != p])]


def _system_args() -> list[str]:
    args: list[str] = []
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC:
        path = os.path.join("/etc", name)
        if os.path.lexists(path):
            args += ["--ro-bind", path, path]
    return args


def namespace_args() -> list[str]:
    """Every namespace of its own, an unprivileged user without capabilities, killed
    with its launcher, no controlling terminal to inject keystrokes into."""
    return ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "aideator-sandbox",
            "--cap-drop", "ALL", "--die-with-parent", "--new-session"]


def bwrap_argv(command: Sequence[str], mounts: Mounts, *, readable_paths: Sequence[str],
               bwrap: str = "bwrap", info_fd: int | None = 3,
               egress: bool = False) -> list[str]:
    """The full argv: bwrap, its options, then the init script running ``command``.

    ``readable_paths`` are bound read-only at their own paths (see ``runtime_paths``,
    ``agent_package`` and ``readable``). ``info_fd``: where bwrap writes the sandbox's
    pid (the launcher signals its process group on cancel). ``egress``: also bridge the
    setup egress proxy (``bridge/egress.sock``) to 127.0.0.1:``EGRESS_PORT`` (the run's
    setup sandbox only, never a variation's)."""
    args = [bwrap, *_system_args(),
            "--ro-bind", mounts.passwd, "/etc/passwd", "--ro-bind", mounts.group, "/etc/group",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in readable_paths:
        args += ["--ro-bind", path, path]
    args += ["--bind", mounts.workspace, mounts.at(mounts.workspace),
             "--bind", mounts.home, mounts.at(mounts.home),
             "--ro-bind", mounts.bridge, BRIDGE_MOUNT, "--ro-bind", INIT_SCRIPT, INIT_MOUNT,
             *(["--ro-bind", mounts.base_patch, BASE_PATCH_PATH] if mounts.base_patch
               else []),
             *(["--ro-bind", mounts.source, SOURCE_PATH] if mounts.source else []),
             # The root holding the mount points: read-only once they are made.
             "--remount-ro", "/", *namespace_args(), "--chdir", mounts.cwd]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    ports = [str(BRIDGE_PORT), *(["--egress", str(EGRESS_PORT)] if egress else [])]
    return [*args, "--", "/bin/sh", INIT_MOUNT, *ports, *command]


def probe_argv(bwrap: str = "bwrap") -> list[str]:
    """A sandbox as a variation gets it (namespaces, system mounts), running a shell:
    whether this machine can make one (user namespaces allowed, bwrap not blocked). The
    shell by its path: the service's PATH may name directories the sandbox lacks."""
    return [bwrap, *_system_args(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--remount-ro", "/", *namespace_args(), "--", "/bin/sh", "-c", ":"]
