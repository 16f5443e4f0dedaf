"""The sandbox's only way out: the gateway, served on a Unix socket in each variation's
directory (``<variation dir>/bridge/gateway.sock``).

A sandboxed agent has no network of the host, so the process that owns a variation serves
the gateway-only WSGI app there, with gevent's WSGI server, for as long as it watches the
variation; inside the sandbox the directory is mounted at ``/run/aideator`` and socat
turns it into a loopback port (``sandbox-init.sh``). A process that re-attaches (after a
restart, or a replica taking the run over) binds the socket anew: the old one died with
its process, and the mounted directory shows the new one to the running sandbox.
"""
from __future__ import annotations

import logging
import os
import socket
from typing import Any, Callable

import gevent.socket
from gevent.pywsgi import WSGIServer

log = logging.getLogger(__name__)

SOCKET_NAME = "gateway.sock"
# The setup egress proxy's socket: only in the run's setup directory (see prepare.py).
EGRESS_SOCKET = "egress.sock"
WSGIApp = Callable[..., Any]
# Makes the egress proxy's server on a listening socket (aideator.egress.EgressProxy.server).
EgressServer = Callable[[Any], Any]


def socket_dir(directory: str) -> str:
    return os.path.join(directory, "bridge")


def _listen(path: str) -> gevent.socket.socket:
    """A listening Unix socket at ``path``, replacing whatever was there.

    Bound through /proc/self/fd/<dir>/: a socket's path is limited to 107 bytes, and data
    directories (a test's temporary one, say) easily make a longer one."""
    directory, name = os.path.split(path)
    fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        short = f"/proc/self/fd/{fd}/{name}"
        try:
            os.unlink(short)
        except FileNotFoundError:
            pass
        sock = gevent.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(short)
            sock.listen(128)
        except BaseException:
            sock.close()
            raise
        return sock
    finally:
        os.close(fd)


class Bridges:
    """The gateway's Unix sockets this process serves, one per watched variation."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        # directory -> (server, the socket file's inode: whose socket is at the path)
        self._servers: dict[str, tuple[WSGIServer, int]] = {}
        self._egress: dict[str, Any] = {}

    def open(self, directory: str, *, egress: EgressServer | None = None) -> None:
        """Serve the gateway in ``directory``'s bridge (again, if it was served before);
        with ``egress``, the setup egress proxy beside it."""
        self.close(directory)
        where = socket_dir(directory)
        # Only this user reaches the socket (the sandbox's user is this user outside).
        os.makedirs(where, mode=0o700, exist_ok=True)
        os.chmod(where, 0o700)
        path = os.path.join(where, SOCKET_NAME)
        server = WSGIServer(_listen(path), self._app, log=None, error_log=log)
        server.start()
        self._servers[directory] = (server, os.stat(path).st_ino)
        if egress is not None:
            proxy = egress(_listen(os.path.join(where, EGRESS_SOCKET)))
            proxy.start()
            self._egress[directory] = proxy

    def close(self, directory: str) -> None:
        proxy = self._egress.pop(directory, None)
        if proxy is not None:
            proxy.stop(timeout=0)
            try:
                os.unlink(os.path.join(socket_dir(directory), EGRESS_SOCKET))
            except FileNotFoundError:
                pass
        served = self._servers.pop(directory, None)
        if served is None:
            return
        server, inode = served
        # Requests under way (a model stream) end with the variation; no grace needed.
        server.stop(timeout=0)
        path = os.path.join(socket_dir(directory), SOCKET_NAME)
        try:
            # Only our own socket: a replica that took the run over may have bound its own.
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except FileNotFoundError:
            pass

    def __len__(self) -> int:
        return len(self._servers)


def no_gateway(environ: dict, start_response: Callable[..., Any]) -> list[bytes]:
    """What the bridge serves when the service has no gateway app to give it: an answer
    that says so (503), rather than a connection the agent sees fail for no reason."""
    body = b'{"error": "aideator gateway: no gateway is served to this sandbox"}\n'
    start_response("503 Service Unavailable", [("Content-Type", "application/json"),
                                                ("Content-Length", str(len(body)))])
    return [body]
