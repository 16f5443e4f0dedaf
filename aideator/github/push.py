"""Service-side git: put a variation's change on a new branch of its repository.

In a temporary directory, with the settings the agent's own git uses as a model
(``agent/git.py``): hooks and fsmonitor off, no system or global config, no credential
helper, no prompt. The token reaches git only as an ``http.extraHeader`` in the
``GIT_CONFIG_*`` environment (``Authorization: Basic x-access-token:<token>``, as GitHub
expects over HTTPS), never in argv or a URL; the mail goes in on stdin. Only the base
commit is fetched (``--depth=1``), the mail is applied with ``git am`` and the result
pushed to ``refs/heads/<branch>`` only if that branch does not exist yet
(checked with ``ls-remote`` first, and by ``--force-with-lease=<ref>:`` with nothing
expected against a race).
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from typing import Sequence

from agent.git import SAFE_OPTIONS

from .rest import GitHubError
from .tokens import git_authorization

COMMITTER = ("AIdeator", "aideator@noreply.invalid")
TIMEOUT = 300.0
_HTTP_STATUS = re.compile(r"The requested URL returned error: (\d{3})")


def _env(home: str, token: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LC_ALL": "C",
           "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_ATTR_NOSYSTEM": "1", "GIT_NO_REPLACE_OBJECTS": "1",
           "GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1],
           "GIT_CONFIG_COUNT": "2",
           "GIT_CONFIG_KEY_0": "http.extraHeader",
           "GIT_CONFIG_VALUE_0": f"Authorization: {git_authorization(token)}",
           # An empty helper list: no stored password of the machine's is ever offered.
           "GIT_CONFIG_KEY_1": "credential.helper", "GIT_CONFIG_VALUE_1": ""}
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE",
                 "GIT_SSL_CAINFO"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _reasons(stderr: str, token: str) -> str:
    lines = [line.strip() for line in stderr.replace(token, "[REDACTED]").splitlines()]
    said = [line for line in lines if line.startswith(("remote:", "fatal:", "error:", "!"))]
    return "; ".join((said or lines)[-4:]) or "no reason given"


def _git(args: Sequence[str], *, cwd: str, env: dict[str, str], token: str, what: str,
         stdin: bytes | None = None) -> str:
    try:
        done = subprocess.run(["git", *SAFE_OPTIONS, *args], cwd=cwd, env=env, input=stdin,
                              capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise GitHubError(504, "github_unavailable",
                          f"git could not {what} within {TIMEOUT:.0f} s") from None
    if done.returncode == 0:
        return done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    raise _refusal(stderr, token, what)


def _refusal(stderr: str, token: str, what: str) -> GitHubError:
    reason = f"git could not {what}: {_reasons(stderr, token)}"
    status = _HTTP_STATUS.search(stderr)
    code = int(status.group(1)) if status else None
    # A 401 makes git ask for a user name, which it may not: that is how a refused token
    # (or a private repository the token cannot see) shows.
    if code == 401 or "Authentication failed" in stderr or "could not read Username" in stderr:
        return GitHubError(403, "github_token_rejected",
                           reason + " (connect GitHub again with a valid token)")
    if code == 403:
        return GitHubError(403, "github_forbidden", reason)
    if code == 429:
        return GitHubError(429, "github_rate_limited", reason, 60)
    if code == 404:
        return GitHubError(403, "github_not_found", reason)
    if "[rejected]" in stderr or "stale info" in stderr or "already exists" in stderr:
        return GitHubError(409, "branch_exists", reason)
    if code is not None or "unable to access" in stderr or "Could not resolve" in stderr:
        return GitHubError(502, "github_unavailable", reason)
    return GitHubError(409, "patch_failed", reason)


def push_branch(*, repo_url: str, token: str, base_commit: str, mail: str,
                branch: str) -> str:
    """Push ``mail`` applied on ``base_commit`` as new branch ``branch``; the new commit."""
    with tempfile.TemporaryDirectory(prefix="aideator-push-") as tmp:
        env, work = _env(tmp, token), os.path.join(tmp, "repo")
        _git(["init", "-q", work], cwd=tmp, env=env, token=token, what="make a repository")
        _git(["fetch", "-q", "--no-tags", "--depth=1", repo_url, base_commit], cwd=work,
             env=env, token=token, what=f"fetch the base commit {base_commit[:12]}")
        _git(["checkout", "-q", "--detach", "FETCH_HEAD"], cwd=work, env=env, token=token,
             what="check out the base commit")
        _git(["am", "-q", "--no-3way"], cwd=work, env=env, token=token,
             what="apply the variation's change", stdin=mail.encode())
        commit = _git(["rev-parse", "HEAD"], cwd=work, env=env, token=token,
                      what="read the new commit").strip()
        ref = f"refs/heads/{branch}"
        # Said plainly if it is there; the lease below still refuses one made meanwhile.
        if _git(["ls-remote", repo_url, ref], cwd=work, env=env, token=token,
                what="list the repository's branches").strip():
            raise GitHubError(409, "branch_exists",
                              f"the branch {branch} already exists on GitHub: delete it "
                              f"there to open the pull request again")
        _git(["push", "-q", f"--force-with-lease={ref}:", repo_url,
              f"HEAD:{ref}"], cwd=work, env=env, token=token,
             what=f"push the branch {branch}")
        return commit


def delete_branch(*, repo_url: str, token: str, branch: str) -> None:
    """Remove ``branch`` (the cleanup when the pull request could not be opened)."""
    with tempfile.TemporaryDirectory(prefix="aideator-push-") as tmp:
        env = _env(tmp, token)
        _git(["init", "-q", "repo"], cwd=tmp, env=env, token=token, what="make a repository")
        _git(["push", "-q", repo_url, f":refs/heads/{branch}"], cwd=os.path.join(tmp, "repo"),
             env=env, token=token, what=f"delete the branch {branch}")
