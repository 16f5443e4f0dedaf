"""Peewee models: runs, their variations, the append-only event log, the selection.

The database is a proxy initialised from the configured URL (SQLite by default,
PostgreSQL-ready). Under gevent one process serves every greenlet from one connection
(``thread_safe=False``): database calls never yield to another greenlet, so no two
statements or transactions interleave, and there is no per-greenlet connection to leak.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from peewee import (BlobField, BooleanField, CharField, DatabaseProxy, DateTimeField, FloatField,
                    ForeignKeyField, IntegerField, Model, TextField)
from playhouse.db_url import connect

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    # Event batches are blobs of tens of KB: bigger pages write them with less overhead.
    # (Applies when the file is created.)
    "page_size": 16384,
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "synchronous": "normal",
    "foreign_keys": 1,
}

# Run statuses (PRD) and the variation states behind them.
RUN_ACTIVE = ("starting", "running")
RUN_ENDED = ("completed", "failed", "cancelled")
VARIATION_ENDED = ("succeeded", "failed", "cancelled")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class JSONField(TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db


class Run(BaseModel):
    id = CharField(primary_key=True, max_length=63)
    github_url = CharField(max_length=300)
    prompt = TextField()
    variation_count = IntegerField()
    agent_config = JSONField()
    runtime = CharField(max_length=20)
    status = CharField(max_length=20, default="starting", index=True)
    cancel_requested = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)


class Variation(BaseModel):
    run = ForeignKeyField(Run, backref="variations", on_delete="CASCADE", index=False)
    index = IntegerField()
    config = JSONField()
    job_name = CharField(max_length=63)
    status = CharField(max_length=20, default="queued")
    # Where the variation runs (process name or pod), and runtime-specific handle data.
    source = CharField(max_length=253, null=True)
    handle = JSONField(null=True)
    # How far its output has been stored: resuming from here neither loses nor repeats.
    cursor = TextField(null=True)
    exit_code = IntegerField(null=True)
    error = TextField(null=True)
    # What the agent reported at its end: its ``result`` (turns, tokens, cost) and ``diff``.
    result = JSONField(null=True)
    diff = JSONField(null=True)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("run", "index"), True),)


class EventBatch(BaseModel):
    """Consecutive events of a run (``first_seq``..``last_seq``), stored as the SSE frames
    that were sent: ``id: <seq>\nevent: <name>\ndata: <json>\n\n`` each."""
    # No index of its own: the unique (run, first_seq) index below serves lookups by run.
    run = ForeignKeyField(Run, backref="event_batches", on_delete="CASCADE", index=False)
    first_seq = IntegerField()
    last_seq = IntegerField()
    frames = BlobField()
    finished = BooleanField(default=False)   # ends with the run's last event
    created_at = FloatField()

    class Meta:
        indexes = ((("run", "first_seq"), True),)


class Selection(BaseModel):
    run = ForeignKeyField(Run, unique=True, on_delete="CASCADE")
    variation = IntegerField()
    selected_at = DateTimeField(default=utcnow)


MODELS = (Run, Variation, EventBatch, Selection)


def init_db(url: str) -> None:
    """Connect the proxy to ``url`` and create missing tables."""
    kwargs: dict[str, Any] = {"thread_safe": False}
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        kwargs["pragmas"] = SQLITE_PRAGMAS
    db.initialize(connect(url, **kwargs))
    db.connect(reuse_if_open=True)
    db.create_tables(MODELS)


def close_db() -> None:
    if not db.is_closed():
        db.close()
