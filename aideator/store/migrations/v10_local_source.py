"""Version 10: a run's local source (a repository on the service's machine, snapshotted)."""
from __future__ import annotations

from peewee import Database


def upgrade(db: Database) -> None:
    db.execute_sql("ALTER TABLE run ADD COLUMN source TEXT")
