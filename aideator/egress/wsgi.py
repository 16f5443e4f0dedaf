"""Kubernetes: the egress proxy on the API's own port, in front of the Flask app.

A proxy request (``CONNECT host:port`` or an absolute-form ``GET http://...``) never
reaches the app: this middleware takes the client's socket from gunicorn
(``gunicorn.socket``) and relays it (``proxy.EgressProxy.serve``) with the window
authorizer (``window.py``). Everything else goes to the app untouched. Serving it on the
API's port keeps the agents' NetworkPolicy as it was: the API pods' port and DNS.
"""
from __future__ import annotations

import socket
from typing import Any, Callable, Iterable

from .proxy import EgressProxy


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(key[5:].replace("_", "-").title(), value) for key, value in environ.items()
           if key.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            out.append((name, environ[key]))
    return out


def is_proxy_request(environ: dict[str, Any]) -> bool:
    return (environ.get("REQUEST_METHOD") == "CONNECT"
            or str(environ.get("RAW_URI", "")).startswith("http://"))


class EgressMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], proxy: EgressProxy) -> None:
        self.app = app
        self.proxy = proxy

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if not is_proxy_request(environ):
            return self.app(environ, start_response)
        client = environ.get("gunicorn.socket")
        if client is None:
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain")])
            return [b"aideator egress: not served here\n"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.proxy.serve(client, environ["REQUEST_METHOD"], environ["RAW_URI"],
                         environ.get("SERVER_PROTOCOL", "HTTP/1.1"), _headers(environ), body)
        # The connection was ours: gunicorn's own response then meets a closed pipe
        # (EPIPE, which it ignores) and it closes the socket.
        try:
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        start_response("200 OK", [("Content-Length", "0")])
        return []
