"""Version 4: a variation keeps the cluster's warnings about it (Kubernetes Warning events:
FailedScheduling, FailedMount...), so each is told once, also across restarts and
takeovers. A plain ``ADD COLUMN`` (JSON as text), nullable: older rows have none."""
from __future__ import annotations

from peewee import Database


def upgrade(db: Database) -> None:
    db.execute_sql("ALTER TABLE variation ADD COLUMN warnings TEXT")
