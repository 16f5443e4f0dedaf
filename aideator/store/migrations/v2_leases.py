"""Version 2: runs carry a lease (owner, epoch, expiry), so several replicas can share them.

Also widens ``eventbatch.created_at`` to double precision on PostgreSQL (version 1 made it
a 4-byte ``real``, which cannot hold a Unix time to the second).

Plain ``ALTER TABLE ... ADD COLUMN`` on purpose: SQLite does it in place, where a table
rebuild (what a migration library does to add a NOT NULL column there) would drop the old
``run`` table and, with foreign keys on, cascade-delete every run's history.
"""
from __future__ import annotations

from peewee import Database, PostgresqlDatabase


def upgrade(db: Database) -> None:
    double = "DOUBLE PRECISION" if isinstance(db, PostgresqlDatabase) else "REAL"
    db.execute_sql("ALTER TABLE run ADD COLUMN lease_owner VARCHAR(200)")
    db.execute_sql("ALTER TABLE run ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0")
    db.execute_sql(f"ALTER TABLE run ADD COLUMN lease_expires {double}")
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("ALTER TABLE eventbatch ALTER COLUMN created_at TYPE DOUBLE PRECISION")
