"""A fake github.com on 127.0.0.1: git's smart HTTP protocol served by the real
``git http-backend`` (as CGI) over fixture repositories, so clones through the model
gateway (``AIDEATOR_GITHUB_URL``) run the whole real protocol offline.

Usage::

    github = FakeGitHub(tmp_path / "github")
    github.repo("acme", "widgets", {"greet.txt": "hello world\\n"})
    url = github.start()     # http://127.0.0.1:<port>; repos at <url>/<owner>/<repo>
    github.requests          # (method, path) of every request, in order
    github.stop()

Pushes are served too (``http.receivepack``), so a test can tell that the gateway, not
this server, refused one.
"""
from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.agent.harness import make_repo


class FakeGitHub:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.requests: list[tuple[str, str]] = []
        self._httpd: ThreadingHTTPServer | None = None

    def repo(self, owner: str, name: str, files: dict[str, str]) -> Path:
        path = make_repo(self.root / owner / name, files)
        # Accept pushes: a refused push then proves the gateway stopped it.
        subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"],
                       check=True)
        subprocess.run(["git", "-C", str(path), "config", "receive.denyCurrentBranch",
                        "ignore"], check=True)
        return path

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

    def _cgi(self) -> None:
        url = urlsplit(self.path)
        self.github.requests.append((self.command, url.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "GIT_PROJECT_ROOT": str(self.github.root), "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": url.path,
               "QUERY_STRING": url.query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
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

    do_GET = do_POST = _cgi
