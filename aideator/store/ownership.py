"""Which replica collects which run: a lease per unfinished run, kept in the database.

A lease is three columns of the run: its owner (a replica's id), an epoch that grows with
every takeover, and an expiry on the database's clock (so replicas' clocks need not
agree). The owner renews its leases; when a replica dies, its leases expire and any other
replica claims them. Every write a replica makes for a run is conditional on the epoch it
claimed (``fence``), so an owner that was paused past its lease and wakes up can store
nothing more for that run.

A replica's id is ``<name>/<pid>/<process start time>``. When a lease's owner ran on this
very host (same name) and that process is gone, the lease is claimed at once instead of
after its expiry: a restarted server, or a killed gunicorn worker, resumes its runs
without waiting. Replicas on other hosts always wait for the expiry.
"""
from __future__ import annotations

import socket
from typing import Iterable

import psutil
from peewee import SQL

from .models import RUN_ACTIVE, Run, connection, is_postgres, write_transaction


def replica_id(name: str = "") -> str:
    name = (name or socket.gethostname()).replace("/", "-")
    me = psutil.Process()
    return f"{name}/{me.pid}/{me.create_time():.3f}"


def _is_dead_local(owner: str, my_name: str) -> bool:
    """Whether ``owner`` ran on this host and its process is gone."""
    parts = owner.rsplit("/", 2)
    if len(parts) != 3 or parts[0] != my_name:
        return False
    try:
        pid, started = int(parts[1]), float(parts[2])
    except ValueError:
        return False
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) >= 0.01 or \
            proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def db_now() -> SQL:
    """The database's clock, in Unix seconds."""
    if is_postgres():
        return SQL("EXTRACT(EPOCH FROM clock_timestamp())::float8")
    return SQL("((julianday('now') - 2440587.5) * 86400.0)")


class Leases:
    def __init__(self, owner: str, seconds: float) -> None:
        self.owner = owner
        self.name = owner.split("/")[0]
        self.seconds = seconds

    def _expiry(self) -> SQL:
        return SQL(f"({db_now().sql} + {float(self.seconds)!r})")

    def grant_new(self, run_id: str) -> int:
        """Hold the lease of a run this replica has just created (in its transaction)."""
        Run.update(lease_owner=self.owner, lease_epoch=1, lease_expires=self._expiry()) \
            .where(Run.id == run_id).execute()
        return 1

    def claimable(self) -> list[str]:
        """Unfinished runs whose lease has expired, was released or whose owner on this
        host is dead."""
        rows = (Run.select(Run.id, Run.lease_owner, Run.lease_expires < db_now())
                .where(Run.status.in_(RUN_ACTIVE)
                       & ((Run.lease_owner.is_null(True)) | (Run.lease_owner != self.owner)))
                .tuples())
        return [run_id for run_id, owner, expired in rows
                if owner is None or expired or _is_dead_local(owner, self.name)]

    def claim(self, run_id: str) -> int | None:
        """Take the run's lease if it is still claimable; its new epoch, or None if another
        replica was faster (or the run has ended)."""
        with connection(), write_transaction():
            row = (Run.select(Run.lease_owner, Run.lease_epoch, Run.lease_expires < db_now())
                   .where((Run.id == run_id) & Run.status.in_(RUN_ACTIVE)).tuples())
            if is_postgres():
                row = row.for_update()
            found = row.first()
            if found is None:
                return None
            owner, epoch, expired = found
            if not (owner is None or expired or owner == self.owner
                    or _is_dead_local(owner, self.name)):
                return None
            # Conditional on the epoch read: of two claimers, one changes the row.
            changed = (Run.update(lease_owner=self.owner, lease_epoch=epoch + 1,
                                  lease_expires=self._expiry())
                       .where((Run.id == run_id) & (Run.lease_epoch == epoch)).execute())
            return epoch + 1 if changed else None

    def renew(self, held: dict[str, int]) -> set[str]:
        """Extend the leases held (run -> epoch); returns the runs whose lease is lost."""
        if not held:
            return set()
        with connection(), write_transaction():
            (Run.update(lease_expires=self._expiry())
             .where((Run.lease_owner == self.owner) & Run.id.in_(list(held))).execute())
            current = dict(Run.select(Run.id, Run.lease_epoch)
                           .where((Run.lease_owner == self.owner) & Run.id.in_(list(held)))
                           .tuples())
        return {run_id for run_id, epoch in held.items() if current.get(run_id) != epoch}

    def release(self, run_ids: Iterable[str]) -> None:
        """Give leases up at once, so another replica need not wait for their expiry."""
        run_ids = list(run_ids)
        if run_ids:
            with connection():
                (Run.update(lease_owner=None, lease_expires=None)
                 .where((Run.lease_owner == self.owner) & Run.id.in_(run_ids)).execute())

    def fence(self, run_id: str, epoch: int) -> bool:
        """Inside a write transaction: whether this replica still holds the run at ``epoch``.
        On PostgreSQL the row stays share-locked until the transaction ends, so a claim
        cannot slip in between the check and the write; SQLite's write lock does the same."""
        query = Run.select(SQL("1")).where((Run.id == run_id) & (Run.lease_owner == self.owner)
                                           & (Run.lease_epoch == epoch))
        if is_postgres():
            query = query.for_update("FOR SHARE")
        return query.scalar() is not None

    def cancel_requests(self, held: Iterable[str]) -> list[str]:
        """Which of the held runs someone asked (through any replica) to cancel."""
        held = list(held)
        if not held:
            return []
        with connection():
            return [r for (r,) in Run.select(Run.id).where(
                Run.id.in_(held) & (Run.cancel_requested == True)).tuples()]  # noqa: E712
