"""A Dockerfile's build replayed without a container engine, from its own instructions.

The final stage (with the stages it builds on) is read from the Dockerfile and each
instruction is carried out on a directory that stands for the image's filesystem:
``COPY`` copies from the build context (honouring ``.dockerignore``), ``WORKDIR``/``ENV``/
``USER``/``CMD`` are recorded, and ``RUN`` commands are followed one by one: ``pip install``
runs with the very same arguments in a fresh virtualenv (standing for the base image's
Python; ``python -m venv DIR`` makes another, whose ``DIR/bin/pip install`` is followed
alike), ``apt-get install`` names the Debian packages whose programs the image gets, and
file commands act inside the directory; ``ADD <url>`` must carry a SHA-256 ``--checksum`` and
is recorded, not fetched (tests stay offline); unpacking the Node.js build stands in
this machine's ``node`` and ``npm`` (same major version), and ``npm ci`` stands in this
checkout's ``agent/node_modules`` once it has checked that npm installed exactly the
lock's packages there (``scripts/install-engines.sh`` does ``npm ci`` from the same
lock). A command the replay does not know fails the build, so a Dockerfile change that
the replay would silently miss breaks the test instead.

Differences from a real build, on purpose: pip may use its cache (the image sets
``PIP_NO_CACHE_DIR``) and ignores this machine's pip configuration (the image has none);
users and file ownership are not created (commands run as the test's user); apt packages
are not installed but must already be on this Debian machine, and only their programs
(with those of Debian's required packages, what a slim image has) are on the ``PATH``.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from .dockerfile import DockerIgnore, Instruction, base_image, build_chain, stages

BIN_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin")
# How this machine reaches the package index (a proxy, its CA): kept for pip. Its other pip
# settings (extra indexes, local wheels, constraints) are not the image's and are dropped.
NETWORK_ENV = ("PIP_CERT", "PIP_CLIENT_CERT", "PIP_PROXY", "PIP_INDEX_URL", "PIP_TRUSTED_HOST",
               "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
               "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
PIP_TIMEOUT = 600


class ReplayError(AssertionError):
    """The Dockerfile asks for something the replay cannot follow (or it failed)."""


def python_for(image: str) -> str:
    """An interpreter of the Python version the base image (``python:3.11-slim``) has."""
    match = re.fullmatch(r"(?:docker\.io/)?(?:library/)?python:(\d+)\.(\d+)[-.\w]*"
                         r"(?:@sha256:[0-9a-f]{64})?", image)
    if not match:
        raise ReplayError(f"the replay knows python:X.Y base images only, not {image!r}")
    version = (int(match.group(1)), int(match.group(2)))
    if sys.version_info[:2] == version:
        return sys.executable
    found = shutil.which(f"python{version[0]}.{version[1]}")
    if not found:
        raise ReplayError(f"the base image has Python {version[0]}.{version[1]}, which is "
                          "not on this machine")
    return found


def _debian_programs(packages: list[str]) -> dict[str, str]:
    """name -> path of every program these Debian packages put in a bin folder."""
    listing = subprocess.run(["dpkg-query", "-L", *packages], capture_output=True,
                             text=True, check=True).stdout.splitlines()
    programs = {}
    for path in listing:
        if os.path.dirname(path) in BIN_DIRS and os.path.isfile(path) \
                and os.access(path, os.X_OK):
            programs.setdefault(os.path.basename(path), path)
    return programs


def _required_packages() -> list[str]:
    """Debian's required and essential packages: what a slim Debian image is made of."""
    rows = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Priority}\t${Essential}\t"
                           "${db:Status-Status}\n"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    return sorted(name for name, priority, essential, status in
                  (row.split("\t") for row in rows)
                  if status == "installed" and (priority == "required" or essential == "yes"))


class ImageReplay:
    """The image a Dockerfile builds, as a directory (``root``) and a virtualenv."""

    def __init__(self, dockerfile: Path, context: Path, root: Path,
                 target: str | None = None) -> None:
        self.dockerfile, self.context, self.root = dockerfile, context, root
        self.chain = build_chain(stages(dockerfile.read_text()), target)
        self.base = base_image(stages(dockerfile.read_text()), target)
        self.ignore = DockerIgnore(context)
        self.venv = root / "replay-venv"      # stands for the base image's Python
        self.bin = root / "replay-bin"        # the image's other programs
        self.env: dict[str, str] = {}
        self.workdir = "/"
        self.user: str | None = None
        self.cmd: list[str] = []
        self.apt_packages: list[str] = []
        self.pip_installs: list[list[str]] = []
        self.users: list[str] = []
        # ADD <url>: image path -> (url, "sha256:<hex>"), and what was unpacked from where.
        self.downloads: dict[str, tuple[str, str]] = {}
        self.unpacked: list[str] = []
        self.npm_installs: list[list[str]] = []
        # Virtualenvs a RUN made (`python -m venv DIR`): image path -> where it is here.
        self.venvs: dict[str, Path] = {}

    # -- building ------------------------------------------------------------------------
    def build(self) -> ImageReplay:
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run([python_for(self.base), "-m", "venv", str(self.venv)], check=True)
        self._link_programs(_required_packages())
        for stage in self.chain:
            for ins in stage.instructions:
                handler = self._HANDLERS.get(ins.keyword)
                if handler is None:
                    raise ReplayError(f"{self._where(ins)}: the replay does not follow "
                                      f"{ins.keyword}; teach tests/deploy/replay.py")
                handler(self, ins)
        return self

    def _where(self, ins: Instruction) -> str:
        return f"{self.dockerfile.name}:{ins.line}"

    def path(self, image_path: str) -> Path:
        """Where a path of the image lives in the replay (relative: from WORKDIR)."""
        absolute = os.path.normpath(os.path.join(self.workdir, image_path))
        return self.root / absolute.lstrip("/")

    def _workdir(self, ins: Instruction) -> None:
        self.workdir = os.path.normpath(os.path.join(self.workdir, ins.args.strip()))
        self.path(self.workdir).mkdir(parents=True, exist_ok=True)

    def _env(self, ins: Instruction) -> None:
        self.env.update(ins.env_pairs())

    def _copy(self, ins: Instruction) -> None:
        flags, operands = ins.flags_and_operands()
        if "from" in flags or len(operands) < 2:
            raise ReplayError(f"{self._where(ins)}: COPY {ins.args!r} is not followed")
        *sources, dest = operands
        into_folder = dest.endswith("/") or len(sources) > 1
        target = self.path(dest)
        for source in sources:
            relative = os.path.normpath(source).lstrip("/")
            origin = self.context / relative
            if relative != "." and (not origin.exists() or self.ignore.ignored(relative)):
                raise ReplayError(f"{self._where(ins)}: {source} is not in the build context "
                                  "(missing, or left out by .dockerignore)")
            if origin.is_dir():   # a folder's contents, as Docker copies them
                self._copy_tree(origin, target)
            else:
                destination = target / origin.name if into_folder else target
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)

    def _copy_tree(self, folder: Path, target: Path) -> None:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(self.context).as_posix()
            if path.is_dir() or self.ignore.ignored(relative):
                continue
            destination = target / path.relative_to(folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)

    def _run(self, ins: Instruction) -> None:
        if ins.exec_form() is not None:
            raise ReplayError(f"{self._where(ins)}: exec-form RUN is not followed")
        try:
            commands = ins.shell_commands()
        except ValueError as exc:
            raise ReplayError(f"{self.dockerfile.name}: {exc}") from None
        for argv in commands:
            command = self._COMMANDS.get(argv[0])
            venv_pip = self._venv_of(argv[0], "pip")
            if command is None and venv_pip is not None:
                self._pip(ins, argv[1:], venv=venv_pip)
                continue
            if command is None:
                raise ReplayError(f"{self._where(ins)}: the replay does not follow "
                                  f"`{' '.join(argv)}`; teach tests/deploy/replay.py")
            command(self, ins, argv[1:])

    def _add(self, ins: Instruction) -> None:
        flags, operands = ins.flags_and_operands()
        if len(operands) != 2 or not re.match(r"^https://", operands[0]):
            raise ReplayError(f"{self._where(ins)}: only ADD <https url> <file> is followed "
                              "(COPY the build context's files)")
        checksum = flags.get("checksum", "")
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
            raise ReplayError(f"{self._where(ins)}: ADD {operands[0]} without a SHA-256 "
                              "--checksum downloads whatever the server sends")
        self.downloads[operands[1]] = (operands[0], checksum)

    def _user(self, ins: Instruction) -> None:
        self.user = ins.args.strip()

    def _cmd(self, ins: Instruction) -> None:
        argv = ins.exec_form()
        if not argv:
            raise ReplayError(f"{self._where(ins)}: CMD must be in exec form")
        self.cmd = argv

    def _volume(self, ins: Instruction) -> None:
        for path in ins.exec_form() or ins.args.split():
            self.path(path).mkdir(parents=True, exist_ok=True)

    def _nothing(self, ins: Instruction) -> None:
        """Metadata that changes nothing the replay runs (EXPOSE, HEALTHCHECK, LABEL)."""

    _HANDLERS: dict[str, Callable[[ImageReplay, Instruction], None]] = {
        "WORKDIR": _workdir, "ENV": _env, "COPY": _copy, "ADD": _add, "RUN": _run, "CMD": _cmd,
        "USER": _user, "VOLUME": _volume, "EXPOSE": _nothing,
        "HEALTHCHECK": _nothing, "LABEL": _nothing,
    }

    # -- RUN commands --------------------------------------------------------------------
    def _venv_of(self, program: str, name: str) -> Path | None:
        """The replayed venv whose ``bin/<name>`` ``program`` is (an image path), if any."""
        for image_path, here in self.venvs.items():
            if program == f"{image_path.rstrip('/')}/bin/{name}":
                return here
        return None

    def _python(self, ins: Instruction, args: list[str]) -> None:
        """``python -m venv DIR``: a virtualenv of the base image's Python at DIR."""
        if args[:2] != ["-m", "venv"] or len(args) != 3 or not args[2].startswith("/"):
            raise ReplayError(f"{self._where(ins)}: only `python -m venv /DIR` is followed")
        subprocess.run([python_for(self.base), "-m", "venv", str(self.path(args[2]))],
                       check=True)
        self.venvs[args[2]] = self.path(args[2])

    def _pip(self, ins: Instruction, args: list[str], venv: Path | None = None) -> None:
        if not args or args[0] != "install":
            raise ReplayError(f"{self._where(ins)}: only `pip install` is followed")
        mapped = [str(self.path(a)) if a.startswith("/") else a for a in args]
        self.pip_installs.append(args[1:])
        result = subprocess.run([str((venv or self.venv) / "bin" / "python"), "-m", "pip",
                                 *mapped],
                                env=self.build_environment(), cwd=self.path(self.workdir),
                                capture_output=True, text=True, timeout=PIP_TIMEOUT)
        if result.returncode != 0:
            raise ReplayError(f"{self._where(ins)}: pip {' '.join(args)} failed:\n"
                              f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def _apt_get(self, ins: Instruction, args: list[str]) -> None:
        operands = [a for a in args if not a.startswith("-")]
        if operands[:1] == ["update"]:
            return
        if operands[:1] != ["install"]:
            raise ReplayError(f"{self._where(ins)}: only apt-get update/install are followed")
        for package in operands[1:]:
            status = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", package],
                                    capture_output=True, text=True).stdout
            if status != "installed":
                raise ReplayError(f"{self._where(ins)}: the image installs the Debian package "
                                  f"{package}: install it here too (apt-get install {package})")
            self.apt_packages.append(package)
            self._link_programs([package])

    def _tar(self, ins: Instruction, args: list[str]) -> None:
        archive = next((args[i + 1] for i, a in enumerate(args[:-1])
                        if a.startswith("-") and a.endswith("f")), None)
        url = self.downloads.get(archive or "", ("", ""))[0]
        found = re.search(r"/node-v(\d+)\.\d+\.\d+-linux-x64\.tar\.xz$", url)
        if not found:
            raise ReplayError(f"{self._where(ins)}: only unpacking the Node.js download is "
                              "followed")
        here = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        if not here.startswith(f"v{found.group(1)}."):
            raise ReplayError(f"{self._where(ins)}: the image gets Node {found.group(1)}; "
                              f"this machine has {here.strip() or 'none'}")
        self.bin.mkdir(parents=True, exist_ok=True)
        for program in ("node", "npm"):
            path = shutil.which(program)
            if path is None:
                raise ReplayError(f"{self._where(ins)}: {program} is not on this machine")
            if not (self.bin / program).exists():
                (self.bin / program).symlink_to(path)
        self.unpacked.append(url)

    def _npm(self, ins: Instruction, args: list[str]) -> None:
        if args[:1] != ["ci"] or "--ignore-scripts" not in args:
            raise ReplayError(f"{self._where(ins)}: only `npm ci --ignore-scripts` is followed")
        if not (self.bin / "npm").exists():
            raise ReplayError(f"{self._where(ins)}: npm is not in the image yet")
        project = self.path(self.workdir)
        lock_file = project / "package-lock.json"
        if not lock_file.exists():
            raise ReplayError(f"{self._where(ins)}: npm ci without a package-lock.json")
        lock = json.loads(lock_file.read_text())["packages"]
        installed_dir = self.context / "node_modules"   # the checkout's, from the same lock
        hidden = installed_dir / ".package-lock.json"
        if not hidden.exists():
            raise ReplayError(f"{self._where(ins)}: {installed_dir} is not installed: run "
                              "sh scripts/install-engines.sh")
        installed = json.loads(hidden.read_text())["packages"]
        wanted = {k: (v.get("version"), v.get("integrity")) for k, v in lock.items() if k}
        got = {k: (v.get("version"), v.get("integrity")) for k, v in installed.items()}
        differ = sorted(k for k, v in wanted.items() if got.get(k) != v
                        and not lock[k].get("optional"))
        if differ:
            raise ReplayError(f"{self._where(ins)}: {installed_dir} differs from the lock: "
                              f"{differ[:5]}; run sh scripts/install-engines.sh")
        (project / "node_modules").symlink_to(installed_dir.resolve())
        self.npm_installs.append(args)

    def _rm(self, ins: Instruction, args: list[str]) -> None:
        for operand in (a for a in args if not a.startswith("-")):
            for found in glob.glob(str(self.path(operand))):
                if os.path.isdir(found) and not os.path.islink(found):
                    shutil.rmtree(found)
                else:
                    os.unlink(found)

    def _mkdir(self, ins: Instruction, args: list[str]) -> None:
        for operand in (a for a in args if not a.startswith("-")):
            self.path(operand).mkdir(parents=True, exist_ok=True)

    def _add_user(self, ins: Instruction, args: list[str]) -> None:
        # No account is made here; its home is, when the image makes it.
        options = dict(zip(args, args[1:]))
        if "--create-home" in args or "-m" in args:
            self.path(options.get("--home-dir") or f"/home/{args[-1]}").mkdir(
                parents=True, exist_ok=True)
        self.users.append(args[-1])

    def _ownership(self, ins: Instruction, args: list[str]) -> None:
        """chown/groupadd: ownership is not replayed (everything runs as the test's user)."""

    _COMMANDS: dict[str, Callable[[ImageReplay, Instruction, list[str]], None]] = {
        "pip": _pip, "apt-get": _apt_get, "rm": _rm, "mkdir": _mkdir, "useradd": _add_user,
        "groupadd": _ownership, "chown": _ownership, "tar": _tar, "npm": _npm,
        "python": _python,
    }

    def _link_programs(self, packages: list[str]) -> None:
        self.bin.mkdir(parents=True, exist_ok=True)
        for name, path in _debian_programs(packages).items():
            link = self.bin / name
            if not link.exists():
                link.symlink_to(path)

    # -- running -------------------------------------------------------------------------
    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def build_environment(self) -> dict[str, str]:
        """What a RUN sees: the image's ENV so far, pip free of this machine's settings."""
        env = {key: value for key, value in self.env.items() if key != "PIP_NO_CACHE_DIR"}
        # The image's programs only: no compiler, as in a slim image.
        env.update(PATH=f"{self.venv / 'bin'}:{self.bin}", HOME=os.environ.get("HOME", "/root"),
                   PIP_CONFIG_FILE=os.devnull)
        env.update({key: os.environ[key] for key in NETWORK_ENV if key in os.environ})
        return env

    def environment(self, **extra: str) -> dict[str, str]:
        """What the image's command sees: its ENV (absolute paths resolved inside the
        replay), its programs on the PATH, then ``extra``."""
        env = {key: str(self.path(value)) if value.startswith("/") else value
               for key, value in self.env.items()}
        env["PATH"] = f"{self.venv / 'bin'}:{self.bin}"
        env.update(extra)
        return env

    def command(self) -> list[str]:
        """The image's CMD, its program found on the image's PATH."""
        program = self.cmd[0]
        if program.startswith("/") and self.path(program).exists():   # by its path
            return [str(self.path(program)), *self.cmd[1:]]
        for folder in (self.venv / "bin", self.bin):
            if (folder / program).exists():
                return [str(folder / program), *self.cmd[1:]]
        raise ReplayError(f"the image's command {program!r} is not installed in it")

    @property
    def cwd(self) -> Path:
        return self.path(self.workdir)

    def pip(self, *args: str, venv: str | None = None) -> subprocess.CompletedProcess[str]:
        """pip of the image's Python, or of the virtualenv it made at ``venv``."""
        python = str(self.venvs[venv] / "bin" / "python") if venv else self.python
        return subprocess.run([python, "-m", "pip", *args], capture_output=True,
                              text=True, env=self.build_environment(), timeout=120)

    def installed(self, venv: str | None = None) -> dict[str, str]:
        """Distribution name (normalised) -> version, of everything in the image's Python
        (or in the virtualenv it made at ``venv``)."""
        listing = json.loads(self.pip("list", "--format=json", venv=venv).stdout)
        return {_normalise(d["name"]): d["version"] for d in listing}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def replay(dockerfile: Path, context: Path, root: Path, **kwargs: Any) -> ImageReplay:
    return ImageReplay(dockerfile, context, root, **kwargs).build()


__all__ = ["ImageReplay", "ReplayError", "python_for", "replay"]
