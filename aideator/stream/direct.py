"""A caught-up SSE client's socket, written directly by whoever publishes its run's events.

A client that has every stored event of its run has nothing to do until the next batch is
stored. Waking its greenlet for each batch, and walking the WSGI layers from its
generator down to its socket, was most of what thousands of clients cost one worker. So a
caught-up client parks its socket in the fan-out, and the publisher writes each batch,
framed once for all, to every parked socket: one non-blocking write each, no switch. A
socket that cannot take a whole batch at once (a slow reader) or has gone is handed back
to its own greenlet, with the bytes it still owes, and the stream carries on from there.

Only for plain gunicorn sockets, whose HTTP framing we can reproduce: the headers went out
with the stream's first frame, and gunicorn frames the body chunked on HTTP/1.1 (no
Content-Length) and raw on HTTP/1.0. Anything else (TLS, another server, the test client)
keeps the ordinary path.
"""
from __future__ import annotations

import os
from typing import Any

import gevent.event
import gevent.socket
import gevent.ssl


class Direct:
    """One parked client: its socket, framing and position (the last event it was sent)."""

    __slots__ = ("sock", "fd", "chunked", "after", "pending", "gone", "written_at",
                 "handed_back")

    def __init__(self, sock: Any, chunked: bool) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.chunked = chunked
        self.after = 0
        self.pending = b""        # bytes of a batch the socket did not take at once
        self.gone = False         # the socket failed: the client has left
        self.written_at = 0.0     # time.monotonic() of the last batch written here
        self.handed_back = gevent.event.Event()

    def write(self, framed: bytes) -> bool:
        """Write a framed batch as far as the socket takes it now; False when the client
        must go back to its greenlet (the rest is in ``pending``, or it has gone)."""
        try:
            sent = os.write(self.fd, framed)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.gone = True
            return False
        if sent < len(framed):
            self.pending = framed[sent:]
            return False
        return True

    def flush(self) -> None:
        """Send what a batch left behind, waiting for the socket as long as it takes
        (in the client's own greenlet)."""
        pending, self.pending = self.pending, b""
        if pending and not self.gone:
            self.sock.sendall(pending)


def frame(chunk: bytes, chunked: bool) -> bytes:
    """``chunk`` as gunicorn would put it on the wire."""
    return b"%X\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk


def for_request(environ: dict[str, Any]) -> Direct | None:
    """The request's socket as a Direct client, when it is one we can write ourselves."""
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, gevent.socket.socket) or isinstance(sock, gevent.ssl.SSLSocket):
        return None
    protocol = environ.get("SERVER_PROTOCOL", "")
    if protocol not in ("HTTP/1.0", "HTTP/1.1"):
        return None
    return Direct(sock, chunked=protocol == "HTTP/1.1")
