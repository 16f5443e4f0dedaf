"""Shared fixtures: an app on a throw-away SQLite file, and real gunicorn+gevent servers;
and the ``integration`` mark that sets the fast test loop apart (``make test-fast``)."""
from __future__ import annotations

import inspect
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


# A test is an integration test when it starts a server (gunicorn, a fake Kubernetes API or
# model server), a database (PostgreSQL), a browser or a real agent: through one of these
# fixtures (directly or through another fixture) ...
INTEGRATION_FIXTURES = frozenset({
    "make_server", "server", "postgres", "pg_url",      # here
    "replicas",                                         # tests/replicas
    "fake_kube", "fake", "kube_server",                 # tests/kube, tests/kube_runtime
    "chromium", "web_server", "secured",                # tests/web
    "fake_model", "world",                              # tests/agent, test_agent_service, auth
    "github_world",                                     # tests/web/test_changes
    "fake_openai", "openai_world", "codex_server",      # codex: agent, gateway, service
    "three_engines",                                    # test_engines_e2e
    "seeded",                                           # test_validation
    "api_image", "agent_image",                         # tests/deploy/test_images
    "checked_run", "board_browser",                     # test_checks
    "setup_world", "plain_server",                      # test_setup
    "gemini_fake",                                      # tests/agent/test_agent_gemini
})
# ... or in its own body.
INTEGRATION_CALLS = ("Server(", "FakeKubeAPI(", "FakeAnthropic(", "FakeOpenAI(", "FakeGemini(",
                     "start_chromium(", "Postgres(")


# The longest files, started first so that with one worker per core (pytest-xdist, whole
# files per worker) none of them is left running alone at the end.
LONGEST_FIRST = ("test_openapi_contract.py", "deploy/test_images.py",
                 "replicas/test_postgres_replicas.py", "kube_runtime/test_replicas.py")


def _longest_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith(name)),
                len(LONGEST_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the integration tests (``pytest -m "not integration"`` runs the others), and
    put the longest files first (a stable sort: each file's own order is kept)."""
    for item in items:
        if _is_integration(item):
            item.add_marker(pytest.mark.integration)
    items.sort(key=_longest_first)


def _starts_something(function: Any) -> bool:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    return any(call in source for call in INTEGRATION_CALLS)


def _is_integration(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    if INTEGRATION_FIXTURES & names:
        return True
    if item.get_closest_marker("slow") is not None:
        return True
    # A module's own fixture that starts a server in its body (``hostile``, say) counts
    # like the shared ones, so a new test file needs no entry above.
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs if info is not None else {}
    if any(_starts_something(d.func) for name in names for d in defs.get(name, ())):
        return True
    return _starts_something(getattr(item, "function", None))
