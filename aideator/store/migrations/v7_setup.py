"""Version 7: a variation keeps the run's setup and how it went (command, source, time
limit, passed, exit code, duration, timed out, reason). A plain nullable ``ADD COLUMN``
(JSON as text): older rows had no setup."""
from __future__ import annotations

from peewee import Database


def upgrade(db: Database) -> None:
    db.execute_sql("ALTER TABLE variation ADD COLUMN setup TEXT")
