"""A first-come-first-served limit on variations running at once, with cancellable waits."""
from __future__ import annotations

from collections import deque

import gevent.event


class Slots:
    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 1)
        self.used = 0
        self._waiters: deque[gevent.event.AsyncResult] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def acquire(self) -> gevent.event.AsyncResult:
        """A ticket whose value becomes True once a slot is ours, False if withdrawn."""
        ticket = gevent.event.AsyncResult()
        if self.used < self.limit and not self._waiters:
            self.used += 1
            ticket.set(True)
        else:
            self._waiters.append(ticket)
        return ticket

    def withdraw(self, ticket: gevent.event.AsyncResult) -> None:
        """Give up a ticket: dequeue it if waiting, free its slot if it had one."""
        if ticket.ready():
            if ticket.value:
                self.release()
        else:
            self._waiters.remove(ticket)
            ticket.set(False)

    def take(self) -> None:
        """Count a variation that is already running (re-attached), whatever the limit."""
        self.used += 1

    def release(self) -> None:
        if self._waiters and self.used <= self.limit:
            self._waiters.popleft().set(True)   # the slot passes straight to the next
        else:
            self.used -= 1
