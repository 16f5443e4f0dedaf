"""The HTTP API under /api/v1: one blueprint per resource."""
from __future__ import annotations

from flask import Flask

from . import errors, meta, runs, streams, tokens

PREFIX = "/api/v1"


def init_app(app: Flask) -> None:
    errors.init_app(app)
    for bp in (meta.bp, runs.bp, streams.bp, tokens.bp):
        app.register_blueprint(bp, url_prefix=PREFIX)
