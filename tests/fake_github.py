"""A fake github.com on 127.0.0.1: git's smart HTTP protocol served by the real
``git http-backend`` (as CGI) over fixture repositories, so clones through the model
gateway (``AIDEATOR_GITHUB_URL``) run the whole real protocol offline; and the few REST
calls the service makes, at ``<url>/api/v3`` (as on GitHub Enterprise Server).

Usage::

    github = FakeGitHub(tmp_path / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\\n"})
    github.repo("acme", "hidden", {...}, private=True)
    github.tokens["ghp_x"] = "alice"      # a valid token and its login
    url = github.start()     # http://127.0.0.1:<port>; repos at <url>/<owner>/<repo>
    github.api_url           # <url>/api/v3
    github.requests          # (method, path) of every request, in order
    github.pulls             # every pull request opened, in order
    github.stop()

Like GitHub: a private repository shows (git or REST) only to a valid token, sent as
``Authorization: Basic x-access-token:<token>`` (git) or ``Bearer``/``token`` (REST), and
anyone else gets a 401 (git) or 404 (REST); pushes need a valid token too. Switches per
repository (``github.switch(owner, name, ...)``): ``archived`` (pushes and pull requests
refused with 403, as GitHub words it), ``push=False`` (the token may read, not write),
``rate_limited`` (REST answers 403 with ``x-ratelimit-remaining: 0``), ``refuse_pulls``
(opening a pull request answers 422).
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.agent.harness import make_repo

_GIT_PATH = re.compile(r"^/([^/]+)/([^/]+?)(?:\.git)?/(info/refs|git-upload-pack|"
                       r"git-receive-pack)$")


class FakeGitHub:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.requests: list[tuple[str, str]] = []
        # Authorization headers seen (to tell which requests carried a token).
        self.authorizations: list[tuple[str, str | None]] = []
        self.tokens: dict[str, str] = {}
        self.settings: dict[tuple[str, str], dict[str, Any]] = {}
        self.pulls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def repo(self, owner: str, name: str, files: dict[str, str], *,
             private: bool = False) -> Path:
        path = make_repo(self.root / owner / name, files)
        # Accept pushes: a refused push then proves the gateway stopped it.
        for key, value in (("http.receivepack", "true"), ("receive.denyCurrentBranch",
                                                          "ignore")):
            subprocess.run(["git", "-C", str(path), "config", key, value], check=True)
        self.settings[(owner.lower(), name.lower())] = {
            "private": private, "archived": False, "push": True, "rate_limited": False,
            "refuse_pulls": False}
        return path

    def switch(self, owner: str, name: str, **flags: Any) -> None:
        self.settings[(owner.lower(), name.lower())].update(flags)

    def path(self, owner: str, name: str) -> Path:
        return self.root / owner / name

    def branch(self, owner: str, name: str, branch: str) -> str | None:
        """The commit ``branch`` points at, or None if it does not exist."""
        done = subprocess.run(["git", "-C", str(self.path(owner, name)), "rev-parse",
                               "--verify", "-q", f"refs/heads/{branch}"],
                              capture_output=True, text=True, check=False)
        return done.stdout.strip() or None

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"github": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fake-github",
                         daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/v3"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


class _Handler(BaseHTTPRequestHandler):
    github: FakeGitHub
    protocol_version = "HTTP/1.0"   # CGI output ends with the connection

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # -- who is asking ----------------------------------------------------------------------
    def _token(self) -> str | None:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            return password or None
        if scheme.lower() in ("bearer", "token"):
            return value.strip() or None
        return None

    def _login(self) -> str | None:
        token = self._token()
        return self.github.tokens.get(token) if token else None

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
              text: str | None = None) -> None:
        data = (text.encode() if text is not None
                else b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text is not None
                         else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        self.github.requests.append((self.command, url.path))
        self.github.authorizations.append((url.path, self.headers.get("Authorization")))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path.startswith("/api/v3/"):
            self._rest(url.path[len("/api/v3"):], parse_qs(url.query), body)
            return
        match = _GIT_PATH.match(url.path)
        if match is None:
            self._send(404, text="Not Found")
            return
        owner, name, action = match.groups()
        settings = self.github.settings.get((owner.lower(), name.lower()))
        service = parse_qs(url.query).get("service", [""])[0]
        pushing = action == "git-receive-pack" or service == "git-receive-pack"
        login = self._login()
        if settings is None or (settings["private"] and login is None):
            self._send(401, text="Invalid username or token.",
                       headers={"WWW-Authenticate": 'Basic realm="GitHub"'})
            return
        if pushing:
            if login is None:
                self._send(401, text="Invalid username or token.",
                           headers={"WWW-Authenticate": 'Basic realm="GitHub"'})
                return
            if settings["archived"]:
                self._send(403, text="This repository was archived so it is read-only.")
                return
            if not settings["push"]:
                self._send(403, text=f"Permission to {owner}/{name}.git denied to {login}.")
                return
        self._cgi(url.path, url.query, body)

    def _cgi(self, path: str, query: str, body: bytes) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "GIT_PROJECT_ROOT": str(self.github.root), "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": path.replace(".git/", "/"),
               "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
               "REMOTE_USER": "fixture",   # lets http.receivepack serve pushes
               "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", "")}
        done = subprocess.run(["git", "http-backend"], input=body, env=env,
                              capture_output=True, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # -- REST -------------------------------------------------------------------------------
    def _rest(self, path: str, query: dict[str, list[str]], body: bytes) -> None:
        login = self._login()
        if path == "/user":
            if login is None:
                self._send(401, {"message": "Bad credentials"})
            else:
                self._send(200, {"login": login, "id": 1},
                           headers={"X-OAuth-Scopes": "repo, workflow"})
            return
        match = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        settings = match and self.github.settings.get((match[1].lower(), match[2].lower()))
        if not settings or (settings["private"] and login is None):
            self._send(404, {"message": "Not Found"})
            return
        if self._token() and login is None:
            self._send(401, {"message": "Bad credentials"})
            return
        if settings["rate_limited"]:
            self._send(403, {"message": "API rate limit exceeded for user ID 1."},
                       headers={"x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000",
                                "x-ratelimit-reset": str(int(time.time()) + 120)})
            return
        owner, name, rest = match[1], match[2], match[3] or ""
        if rest == "" and self.command == "GET":
            self._send(200, {"name": name, "full_name": f"{owner}/{name}",
                             "private": settings["private"], "archived": settings["archived"],
                             "default_branch": "main",
                             "permissions": {"pull": True, "push": settings["push"]
                                             and login is not None, "admin": False}})
        elif rest == "/pulls" and self.command == "GET":
            head = query.get("head", [""])[0]
            self._send(200, [p for p in self.github.pulls
                             if p["repo"] == f"{owner}/{name}"
                             and (not head or f"{owner}:{p['head']['ref']}" == head)])
        elif rest == "/pulls" and self.command == "POST":
            self._create_pull(owner, name, settings, login, json.loads(body))
        elif rest.startswith("/git/refs/heads/") and self.command == "DELETE":
            branch = unquote(rest[len("/git/refs/heads/"):])
            if login is None or not settings["push"]:
                self._send(403, {"message": "Resource not accessible by personal access "
                                            "token"})
            elif self.github.branch(owner, name, branch) is None:
                self._send(422, {"message": "Reference does not exist"})
            else:
                subprocess.run(["git", "-C", str(self.github.path(owner, name)), "update-ref",
                                "-d", f"refs/heads/{branch}"], check=True)
                self._send(204)
        else:
            self._send(404, {"message": "Not Found"})

    def _create_pull(self, owner: str, name: str, settings: dict[str, Any],
                     login: str | None, wanted: dict[str, Any]) -> None:
        if login is None:
            self._send(401, {"message": "Requires authentication"})
            return
        if settings["archived"]:
            self._send(403, {"message": "Repository was archived so is read-only."})
            return
        if not settings["push"]:
            self._send(403, {"message": "Resource not accessible by personal access token"})
            return
        if settings["refuse_pulls"]:
            self._send(422, {"message": "Validation Failed",
                             "errors": [{"resource": "PullRequest", "code": "custom",
                                         "message": "pull requests are disabled here"}]})
            return
        head_sha = self.github.branch(owner, name, wanted["head"])
        if head_sha is None:
            self._send(422, {"message": "Validation Failed",
                             "errors": [{"field": "head", "code": "invalid"}]})
            return
        with self.github.lock:
            if any(p["repo"] == f"{owner}/{name}" and p["head"]["ref"] == wanted["head"]
                   for p in self.github.pulls):
                self._send(422, {"message": "Validation Failed", "errors": [{
                    "message": f"A pull request already exists for {owner}:{wanted['head']}."
                }]})
                return
            number = len(self.github.pulls) + 1
            pull = {"repo": f"{owner}/{name}", "number": number, "state": "open",
                    "html_url": f"{self.github.url}/{owner}/{name}/pull/{number}",
                    "title": wanted["title"], "body": wanted["body"], "user": {"login": login},
                    "head": {"ref": wanted["head"], "sha": head_sha},
                    "base": {"ref": wanted["base"]}}
            self.github.pulls.append(pull)
        self._send(201, pull)

    do_GET = do_POST = do_DELETE = do_PATCH = _handle
