"""Version 9: a run's parent (the variation it iterates on) and the change its variations
start from."""
from __future__ import annotations

from peewee import Database

COLUMNS = ("parent_run VARCHAR(63)", "parent_variation INTEGER", "base_change TEXT")


def upgrade(db: Database) -> None:
    for column in COLUMNS:
        db.execute_sql(f"ALTER TABLE run ADD COLUMN {column}")
    db.execute_sql("CREATE INDEX run_parent_run ON run (parent_run)")
