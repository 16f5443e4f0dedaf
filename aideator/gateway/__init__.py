"""The model gateway: agents reach models and git only through the service, which holds
the real credentials, meters every model call and enforces each variation's budget.
Imports ``store`` (usage), ``access`` (sealed tokens, stream links' key), ``github`` and ``ops``.

Routes (``/gateway``, outside ``/api/``: the API's bearer tokens play no part here, and a
gateway credential opens nothing of the API):

- ``POST /gateway/anthropic/v1/messages`` and ``.../v1/messages/count_tokens``
  (:mod:`.anthropic`); the agent's ``ANTHROPIC_BASE_URL`` is ``<base>/gateway/anthropic``.
- ``POST /gateway/openai/v1/responses`` and ``GET .../v1/models`` (:mod:`.openai`); the
  Codex agent's ``OPENAI_BASE_URL`` is ``<base>/gateway/openai/v1``.
- ``/gateway/gemini/v1beta/models...`` (:mod:`.gemini`); the agent's
  ``GOOGLE_GEMINI_BASE_URL`` is ``<base>/gateway/gemini``.
- ``GET /gateway/git/<owner>/<repo>/info/refs?service=git-upload-pack`` and
  ``POST /gateway/git/<owner>/<repo>/git-upload-pack`` (:mod:`.git`), read-only.
- anything else under ``/gateway``: 404.

``create_app(settings)`` makes an app with only these routes (what a sandbox's bridge
serves); ``init_app(app)`` adds them to the main app. Either way the database must be
initialised in the process (the main app's factory does it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, request

from ..config import Settings
from . import anthropic, gemini, git, openai, relay

PREFIX = "/gateway"
# Model requests carry the whole conversation (and images): far above the API's limit.
MAX_BODY_BYTES = 32 << 20
EXTENSION = "aideator.gateway"

bp = Blueprint("gateway", __name__)


@dataclass(frozen=True)
class Gateway:
    settings: Settings
    anthropic: relay.Upstream
    openai: relay.Upstream
    gemini: relay.Upstream


@bp.before_request
def _body_limit() -> None:
    request.max_content_length = MAX_BODY_BYTES


@bp.post("/anthropic/v1/messages")
def messages() -> Any:
    return anthropic.proxy("/v1/messages")


@bp.post("/anthropic/v1/messages/count_tokens")
def count_tokens() -> Any:
    return anthropic.proxy("/v1/messages/count_tokens")


@bp.route("/anthropic/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def anthropic_other(rest: str) -> Any:
    return anthropic.error(404, "aideator gateway: only the model endpoints are served")


@bp.post("/openai/v1/responses")
def openai_responses() -> Any:
    return openai.proxy("POST", "/responses")


@bp.get("/openai/v1/models")
def openai_models() -> Any:
    return openai.proxy("GET", "/models")


@bp.route("/openai/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def openai_other(rest: str) -> Any:
    return openai.error(404, "aideator gateway: only the model endpoints are served")


@bp.route("/gemini/v1beta/<path:rest>", methods=["GET", "POST"])
def gemini_api(rest: str) -> Any:
    return gemini.proxy(rest)


@bp.get("/git/<owner>/<repo>/info/refs")
def git_refs(owner: str, repo: str) -> Any:
    return git.proxy(owner, repo, "info/refs")


@bp.post("/git/<owner>/<repo>/git-upload-pack")
def git_upload_pack(owner: str, repo: str) -> Any:
    return git.proxy(owner, repo, "git-upload-pack")


@bp.post("/git/<owner>/<repo>/git-receive-pack")
def git_receive_pack(owner: str, repo: str) -> Any:
    return git.refuse_push(owner, repo)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def other(rest: str) -> Any:
    return git.plain(404, "aideator gateway: no such route")


def init_app(app: Flask, settings: Settings | None = None) -> None:
    """Serve the gateway on ``app`` (the main app: its service's settings by default)."""
    if settings is None:
        settings = app.extensions["aideator"].settings
    app.extensions[EXTENSION] = Gateway(settings, anthropic.upstream(), openai.upstream(),
                                         gemini.upstream())
    app.register_blueprint(bp, url_prefix=PREFIX)


def create_app(settings: Settings) -> Flask:
    """An app with only the gateway's routes (for a sandbox's bridge socket)."""
    from ..store.models import release_connection
    app = Flask(__name__)
    app.json.sort_keys = False
    init_app(app, settings)
    app.teardown_appcontext(lambda exc: release_connection())
    return app
