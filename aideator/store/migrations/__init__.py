"""Versioned schema changes, applied when a process starts.

A fresh database gets today's tables and the latest version at once. An older one is
upgraded in place, one numbered step at a time (``STEPS``), each step and the version it
reaches committed together. Everything happens under a database-wide lock (an advisory
lock on PostgreSQL, the write lock on SQLite), so replicas or workers that start together
do not race: the first upgrades, the others wait and find nothing left to do.

A database made before versions existed (it has the tables but no ``schema_version``) is
version 1.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Callable, Iterator, Sequence

from peewee import Database, Model, PostgresqlDatabase

from . import (
    v2_leases,
    v3_access,
    v4_warnings,
    v5_usage,
    v6_checks,
    v7_setup,
    v8_github,
    v9_lineage,
    v10_local_source,
)

log = logging.getLogger(__name__)

STEPS: dict[int, Callable[[Database], None]] = {2: v2_leases.upgrade, 3: v3_access.upgrade,
                                                4: v4_warnings.upgrade, 5: v5_usage.upgrade,
                                                6: v6_checks.upgrade, 7: v7_setup.upgrade,
                                                8: v8_github.upgrade, 9: v9_lineage.upgrade,
                                                10: v10_local_source.upgrade}
LATEST = max(STEPS)
# Any constant shared by every replica: the key of the advisory lock.
LOCK_KEY = 0x41494445   # "AIDE"


@contextlib.contextmanager
def _locked(db: Database) -> Iterator[None]:
    """A transaction that holds the database-wide migration lock until it ends."""
    if isinstance(db, PostgresqlDatabase):
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            yield
    else:
        # BEGIN IMMEDIATE takes SQLite's write lock at once (busy_timeout waits for it).
        with db.atomic(lock_type="IMMEDIATE"):
            yield


def current_version(db: Database) -> int | None:
    """The schema's version; None for an empty database."""
    if db.table_exists("schema_version"):
        return db.execute_sql("SELECT version FROM schema_version").fetchone()[0]
    return 1 if db.table_exists("run") else None


def _set_version(db: Database, version: int) -> None:
    db.execute_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    db.execute_sql("DELETE FROM schema_version")
    db.execute_sql("INSERT INTO schema_version (version) VALUES (%s)"
                   % int(version))


def migrate(db: Database, models: Sequence[type[Model]]) -> int:
    """Bring the schema to ``LATEST``; returns the version it was at (0 if empty)."""
    with _locked(db):
        version = current_version(db)
        if version is None:
            db.create_tables(models)
            _set_version(db, LATEST)
            return 0
        if version > LATEST:
            raise RuntimeError(f"the database's schema is version {version}, newer than this "
                               f"code knows ({LATEST}): upgrade the service")
        for step in range(version + 1, LATEST + 1):
            log.info("upgrading the database schema to version %d", step)
            STEPS[step](db)
            _set_version(db, step)
        return version
