"""Shared fixtures: an app on a throw-away SQLite file, and real gunicorn+gevent servers."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

# The repository root, so ``agent`` and ``tests.agent.*`` import the same way everywhere.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helpers import FAKE_AGENT, Server  # noqa: E402


@pytest.fixture
def app(tmp_path: Path) -> Any:
    from aideator import create_app
    return create_app({"data_dir": str(tmp_path / "data"),
                       "agent_command": (sys.executable, str(FAKE_AGENT))})


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real PostgreSQL server for the session (started on first use, ~1 s)."""
    from postgres import Postgres
    return Postgres(tmp_path_factory.mktemp("postgres") / "pgdata")


@pytest.fixture
def pg_url(postgres: Any) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return postgres.create_database()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def make(data_dir: Path | None = None, **settings: str) -> Server:
        server = Server(data_dir or tmp_path / "data", **settings)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Any) -> Server:
    return make_server()
