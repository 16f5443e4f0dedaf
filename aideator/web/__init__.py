"""The web app: pages a person uses to start runs, watch the variations think and choose
the winner, served by the service itself so a browser is all anyone needs.

The pages are static shells; everything they show comes from the public API (REST under
/api/v1 and the SSE stream) through the JavaScript modules in ``static/js``, which are
also a worked example for frontend developers. Agent and repository text only ever
reaches the page as text nodes; the Content-Security-Policy below is a second fence.
Imports only ``runtimes`` (the engines its form offers): it reads the API like any client.
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, render_template

from ..runtimes import engines

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

# Scripts and styles from this origin only: no inline script, no eval, no plugins; the
# API and its streams are same-origin.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@bp.get("/")
def new_run() -> str:
    # The engines and the models each is known to take (the form offers them; any model
    # name may be typed), the service's default model first for Claude Code.
    settings = current_app.extensions["aideator"].settings
    return render_template("web/new_run.html", page="new",
                           engines=engines.catalogue(settings.default_model))


@bp.get("/runs")
def runs() -> str:
    return render_template("web/runs.html", page="runs")


@bp.get("/runs/<run_id>")
def run(run_id: str) -> str:
    # The id is only echoed (escaped) for the script to ask the API about.
    return render_template("web/run.html", page="run", run_id=run_id)


@bp.get("/settings")
def settings() -> str:
    return render_template("web/settings.html", page="settings")


@bp.after_request
def harden(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
