"""Schema versions: a database made by the code before versions existed (kept as fixtures:
a SQLite file and a PostgreSQL dump, each holding a finished run with a winner) is
upgraded in place, keeps its history and takes new runs; replicas starting together on an
empty database do not race."""
from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sse_client import read_events

from aideator.store.migrations import LATEST, STEPS

from .conftest import assert_complete, start_run

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "schema_v1"
SQLITE_V1 = FIXTURES / "aideator.db"
POSTGRES_V1 = FIXTURES / "postgresql.sql"


def check_upgraded_service(server) -> None:
    runs = server.get("/runs").json()["runs"]
    assert len(runs) == 1
    old = runs[0]
    assert (old["status"], old["variations"], old["winning_variation_id"]) == ("completed", 2, 1)
    detail = server.get(f"/runs/{old['run_id']}").json()
    assert [v["status"] for v in detail["variations"]] == ["succeeded", "succeeded"]
    history = read_events(server.base + detail["stream_url"], timeout=10)
    assert len(history) == detail["event_count"] and history[-1].event == "run_finished"
    run = start_run(server, "lines=8", 2)
    assert_complete(read_events(server.base + run["stream_url"], timeout=30), 2, 8)


def sqlite_columns(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted((c[1], c[2].upper(), c[3]) for c in
                          conn.execute(f"PRAGMA table_info({t})")) for t in tables}


def test_a_version_1_sqlite_database_is_upgraded_in_place(make_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SQLITE_V1, data / "aideator.db")
    server = make_server(data)
    check_upgraded_service(server)
    with sqlite3.connect(data / "aideator.db") as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(LATEST,)]
    fresh = make_server(tmp_path / "fresh")
    fresh.stop()
    # Upgraded and freshly made databases end up with the same columns.
    assert sqlite_columns(data / "aideator.db") == sqlite_columns(tmp_path / "fresh" /
                                                                 "aideator.db")


def pg_columns(postgres, url: str) -> list[tuple]:
    return postgres.execute(url, "SELECT table_name, column_name, data_type, is_nullable "
                                 "FROM information_schema.columns "
                                 "WHERE table_schema = 'public' ORDER BY 1, 2")


def test_a_version_1_postgresql_database_is_upgraded_in_place(make_server, postgres,
                                                              pg_url, tmp_path):
    postgres.psql_file(pg_url, POSTGRES_V1)
    server = make_server(tmp_path / "data", database_url=pg_url)
    check_upgraded_service(server)
    assert postgres.execute(pg_url, "SELECT version FROM schema_version") == [(LATEST,)]
    fresh_url = postgres.create_database()
    make_server(tmp_path / "fresh", database_url=fresh_url)
    assert pg_columns(postgres, pg_url) == pg_columns(postgres, fresh_url)
    types = {(t, c): d for t, c, d, _ in pg_columns(postgres, pg_url)}
    assert types[("eventbatch", "created_at")] == "double precision"


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_replicas_starting_together_on_an_old_database_upgrade_it_once(
        make_server, postgres, tmp_path, database):
    data = tmp_path / "data"
    data.mkdir()
    if database == "postgresql":
        url = postgres.create_database()
        postgres.psql_file(url, POSTGRES_V1)
        settings = {"database_url": url}
    else:
        shutil.copy(SQLITE_V1, data / "aideator.db")
        settings = {}
    servers, errors = [], []

    def start(i: int) -> None:
        try:
            servers.append(make_server(data, replica_name=f"r{i}", **settings))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(servers) == 3
    upgrades = sum(s.log_path.read_text().count("upgrading the database schema to version")
                   for s in servers)
    assert upgrades == len(STEPS)   # every step from version 1, once
    assert all(s.get("/health").json()["status"] == "healthy" for s in servers)
