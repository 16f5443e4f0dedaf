"""Version 8: the base commit of every run and variation (what a patch applies to, and
what a pull request's branch starts from), the GitHub tokens principals connect (sealed,
see ``sealing``), and the pull requests opened from variations.

The new tables are declared here as they were at this version, not imported from
``models``, so later changes to the models cannot change what this step did.
"""
from __future__ import annotations

from peewee import (
    SQL,
    CharField,
    Database,
    DateTimeField,
    DoubleField,
    IntegerField,
    Model,
    TextField,
)


class GitHubToken(Model):
    principal = CharField(primary_key=True, max_length=64)
    sealed = TextField()
    login = CharField(max_length=100, null=True)
    scopes = TextField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "githubtoken"


class PullRequest(Model):
    run = CharField(max_length=63, column_name="run_id",
                    constraints=[SQL("REFERENCES run (id) ON DELETE CASCADE")])
    variation = IntegerField()
    state = CharField(max_length=20)
    claimed_at = DoubleField()
    branch = CharField(max_length=120)
    number = IntegerField(null=True)
    url = CharField(max_length=500, null=True)
    created_at = DateTimeField(null=True)
    created_by = CharField(max_length=64, null=True)

    class Meta:
        table_name = "pullrequest"
        indexes = ((("run", "variation"), True),)


COLUMNS = {"run": ("base_commit VARCHAR(64)",), "variation": ("base_commit VARCHAR(64)",)}


def upgrade(db: Database) -> None:
    with db.bind_ctx([GitHubToken, PullRequest]):
        db.create_tables([GitHubToken, PullRequest])
    for table, columns in COLUMNS.items():
        for column in columns:
            db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column}")
