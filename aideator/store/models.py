"""Peewee models: runs, their variations, the append-only event log, the selection.

The database is a proxy initialised from the configured URL (SQLite by default,
PostgreSQL for several replicas).

- SQLite: one connection serves every greenlet of a process (``thread_safe=False``). Its
  calls never yield to another greenlet, so no two statements or transactions interleave.
- PostgreSQL (psycopg 3): its calls wait on the socket cooperatively under gevent, so other
  greenlets run meanwhile and each greenlet needs a connection of its own: a pool, with
  connection state per greenlet (``thread_safe=True``; gevent makes thread-locals
  greenlet-locals). Code outside a request borrows one with :func:`connection`.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from typing import Any, Iterator

from peewee import (
    BlobField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    TextField,
)
from playhouse.db_url import connect

from .migrations import migrate

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
    # The lease of the replica collecting the run (see ``ownership``): who, since which
    # takeover (the epoch fences every write), and until when (database clock, epoch s).
    lease_owner = CharField(max_length=200, null=True)
    lease_epoch = IntegerField(default=0)
    lease_expires = DoubleField(null=True)
    # Who started and who cancelled it (principal id and name; empty with auth off).
    created_by = CharField(max_length=64, null=True, index=True)
    created_by_name = CharField(max_length=100, null=True)
    cancelled_by = CharField(max_length=64, null=True)
    cancelled_by_name = CharField(max_length=100, null=True)
    # The checks every variation runs ({name, command, timeout_seconds[, junit_report]}).
    checks = JSONField(null=True)
    # The commit the first variation's clone checked out (each variation keeps its own).
    base_commit = CharField(max_length=64, null=True)
    # The variation this run iterates on (``from`` in the request), and the change every
    # variation starts from: {commit, patch}, copied from the parent when the run was made
    # so the run needs neither the parent's workspace nor the parent itself any more.
    parent_run = CharField(max_length=63, null=True, index=True)
    parent_variation = IntegerField(null=True)
    base_change = JSONField(null=True)
    # A run started from a repository on this machine (``repo_path``): where, which commit,
    # whether uncommitted changes were included (``runs/snapshot.py``); None for GitHub.
    source = JSONField(null=True)


# What a variation's ``setup`` keeps of the agent's ``setup_finished`` line.
SETUP_FIELDS = ("command", "source", "timeout_seconds", "passed", "exit_code", "duration_ms",
                "timed_out", "reason")


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
    # What the cluster warned about it (Kubernetes Warning events), each told once.
    warnings = JSONField(null=True)
    # Results of the run's checks (``check_finished`` fields, by check name): on its work,
    # and (variation 0 only) on the unchanged repository, the run's baseline.
    checks = JSONField(null=True)
    baseline_checks = JSONField(null=True)
    # The run's setup and how it went for this variation (see run_request.setup_request).
    setup = JSONField(null=True)   # the keys in SETUP_FIELDS
    # The commit its clone checked out (the agent's ``status cloned``): its diff's base.
    base_commit = CharField(max_length=64, null=True)
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
    created_at = DoubleField()

    class Meta:
        indexes = ((("run", "first_seq"), True),)


class Selection(BaseModel):
    run = ForeignKeyField(Run, unique=True, on_delete="CASCADE")
    variation = IntegerField()
    selected_at = DateTimeField(default=utcnow)
    selected_by = CharField(max_length=64, null=True)
    selected_by_name = CharField(max_length=100, null=True)


class ApiToken(BaseModel):
    """A principal and its bearer token, of which only a hash is kept (see ``auth``)."""
    id = CharField(primary_key=True, max_length=20)
    name = CharField(max_length=100)
    admin = BooleanField(default=False)
    token_hash = CharField(max_length=64, unique=True)
    # Overrides of the configured limits (see ``limits``): absent keys use the defaults.
    limits = JSONField()
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(max_length=64, null=True)
    revoked_at = DateTimeField(null=True)


class ServiceSecret(BaseModel):
    """Secrets the replicas share and nobody configured, e.g. the stream-link key."""
    name = CharField(primary_key=True, max_length=50)
    value = TextField()


class VariationUsage(BaseModel):
    """What a variation's model calls through the gateway used and cost (see
    ``gateway.usage``): one row per variation that made a call, only ever added to
    (``SET x = x + ?``), so replicas serving its calls at once lose nothing."""
    run = ForeignKeyField(Run, on_delete="CASCADE", index=False)
    variation = IntegerField()
    calls = IntegerField(default=0)
    input_tokens = IntegerField(default=0)
    output_tokens = IntegerField(default=0)
    cache_creation_input_tokens = IntegerField(default=0)
    cache_read_input_tokens = IntegerField(default=0)
    cost_usd = DoubleField(default=0.0)
    # Calls to a model with no known price: metered in tokens, not in dollars.
    unpriced_calls = IntegerField(default=0)
    # Calls the gateway refused because the budget was spent, and when it first did.
    refused_calls = IntegerField(default=0)
    refused_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("run", "variation"), True),)


class GitHubToken(BaseModel):
    """A principal's GitHub token, sealed (see ``sealing``): never returned nor logged."""
    # The principal's id ("-" with auth off: everyone is the same nobody).
    principal = CharField(primary_key=True, max_length=64)
    sealed = TextField()
    login = CharField(max_length=100, null=True)
    scopes = TextField(null=True)
    created_at = DateTimeField(default=utcnow)


class PullRequest(BaseModel):
    """The pull request opened from a variation. The row is claimed (``opening``) before
    anything is pushed, so two requests at once cannot open two; ``open`` once made."""
    run = ForeignKeyField(Run, on_delete="CASCADE", index=False)
    variation = IntegerField()
    state = CharField(max_length=20)
    # When the claim was taken (Unix seconds): a claim left by a dead process expires.
    claimed_at = DoubleField()
    branch = CharField(max_length=120)
    number = IntegerField(null=True)
    url = CharField(max_length=500, null=True)
    created_at = DateTimeField(null=True)
    created_by = CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("run", "variation"), True),)


MODELS = (Run, Variation, EventBatch, Selection, ApiToken, ServiceSecret, VariationUsage,
          GitHubToken, PullRequest)


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


def init_db(url: str, pool_size: int = 20) -> None:
    """Connect the proxy to ``url`` and bring its schema up to date."""
    if url.startswith(("postgres://", "postgresql://")):
        # Pooled, psycopg 3 (peewee picks it when psycopg2 is absent): see the docstring.
        url = "postgresql+pool://" + url.split("://", 1)[1]
        # A process frozen inside a transaction (a long GC pause, SIGSTOP, a VM paused)
        # would hold its row locks, and so block the replica taking its runs over, until it
        # woke: the server ends such a transaction after a few idle seconds instead.
        kwargs: dict[str, Any] = {"max_connections": pool_size, "stale_timeout": 300,
                                  "timeout": 30, "thread_safe": True,
                                  "options": "-c idle_in_transaction_session_timeout=3000"}
        _check_green_waits()
    else:
        kwargs = {"thread_safe": False}
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        kwargs["pragmas"] = SQLITE_PRAGMAS
    db.initialize(connect(url, **kwargs))
    with connection():
        migrate(db.obj, MODELS)


def _check_green_waits() -> None:
    """Under gevent, psycopg must wait on sockets through gevent (it picks how when it is
    first imported): a C wait would stall every greenlet of the process for each query."""
    import gevent.monkey
    import psycopg.waiting
    if (gevent.monkey.is_module_patched("select")
            and psycopg.waiting.wait is getattr(psycopg.waiting, "wait_c", None)):
        raise RuntimeError("psycopg was imported before gevent patched the standard library; "
                           "patch first (see wsgi.py)")


@contextlib.contextmanager
def connection() -> Iterator[None]:
    """This greenlet holds a connection for the block: borrowed from the pool and given back
    after (PostgreSQL), or the process's one connection (SQLite). Nests freely."""
    if not db.is_closed():
        yield
        return
    db.connect()
    try:
        yield
    finally:
        if is_postgres():
            db.close()


def write_transaction() -> Any:
    """A transaction that will write: on SQLite it takes the write lock at its start, so a
    read in it cannot go stale before its write (WAL would refuse that write outright)."""
    return db.atomic() if is_postgres() else db.atomic(lock_type="IMMEDIATE")


def release_connection() -> None:
    """Give this greenlet's pooled connection back (end of a request); SQLite keeps its one."""
    if is_postgres() and not db.is_closed():
        db.close()


def close_db() -> None:
    if not db.is_closed():
        db.close()
