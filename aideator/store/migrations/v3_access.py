"""Version 3: access control. Principals with hashed tokens, shared secrets, and who
created, cancelled and selected (runs made before it have no one recorded).

The new tables are declared here as they were at this version, not imported from
``models``, so later changes to the models cannot change what this step did.
"""
from __future__ import annotations

from peewee import BooleanField, CharField, Database, DateTimeField, Model, TextField


class ApiToken(Model):
    id = CharField(primary_key=True, max_length=20)
    name = CharField(max_length=100)
    admin = BooleanField(default=False)
    token_hash = CharField(max_length=64, unique=True)
    limits = TextField()
    created_at = DateTimeField()
    created_by = CharField(max_length=64, null=True)
    revoked_at = DateTimeField(null=True)


class ServiceSecret(Model):
    name = CharField(primary_key=True, max_length=50)
    value = TextField()


COLUMNS = {"run": ("created_by VARCHAR(64)", "created_by_name VARCHAR(100)",
                   "cancelled_by VARCHAR(64)", "cancelled_by_name VARCHAR(100)"),
           "selection": ("selected_by VARCHAR(64)", "selected_by_name VARCHAR(100)")}


def upgrade(db: Database) -> None:
    with db.bind_ctx([ApiToken, ServiceSecret]):
        db.create_tables([ApiToken, ServiceSecret])
    for table, columns in COLUMNS.items():
        for column in columns:
            db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column}")
    db.execute_sql("CREATE INDEX run_created_by ON run (created_by)")
