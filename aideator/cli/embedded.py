"""The embedded service, started by the command line when nothing answers at its URL.

Only for a loopback URL: the service is started as ``gunicorn -c <the package's
gunicorn_conf.py> 'aideator:served_app()'`` with this Python, in a session of its own so it
outlives the command (the next command finds it), listening where the URL says. Its data
(database, runs, snapshots) and its log are kept per user, never in the repository the
command runs in: ``$AIDEATOR_DATA_DIR`` if set, else ``$XDG_DATA_HOME/aideator``
(``~/.local/share/aideator``). Its pid is in ``service.pid`` there.
"""
from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from importlib.util import find_spec
from typing import Callable
from urllib.parse import urlsplit

from .client import Client, Unreachable

DEFAULT_URL = "http://127.0.0.1:8000"
START_TIMEOUT = 60.0


def data_dir() -> str:
    given = os.environ.get("AIDEATOR_DATA_DIR")
    if given:
        return os.path.abspath(given)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                           ".local", "share")
    return os.path.join(base, "aideator")


def _loopback_bind(url: str) -> str | None:
    """``host:port`` to listen on for ``url``, or None when it is not this machine's."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        return None
    return f"{'127.0.0.1' if host == 'localhost' else host}:{parts.port or 80}"


def ensure(client: Client, say: Callable[[str], None]) -> None:
    """Return when the service at ``client.base`` answers, starting it if it is the
    embedded one's address and nothing is there."""
    if client.answers():
        return
    bind = _loopback_bind(client.base)
    if bind is None:
        raise Unreachable(f"no AIdeator answers at {client.base}")
    directory = data_dir()
    os.makedirs(directory, exist_ok=True)
    conf = find_spec("aideator.ops.gunicorn_conf")
    assert conf is not None and conf.origin is not None
    env = {**os.environ, "AIDEATOR_DATA_DIR": directory, "AIDEATOR_BIND": bind}
    log_path = os.path.join(directory, "service.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", conf.origin, "aideator:served_app()"],
            cwd=directory, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
    with open(os.path.join(directory, "service.pid"), "w") as f:
        f.write(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while not client.answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(log_path, "rb") as f:
                tail = f.read()[-2000:].decode("utf-8", "replace")
            raise Unreachable(f"the embedded service did not start (log: {log_path}):\n{tail}")
        time.sleep(0.1)
    say(f"started the embedded AIdeator service at {client.base} (pid {proc.pid}; data and "
        f"log in {directory}); it keeps running for your next commands: `kill {proc.pid}` "
        f"stops it")
