"""The one HTTP client the gateway forwards with, and the relay of an upstream response.

urllib3 with one module-level pool: under gevent's monkey patching its sockets wait
cooperatively, so thousands of open model streams cost a greenlet each, not a thread. A
response is read with ``preload_content=False`` and handed on chunk by chunk as it
arrives (chunked transfer: each chunk as the upstream sent it; otherwise whatever one
read returns), never buffered whole.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterator, Mapping

import urllib3

log = logging.getLogger(__name__)

# Connecting is quick or broken; reading may pause for minutes (a model thinking between
# events, a large repository being packed), so only a long silence ends a read.
TIMEOUT = urllib3.Timeout(connect=10.0, read=600.0)
READ_SIZE = 1 << 16
# Connections kept open per upstream host for reuse (more may be open at once: block=False).
POOL = urllib3.PoolManager(num_pools=16, maxsize=256, block=False, retries=False,
                           timeout=TIMEOUT)


class Unreachable(Exception):
    """The upstream did not answer (refused, timed out, reset before its headers)."""


def send(method: str, url: str, *, headers: Mapping[str, str],
         body: bytes | None) -> urllib3.BaseHTTPResponse:
    """Send the request; the response's body is left unread for :func:`relay`."""
    try:
        return POOL.request(method, url, body=body, headers=dict(headers),
                            preload_content=False, decode_content=False, redirect=False)
    except urllib3.exceptions.HTTPError as exc:
        raise Unreachable(str(exc)) from None


def _chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    if response.chunked and response.supports_chunked_reads():
        yield from response.read_chunked(decode_content=False)
        return
    while True:
        data = response.read1(READ_SIZE, decode_content=False)
        if not data:
            return
        yield data


def relay(response: urllib3.BaseHTTPResponse, on_chunk: Callable[[bytes], None],
          on_end: Callable[[bool], None]) -> Iterator[bytes]:
    """The response body as it arrives; ``on_end(complete)`` runs once, however it ends
    (the upstream finished, failed, or the client went away)."""
    complete = False
    try:
        for chunk in _chunks(response):
            if chunk:
                on_chunk(chunk)
                yield chunk
        complete = True
    except urllib3.exceptions.HTTPError as exc:
        # Headers are sent: all that is left is to end the body early, as the upstream did.
        log.warning("gateway: the upstream response broke off: %s", exc)
    finally:
        if complete:
            response.release_conn()
        else:
            response.close()   # an unfinished connection is not reused
            response.release_conn()
        on_end(complete)
