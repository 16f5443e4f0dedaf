"""AIdeator: run N coding agents on a repository and stream how they think.

``create_app`` wires the parts together, and ``service`` the parts of a process that outlive
a request. Each sub-package's docstring says what it holds and what it may import
(``tests/test_layout.py`` checks it); ``config``, ``version`` and ``naming`` are the
foundation every part may import.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from flask import Flask

from .version import __version__

__all__ = ["__version__", "create_app", "served_app"]


def served_app() -> Flask:
    """The application as a server runs it, taking part at once (resuming runs left
    unfinished): ``gunicorn -c <aideator/ops/gunicorn_conf.py> 'aideator:served_app()'``,
    as the ``aideator`` command starts the embedded service from an installed copy. The
    gevent worker has patched the standard library before it calls this."""
    app = create_app()
    app.extensions["aideator"].resume()
    return app


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The application; ``test_config`` overrides settings read from the environment."""
    # Imported here, not above: gunicorn's master imports aideator.ops.logs before forking,
    # and must not import the database driver before the workers' gevent patches.
    from flask import Flask
    from flask_cors import CORS

    from .config import database_url, load_settings, trusted_hosts
    from .ops import logs, tracing
    from .store.models import init_db, release_connection

    settings = load_settings(overrides=test_config)
    logs.setup(settings.log_format, settings.log_level)
    tracing.configure()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    url = database_url(settings)
    init_db(url, settings.db_pool_size)

    # Browsers from other origins: none until configured (the web app is same-origin).
    # Tokens travel in a header, never as cookies: no credentials mode.
    origins = settings.cors_origins.strip()
    if origins:
        CORS(app, resources={r"/api/*": {
            "origins": "*" if origins == "*" else [o.strip() for o in origins.split(",")],
            "expose_headers": ["Location", "Retry-After", "WWW-Authenticate",
                               logs.REQUEST_ID_HEADER]}})
    # A request naming another host is refused (400) before any view runs: with auth off,
    # a page on another site that rebinds its name to 127.0.0.1 cannot drive the service.
    app.config["TRUSTED_HOSTS"] = trusted_hosts(settings)

    from .service import Service
    app.extensions["aideator"] = Service(settings, url)
    # Each request's pooled connection goes back to the pool when the request ends (an SSE
    # stream borrows one only for each read).
    app.teardown_appcontext(lambda exc: release_connection())

    from . import api, gateway, web
    from .access import cli
    api.init_app(app, settings)
    gateway.init_app(app, settings)
    web.init_app(app)
    app.cli.add_command(cli.tokens)
    tracing.init_app(app)
    logs.init_app(app)   # outermost: every request has its id before anything else runs
    if settings.runtime == "kubernetes":
        # Each agent pod's setup reaches registries through the API's own port.
        from .egress import policy, window
        from .egress.proxy import EgressProxy
        from .egress.wsgi import EgressMiddleware
        proxy = EgressProxy(policy.parse(settings.egress_allow),
                            authorize=window.authorizer(settings))
        app.wsgi_app = EgressMiddleware(app.wsgi_app, proxy)  # type: ignore[method-assign]
    return app
