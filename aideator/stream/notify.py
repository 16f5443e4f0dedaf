"""Waking other replicas: PostgreSQL ``NOTIFY`` after a commit, ``LISTEN`` in one greenlet.

A notification only says "look now": readers always read the store, so a lost one costs
latency (the poll catches up), never data. Two channels: ``aideator_events`` (payload: a
run id with new events) and ``aideator_control`` (``cancel <run id>``: someone asked to
cancel a run; ``released``: a replica handed its runs over). SQLite has no such thing:
there, readers and owners poll.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

import gevent

from ..store.models import db, is_postgres

log = logging.getLogger(__name__)

EVENTS = "aideator_events"
CONTROL = "aideator_control"
RETRY_MIN, RETRY_MAX = 0.1, 5.0


def _send(channel: str, payloads: Iterable[str]) -> None:
    for payload in payloads:
        db.execute_sql("SELECT pg_notify(%s, %s)", (channel, payload))


def announce(run_ids: Iterable[str]) -> None:
    """Inside the transaction that stored new events of these runs."""
    if is_postgres():
        _send(EVENTS, run_ids)


def control(message: str) -> None:
    if is_postgres():
        _send(CONTROL, [message])


class Listener:
    """One connection per process that LISTENs, and calls ``on_events(run_id)`` or
    ``on_control(message)`` for each notification; ``on_reconnect()`` after a gap in which
    notifications may have been missed."""

    def __init__(self, dsn: str, *, on_events: Callable[[str], None],
                 on_control: Callable[[str], None],
                 on_reconnect: Callable[[], None]) -> None:
        self._dsn = dsn
        self._on_events, self._on_control = on_events, on_control
        self._on_reconnect = on_reconnect
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        import psycopg  # only on PostgreSQL

        backoff, first = RETRY_MIN, True
        while True:
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {EVENTS}")
                    conn.execute(f"LISTEN {CONTROL}")
                    backoff = RETRY_MIN
                    if not first:
                        self._on_reconnect()
                    first = False
                    for note in conn.notifies():
                        self._dispatch(note.channel, note.payload)
            except psycopg.Error as exc:
                log.warning("listening for notifications: %s; retrying in %.1fs", exc, backoff)
            gevent.sleep(backoff)
            backoff = min(backoff * 2, RETRY_MAX)

    def _dispatch(self, channel: str, payload: str) -> None:
        try:
            if channel == EVENTS:
                self._on_events(payload)
            else:
                self._on_control(payload)
        except Exception:  # noqa: BLE001 - one bad handler must not stop the listener
            log.exception("handling notification %s %r", channel, payload)
