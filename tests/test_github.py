"""From a variation to the repository, against a fake GitHub on 127.0.0.1 (git's smart
HTTP through ``git http-backend``, and the REST calls the service makes): the patch to
download, a GitHub token connected per principal, private repositories cloned through the
gateway with it, and pull requests opened once, with GitHub's refusals surfaced and nothing
left half-done. The token must appear nowhere but in the requests to GitHub.

One real gunicorn server (auth required) for the module; the agent is
tests/fixtures/git_agent.py, which really clones through the gateway and reports the real
``agent/diff.py`` diff.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import ROOT, Server, wait_for
from sse_client import read_events
from tests.fake_github import FakeGitHub

ADMIN = "aid_admin-for-the-github-tests-0123456789"
GH_TOKEN = "ghp_SECRETgithubTokenOfAlice0123456789"
GIT_AGENT = ROOT / "tests" / "fixtures" / "git_agent.py"
FILES = {"keep.txt": "one\n", "gone.txt": "delete me\n", "logo.bin": "not yet binary\n"}
CHANGE = "add=src/new.py del=gone.txt bin=logo.bin edit=keep.txt"


class World:
    def __init__(self, server: Server, github: FakeGitHub, alice: str, bob: str) -> None:
        self.server, self.github, self.alice, self.bob = server, github, alice, bob
        # Every response body the tests saw, to look for the token in.
        self.seen: list[str] = []

    def api(self, method: str, path: str, body: Any = None, token: str | None = None,
            **kwargs: Any) -> requests.Response:
        url = self.server.base + path if path.startswith("/api/") else self.server.url(path)
        resp = requests.request(method, url, json=body, timeout=60,
                                headers={"Authorization": f"Bearer {token or self.alice}"},
                                **kwargs)
        self.seen.append(resp.text + str(resp.headers))
        return resp

    def run(self, repo: str, prompt: str = CHANGE, variations: int = 1,
            token: str | None = None) -> dict[str, Any]:
        """Start a run, wait for its end, return its detail."""
        resp = self.api("POST", "/runs", {"github_url": f"https://github.com/{repo}",
                                          "prompt": prompt, "variations": variations},
                        token=token)
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["run_id"]

        def ended() -> dict[str, Any] | None:
            detail = self.api("GET", f"/runs/{run_id}", token=token).json()
            return detail if detail["status"] in ("completed", "failed") else None
        return wait_for(ended, timeout=60, interval=0.2)

    def pull(self, run_id: str, variation: int = 0, token: str | None = None
             ) -> requests.Response:
        return self.api("POST", f"/runs/{run_id}/variations/{variation}/pull-request",
                        token=token)


def git(*args: str, cwd: Path | None = None, input: bytes | None = None
        ) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.com",
                           *args], cwd=cwd, input=input, capture_output=True, check=False)


def tree_at(repo: Path, commit: str) -> dict[str, bytes]:
    names = git("ls-tree", "-r", "--name-only", commit, cwd=repo).stdout.decode().split()
    return {name: git("show", f"{commit}:{name}", cwd=repo).stdout for name in names}


def expected_tree(variation: int = 0) -> dict[str, bytes]:
    return {"keep.txt": f"one\nedited by variation {variation}\n".encode(),
            "logo.bin": bytes(range(256)) + b"\x00binary\x00" + str(variation).encode(),
            "src/new.py": f"added by variation {variation}\n".encode()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("github")
    github = FakeGitHub(tmp / "github")
    for name in ("widgets", "frozen", "readonly", "limited", "nopulls", "taken", "twice"):
        github.repo("acme", name, FILES)
    github.repo("acme", "hidden", {"secret.txt": "private things\n"}, private=True)
    github.switch("acme", "frozen", archived=True)
    github.switch("acme", "readonly", push=False)
    github.switch("acme", "limited", rate_limited=True)
    github.switch("acme", "nopulls", refuse_pulls=True)
    github.tokens[GH_TOKEN] = "alice-gh"
    github.start()
    server = Server(tmp / "data", auth="required", admin_token=ADMIN,
                    github_url=github.url, github_api_url=github.api_url, sandbox="off",
                    encryption_key="github-tests-encryption-key",
                    agent_command=f"{sys.executable} {GIT_AGENT}")
    server.start()
    tokens = []
    for name in ("alice", "bob"):
        resp = requests.post(server.url("/tokens"), json={"name": name}, timeout=10,
                             headers={"Authorization": f"Bearer {ADMIN}"})
        tokens.append(resp.json()["token"])
    w = World(server, github, *tokens)
    resp = w.api("PUT", "/github", {"token": GH_TOKEN})
    assert resp.status_code == 200, resp.text
    yield w
    server.stop()
    github.stop()


def test_the_patch_applies_with_git_am_at_the_base_commit_and_gives_the_variations_tree(
        world, tmp_path):
    base = git("rev-parse", "HEAD", cwd=world.github.path("acme", "widgets")).stdout \
        .decode().strip()
    detail = world.run("acme/widgets", f"Tidy the widgets\n{CHANGE} v1.truncate=1 "
                                       f"v2.fail=1", variations=3)
    assert detail["base_commit"] == base
    first, cut, failed = detail["variations"]
    assert first["status"] == "succeeded" and first["base_commit"] == base
    resp = world.api("GET", first["patch_url"])
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/x-patch")
    assert f'filename="{detail["run_id"]}-0.patch"' in resp.headers["Content-Disposition"]
    assert "Subject: [PATCH] Tidy the widgets\n" in resp.text

    fresh = tmp_path / "fresh"
    assert git("clone", "-q", f"{world.github.url}/acme/widgets", str(fresh)).returncode == 0
    git("checkout", "-q", "--detach", base, cwd=fresh)
    done = git("am", cwd=fresh, input=resp.content)
    assert done.returncode == 0, done.stderr
    assert tree_at(fresh, "HEAD") == expected_tree(0)   # gone.txt gone, the binary exact
    log = git("log", "-1", "--format=%s%n%b", cwd=fresh).stdout.decode()
    assert log.startswith("Tidy the widgets\n")
    assert f"run {detail['run_id']}, variation 0" in log and "Metered cost: $" in log

    # A diff cut at its size limit, and a variation with no diff: a 409 that says why.
    resp = world.api("GET", cut["patch_url"])
    assert resp.status_code == 409 and resp.json()["error"] == "patch_unavailable"
    assert "cut at its size limit" in resp.json()["detail"]
    assert failed["status"] == "failed" and failed["patch_url"] is None
    resp = world.api("GET", f"/runs/{detail['run_id']}/variations/2/patch")
    assert resp.status_code == 409 and "reported no diff" in resp.json()["detail"]
    # Another principal's run does not exist for them.
    resp = world.api("GET", first["patch_url"], token=world.bob)
    assert resp.status_code == 404


def test_a_private_repository_clones_only_with_the_runs_principals_token(world):
    # Bob has connected nothing: his run cannot read it, and says why.
    assert world.api("GET", "/github", token=world.bob).json()["connected"] is False
    detail = world.run("acme/hidden", "add=x.txt", token=world.bob)
    variation = detail["variations"][0]
    assert detail["status"] == "failed" and variation["status"] == "failed"
    assert "no GitHub token is connected" in variation["error"]
    assert "it is private and needs a token" in variation["error"]

    # Alice has: hers clones (through the gateway, which adds the token upstream).
    before = len(world.github.authorizations)
    detail = world.run("acme/hidden", "add=x.txt edit=secret.txt")
    assert detail["status"] == "completed", detail
    assert detail["variations"][0]["outcome"]["files_changed"] == ["secret.txt", "x.txt"]
    carried = [auth for path, auth in world.github.authorizations[before:]
               if path.startswith("/acme/hidden")]
    assert carried and all(auth and auth.startswith("Basic ") for auth in carried)

    # What GET /github tells: connected, the login and scopes, never the token.
    shown = world.api("GET", "/github").json()
    assert shown["connected"] is True and shown["login"] == "alice-gh"
    assert shown["scopes"] == ["repo", "workflow"]
    # A token GitHub refuses is not stored (the one stored stays).
    resp = world.api("PUT", "/github", {"token": "ghp_not-a-real-token"})
    assert resp.status_code == 422 and resp.json()["field"] == "token"
    assert world.api("GET", "/github").json()["login"] == "alice-gh"
    # Forgotten: bob connects and disconnects; his GET says not connected again.
    assert world.api("PUT", "/github", {"token": GH_TOKEN}, token=world.bob).status_code == 200
    assert world.api("DELETE", "/github", token=world.bob).status_code == 204
    assert world.api("GET", "/github", token=world.bob).json()["connected"] is False


def test_a_pull_request_is_pushed_and_opened_once(world):
    detail = world.run("acme/widgets", f"Make widgets shine\n\nwith more words\n{CHANGE}")
    run_id, base = detail["run_id"], detail["base_commit"]
    resp = world.pull(run_id)
    assert resp.status_code == 201, resp.text
    made = resp.json()
    branch = f"aideator/{run_id}-0"
    assert made["branch"] == branch and made["number"] >= 1
    assert made["url"] == f"{world.github.url}/acme/widgets/pull/{made['number']}"

    # The branch: one commit on the base commit, with exactly the variation's tree.
    repo = world.github.path("acme", "widgets")
    head = world.github.branch("acme", "widgets", branch)
    assert git("rev-parse", f"{head}^", cwd=repo).stdout.decode().strip() == base
    assert tree_at(repo, head) == expected_tree(0)
    # The pull request: the patch's subject and body, a link back to the run.
    pull = next(p for p in world.github.pulls if p["number"] == made["number"])
    assert pull["title"] == "Make widgets shine" and pull["base"]["ref"] == "main"
    assert pull["head"] == {"ref": branch, "sha": head}
    assert f"run {run_id}, variation 0" in pull["body"]
    assert f"{world.server.base}/runs/{run_id}" in pull["body"]

    # Asking again: the same one, not another. The detail shows it.
    again = world.pull(run_id)
    assert again.status_code == 200 and again.json() == made
    assert world.api("GET", f"/runs/{run_id}").json()["variations"][0]["pull_request"] == {
        k: made[k] for k in ("number", "url", "branch", "created_at")}
    assert sum(p["head"]["ref"] == branch for p in world.github.pulls) == 1


def test_two_requests_at_once_open_one_pull_request(world):
    run_id = world.run("acme/twice")["run_id"]
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(world.pull(run_id)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 201]
    assert len({a.json()["number"] for a in answers}) == 1
    assert len([p for p in world.github.pulls if p["repo"] == "acme/twice"]) == 1


@pytest.mark.parametrize("repo, status, code, reason", [
    ("acme/frozen", 403, "github_archived", "is archived"),
    ("acme/readonly", 403, "github_no_push_permission", "cannot push"),
    ("acme/limited", 429, "github_rate_limited", "API rate limit exceeded"),
    ("acme/nopulls", 422, "github_rejected", "pull requests are disabled here"),
    ("acme/taken", 409, "branch_exists", "already exists"),
])
def test_githubs_refusals_are_clear_and_leave_nothing_behind(world, repo, status, code,
                                                               reason):
    owner, name = repo.split("/")
    run_id = world.run(repo)["run_id"]
    branch = f"aideator/{run_id}-0"
    if name == "taken":   # someone made the branch already
        git("branch", branch, cwd=world.github.path(owner, name))
    resp = world.pull(run_id)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == code and reason in resp.json()["detail"]
    if code == "github_rate_limited":
        assert int(resp.headers["Retry-After"]) > 0
    if name != "taken":   # no branch without its pull request
        assert world.github.branch(owner, name, branch) is None
    assert not [p for p in world.github.pulls if p["repo"] == repo]
    assert world.api("GET", f"/runs/{run_id}").json()["variations"][0]["pull_request"] is None


def test_without_a_connected_token_a_pull_request_says_to_connect_github(world):
    run_id = world.run("acme/widgets", "add=bobs.txt", token=world.bob)["run_id"]
    resp = world.pull(run_id, token=world.bob)
    assert resp.status_code == 409 and resp.json()["error"] == "github_not_connected"
    assert "connect GitHub" in resp.json()["detail"]


def test_the_token_is_nowhere_but_in_the_requests_to_github(world):
    # Runs of the tests above (this one runs last in the module): their streams, every
    # response, the server's log, every file of the service (the database included: it
    # keeps the token sealed) and of the agents (workspaces, homes, their env lines).
    runs = world.api("GET", "/runs?limit=100").json()["runs"]
    assert runs
    for run in runs:
        link = world.api("POST", f"/runs/{run['run_id']}/stream-token").json()
        events = read_events(world.server.base + link["stream_url"], timeout=30)
        assert events and not any(GH_TOKEN.encode() in e.raw for e in events)
        assert any(b'"type":"env"' in e.raw for e in events)   # the agents' environments
    assert not any(GH_TOKEN in text for text in world.seen)
    assert GH_TOKEN not in world.server.log_path.read_text()
    needle = GH_TOKEN.encode()
    for path in world.server.data_dir.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path
    # It did reach GitHub, from the service.
    assert any(auth and GH_TOKEN in auth for _, auth in world.github.authorizations
               if auth and auth.startswith("Bearer"))
