"""Version 2: runs carry a lease (owner, epoch, expiry), so several replicas can share them.

Also widens ``eventbatch.created_at`` to double precision on PostgreSQL (version 1 made it
a 4-byte ``real``, which cannot hold a Unix time to the second).
"""
from __future__ import annotations

from peewee import CharField, Database, DoubleField, IntegerField, PostgresqlDatabase
from playhouse.migrate import SchemaMigrator, migrate


def upgrade(db: Database) -> None:
    migrator = SchemaMigrator.from_database(db)
    operations = [
        migrator.add_column("run", "lease_owner", CharField(max_length=200, null=True)),
        migrator.add_column("run", "lease_epoch", IntegerField(default=0)),
        migrator.add_column("run", "lease_expires", DoubleField(null=True)),
    ]
    if isinstance(db, PostgresqlDatabase):
        operations.append(migrator.alter_column_type("eventbatch", "created_at",
                                                     DoubleField()))
    migrate(*operations)
