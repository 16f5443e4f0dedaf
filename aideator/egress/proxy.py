"""The setup egress proxy: HTTP CONNECT (https) and absolute-form plain HTTP, allow-listed.

Small on purpose, and ours rather than a packaged proxy (squid, tinyproxy): it must
refuse private addresses *after* resolving an allowed name, serve each setup sandbox on a
Unix socket of its own (the bridge, like the gateway's), and on Kubernetes accept only a
variation's credential, and only while that variation's setup runs. Those decisions are
``policy.py`` and an ``authorize`` callable; this module only moves bytes.

One request per client connection: the request head is read (at most ``MAX_HEAD``
bytes), the destination checked, resolved, every address checked, then connected to the
checked address. CONNECT gets ``200`` and a byte tunnel (TLS stays end to end: the proxy
sees host names, not content). A plain request is passed on in origin form with
``Connection: close`` and without the ``Proxy-*`` headers, then relayed. Anything refused
gets a ``403`` (``407`` without a valid credential) and no connection is made.
"""
from __future__ import annotations

import base64
import logging
import socket
from typing import Any, Callable
from urllib.parse import urlsplit

import gevent
import gevent.socket
from gevent.server import StreamServer

from .policy import Policy, Refused

log = logging.getLogger(__name__)

MAX_HEAD = 16384
CONNECT_TIMEOUT = 10.0
# A tunnel idle this long in both directions is closed.
IDLE_TIMEOUT = 300.0
# With an ``authorize`` callable, how often an open connection's credential is checked again.
RECHECK_SECONDS = 2.0
# authorize(credential or None) -> True when the request may go on.
Authorize = Callable[[str | None], bool]


def _reply(client: socket.socket, status: str, text: str, extra: str = "") -> None:
    body = (text + "\n").encode()
    try:
        client.sendall(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                       f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
                       .encode() + body)
    except OSError:
        pass


def _read_head(client: socket.socket) -> tuple[bytes, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return None
        chunk = client.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _credential(headers: list[tuple[str, str]]) -> str | None:
    """The password of ``Proxy-Authorization: Basic`` (clients send the URL's user:pass)."""
    for name, value in headers:
        if name.lower() == "proxy-authorization":
            scheme, _, encoded = value.partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                _, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return password or None
    return None


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class EgressProxy:
    def __init__(self, policy: Policy, *, authorize: Authorize | None = None,
                 resolve: Callable[[str, int], list[str]] | None = None) -> None:
        self.policy = policy
        self._authorize = authorize
        self._resolve = resolve or _resolve

    def server(self, listener: Any) -> StreamServer:
        """A server on ``listener`` (a bound listening socket, or ``(host, port)``)."""
        return StreamServer(listener, self.handle)

    def handle(self, client: socket.socket, address: Any) -> None:
        """Serve one client connection of our own server (reads the request head)."""
        client.settimeout(IDLE_TIMEOUT)
        try:
            got = _read_head(client)
            if got is None:
                return _reply(client, "400 Bad Request", "aideator egress: bad request")
            head, rest = got
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ")
            except ValueError:
                return _reply(client, "400 Bad Request", "aideator egress: bad request line")
            headers = [(n.strip(), v.strip()) for n, _, v in
                       (line.partition(":") for line in lines[1:])]
            self.serve(client, method, target, version, headers, rest)
        except OSError:
            pass
        finally:
            client.close()

    def serve(self, client: socket.socket, method: str, target: str, version: str,
              headers: list[tuple[str, str]], rest: bytes = b"") -> None:
        """One parsed proxy request on ``client``: refuse it or relay it to its end.
        ``rest``: what the client sent after the head. The caller closes ``client``."""
        upstream = None
        try:
            credential = _credential(headers)
            if self._authorize is not None and not self._authorize(credential):
                return _reply(client, "407 Proxy Authentication Required",
                              "aideator egress: the setup window is closed or the "
                              "credential is invalid",
                              'Proxy-Authenticate: Basic realm="aideator-egress"\r\n')
            if method == "CONNECT":
                host, _, port_text = target.rpartition(":")
                path = None
            else:
                url = urlsplit(target)
                if url.scheme != "http" or not url.hostname:
                    return _reply(client, "400 Bad Request",
                                  "aideator egress: only CONNECT and absolute http:// URLs")
                host, port_text = url.hostname, str(url.port or 80)
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            try:
                port = int(port_text)
                upstream = self._connect(host, port)
            except (Refused, ValueError) as exc:
                log.info("egress refused %s %s: %s", method, target, exc)
                return _reply(client, "403 Forbidden", f"aideator egress: refused: {exc}")
            except OSError as exc:
                return _reply(client, "502 Bad Gateway", f"aideator egress: {exc}")
            if path is None:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                kept = [f"{n}: {v}" for n, v in headers
                        if n and not n.lower().startswith("proxy-")
                        and n.lower() not in ("connection", "keep-alive")]
                upstream.sendall("\r\n".join([f"{method} {path} {version}", *kept,
                                              "Connection: close", "", ""]).encode("latin-1"))
            if rest:
                upstream.sendall(rest)
            forward = gevent.spawn(_pipe, client, upstream)
            watch = (gevent.spawn(self._watch, credential, client, upstream)
                     if self._authorize is not None else None)
            # Done when the destination is: a client that keeps its side open (keep-alive)
            # does not hold the connection.
            _pipe(upstream, client)
            gevent.killall([g for g in (forward, watch) if g is not None])
        except OSError:
            pass
        finally:
            if upstream is not None:
                upstream.close()

    def _watch(self, credential: str | None, *sockets: socket.socket) -> None:
        """Close a tunnel once its credential stops being valid (the setup window closed):
        a process the setup left behind keeps no way out."""
        assert self._authorize is not None
        while True:
            gevent.sleep(RECHECK_SECONDS)
            if not self._authorize(credential):
                for sock in sockets:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def _connect(self, host: str, port: int) -> socket.socket:
        """A connection to the first allowed address of ``host:port``; raises Refused."""
        if not 0 < port < 65536:
            raise Refused(f"bad port {port}")
        self.policy.check_name(host, port)
        addresses = self._resolve(host, port)
        if not addresses:
            raise Refused(f"{host} does not resolve")
        reasons = []
        for address in addresses:
            try:
                self.policy.check_address(address, port)
            except Refused as exc:
                reasons.append(str(exc))
                continue
            sock = gevent.socket.create_connection((address, port), timeout=CONNECT_TIMEOUT)
            sock.settimeout(IDLE_TIMEOUT)
            return sock
        raise Refused(f"{host}: " + "; ".join(reasons))


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = gevent.socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))
