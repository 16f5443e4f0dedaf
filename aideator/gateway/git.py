"""git's smart HTTP protocol through the gateway, read-only, for the run's own repository.

An agent clones ``https://github.com/<owner>/<repo>``; its git config rewrites that to
``<gateway>/gateway/git/<owner>/<repo>`` and adds its credential as a bearer header. The
gateway passes ``info/refs?service=git-upload-pack`` and ``git-upload-pack`` (fetch and
clone) through to the same path on ``AIDEATOR_GITHUB_URL``, streamed both ways, and
refuses pushes (``git-receive-pack``), dumb-protocol reads and every other repository.

When the run's principal has connected GitHub (``github.tokens``), the upstream request
carries their token (``Authorization: Basic x-access-token:<token>``, as GitHub expects
over HTTPS), so a private repository clones while the agent still holds only its own
gateway credential. A repository the host will not show (401/403/404: it does not exist,
or it is private and no token that can read it is connected) is refused with a sentence
saying so, which git prints to the agent's clone error.
"""
from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request

from ..access.sealing import Unsealable
from ..github import tokens
from ..ops import metrics
from . import credentials, upstream

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
FORWARD_HEADERS = ("content-type", "accept", "content-encoding", "git-protocol")
RETURN_HEADERS = ("content-type", "content-encoding", "cache-control", "expires", "pragma")


def plain(status: int, message: str) -> Any:
    # git prints a refusal's body to the user ("remote: ..."), so say why in plain text.
    return Response(message + "\n", status=status, mimetype="text/plain")


def _repo(url: str) -> tuple[str, str] | None:
    """(owner, repository) of a GitHub URL, lower-cased, without ``.git``."""
    parts = urlsplit(url).path.strip("/").split("/")
    if len(parts) != 2:
        return None
    owner, name = parts
    return owner.lower(), name.lower().removesuffix(".git")


def proxy(owner: str, repo: str, action: str) -> Any:
    """Forward ``<owner>/<repo>/<action>``: ``info/refs`` or ``git-upload-pack``."""
    gateway = current_app.extensions["aideator.gateway"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        grant = credentials.verify(token.strip() if scheme.lower() == "bearer" else "",
                                   gateway.settings)
    except credentials.Refused as exc:
        metrics.gateway_call("git", "unauthorized")
        return plain(401, str(exc))
    if (not _NAME.match(owner) or not _NAME.match(repo)
            or (owner.lower(), repo.lower().removesuffix(".git")) != _repo(grant.github_url)):
        metrics.gateway_call("git", "refused")
        return plain(403, "aideator gateway: only the run's own repository can be fetched")
    service = request.args.get("service")
    if action == "info/refs" and service != "git-upload-pack":
        metrics.gateway_call("git", "refused")
        return plain(403, "aideator gateway: read-only: only git-upload-pack (fetch, "
                           "clone) is served")
    url = f"{gateway.settings.github_url.rstrip('/')}/{owner}/{repo}/{action}"
    if action == "info/refs":
        url += "?service=git-upload-pack"
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_HEADERS}
    headers["user-agent"] = request.headers.get("User-Agent", "git/aideator-gateway")
    try:
        token = tokens.token_of(grant.principal, gateway.settings)
    except Unsealable as exc:
        log.error("gateway: the run's GitHub token cannot be opened: %s", exc)
        token = None
    if token:
        headers["authorization"] = tokens.git_authorization(token)
    body = request.get_data(cache=False) if request.method == "POST" else None
    try:
        response = upstream.send(request.method, url, headers=headers, body=body)
    except upstream.Unreachable as exc:
        metrics.gateway_call("git", "unreachable")
        log.warning("gateway: the git host could not be reached: %s", exc)
        return plain(502, "aideator gateway: the git host could not be reached")
    if response.status in (401, 403, 404):
        response.drain_conn()
        response.release_conn()
        metrics.gateway_call("git", "upstream_error")
        connected = "with the run's connected GitHub token" if token else \
            "and no GitHub token is connected for the run's principal (PUT /api/v1/github)"
        return plain(403, f"aideator gateway: the git host refused to show {owner}/{repo} "
                          f"(HTTP {response.status}) {connected}: the repository does not "
                          f"exist, or it is private and needs a token that can read it")
    metrics.gateway_call("git", "ok" if response.status < 400 else "upstream_error")
    out = Response(upstream.relay(response, lambda chunk: None, lambda complete: None),
                   status=response.status, direct_passthrough=True)
    out.headers.clear()
    for name in RETURN_HEADERS:
        if name in response.headers:
            out.headers[name] = response.headers[name]
    return out


def refuse_push(owner: str, repo: str) -> Any:
    metrics.gateway_call("git", "refused")
    return plain(403, "aideator gateway: read-only: pushing is not allowed")
