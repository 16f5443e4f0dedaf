"""Version 6: the run's checks and their results. A run keeps the checks it asked for
(``run.checks``); a variation keeps the results of the checks run on its work
(``variation.checks``) and, for variation 0 (which runs them on the unchanged repository
before its model starts), the run's baseline (``variation.baseline_checks``). Plain
``ADD COLUMN``s (JSON as text), nullable: older runs have no checks."""
from __future__ import annotations

from peewee import Database


def upgrade(db: Database) -> None:
    db.execute_sql("ALTER TABLE run ADD COLUMN checks TEXT")
    db.execute_sql("ALTER TABLE variation ADD COLUMN checks TEXT")
    db.execute_sql("ALTER TABLE variation ADD COLUMN baseline_checks TEXT")
