"""The few GitHub REST calls the service makes, and GitHub's refusals as our own errors.

Every call names the token it uses; it travels in the Authorization header only and is
never part of an error, a log line or a URL. ``AIDEATOR_GITHUB_API_URL`` says where the
API is (GitHub Enterprise Server: ``https://<host>/api/v3``; the tests: a fake).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote

import urllib3

from ..version import __version__

TIMEOUT = urllib3.Timeout(connect=10.0, read=30.0)
POOL = urllib3.PoolManager(num_pools=4, maxsize=16, block=False, retries=False,
                           timeout=TIMEOUT)


class GitHubError(Exception):
    """GitHub refused, or could not be reached: ``status`` and ``code`` are what our API
    answers with, ``detail`` says why in GitHub's words."""

    def __init__(self, status: int, code: str, detail: str,
                 retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.retry_after = status, code, detail, retry_after


def _message(payload: Any) -> str:
    if not isinstance(payload, Mapping):
        return ""
    message = str(payload.get("message") or "")
    details = [str(e.get("message") or e.get("code") or "") for e in payload.get("errors") or []
               if isinstance(e, Mapping)]
    details = [d for d in details if d]
    return "; ".join([message, *details]) if details else message


def refusal(status: int, headers: Mapping[str, str], message: str, what: str) -> GitHubError:
    """GitHub's answer ``status`` to ``what``, as the error our API returns."""
    reason = f"GitHub refused to {what} (HTTP {status}): {message or 'no reason given'}"
    remaining = headers.get("x-ratelimit-remaining")
    if status == 429 or (status == 403 and (remaining == "0" or "retry-after" in headers)):
        wait = headers.get("retry-after")
        if wait is None and headers.get("x-ratelimit-reset", "").isdigit():
            wait = str(max(int(headers["x-ratelimit-reset"]) - int(time.time()), 1))
        return GitHubError(429, "github_rate_limited", reason,
                           int(wait) if wait and wait.isdigit() else 60)
    if status == 401:
        return GitHubError(403, "github_token_rejected",
                           reason + ": connect GitHub again with a valid token "
                                    "(PUT /api/v1/github)")
    if status == 403:
        return GitHubError(403, "github_forbidden", reason)
    if status == 404:
        return GitHubError(403, "github_not_found",
                           reason + ": the repository does not exist, or the connected "
                                    "token cannot see it")
    if status in (409, 422):
        return GitHubError(409 if status == 409 else 422, "github_rejected", reason)
    return GitHubError(502, "github_unavailable", reason)


@dataclass(frozen=True)
class Client:
    api_url: str
    token: str

    def call(self, method: str, path: str, what: str, body: Any = None,
             ok: tuple[int, ...] = (200, 201)) -> tuple[int, Any, Mapping[str, str]]:
        headers = {"Authorization": f"Bearer {self.token}",
                   "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": f"aideator/{__version__}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = POOL.request(method, self.api_url.rstrip("/") + path, body=data,
                                    headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise GitHubError(502, "github_unavailable",
                              f"GitHub's API could not be reached to {what}: "
                              f"{type(exc).__name__}") from None
        lowered = {k.lower(): v for k, v in response.headers.items()}
        try:
            payload = json.loads(response.data) if response.data else None
        except ValueError:
            payload = None
        if response.status not in ok:
            raise refusal(response.status, lowered, _message(payload), what)
        return response.status, payload, lowered

    def user(self) -> tuple[str | None, list[str] | None]:
        """The token's login, and its scopes (classic tokens; None for fine-grained)."""
        _, payload, headers = self.call("GET", "/user", "check the token")
        scopes = headers.get("x-oauth-scopes")
        return ((payload or {}).get("login"),
                None if scopes is None else [s.strip() for s in scopes.split(",")
                                             if s.strip()])

    def repository(self, owner: str, repo: str) -> dict[str, Any]:
        _, payload, _ = self.call("GET", f"/repos/{_q(owner)}/{_q(repo)}",
                                  f"show {owner}/{repo}")
        return payload or {}

    def find_pull(self, owner: str, repo: str, branch: str) -> dict[str, Any] | None:
        """The pull request whose head is ``owner:branch``, if there is one (any state)."""
        _, payload, _ = self.call(
            "GET", f"/repos/{_q(owner)}/{_q(repo)}/pulls?state=all&head="
                   f"{quote(owner + ':' + branch, safe='')}", "list pull requests")
        return payload[0] if isinstance(payload, list) and payload else None

    def create_pull(self, owner: str, repo: str, *, head: str, base: str, title: str,
                    body: str) -> dict[str, Any]:
        _, payload, _ = self.call("POST", f"/repos/{_q(owner)}/{_q(repo)}/pulls",
                                  "open the pull request",
                                  {"title": title, "body": body, "head": head, "base": base})
        return payload or {}

    def delete_branch(self, owner: str, repo: str, branch: str) -> None:
        self.call("DELETE", f"/repos/{_q(owner)}/{_q(repo)}/git/refs/heads/{quote(branch)}",
                  "delete the branch", ok=(204, 200, 404, 422))


def _q(name: str) -> str:
    return quote(name, safe="")
