"""The HTTP API under /api/v1: one blueprint per resource, and the access check
(``access``) that runs once before every request. The top of the service: it may import
``access``, ``github``, ``runs``, ``stream``, ``store``, ``schemas``, ``runtimes`` and ``ops``."""
from __future__ import annotations

from flask import Flask

from ..config import Settings
from . import access, changes, errors, github, meta, runs, streams, tokens

PREFIX = "/api/v1"


def init_app(app: Flask, settings: Settings) -> None:
    access.init_app(app, settings)   # before any other before_request: who is calling
    errors.init_app(app)
    streams.init_app(app, settings)
    for bp in (meta.bp, runs.bp, changes.bp, github.bp, streams.bp, tokens.bp):
        app.register_blueprint(bp, url_prefix=PREFIX)
