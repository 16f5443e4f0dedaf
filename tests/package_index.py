"""A PEP 503 package index on 127.0.0.1 serving one tiny wheel built here, and a loopback
listener that counts who connects: the registry a run's setup may reach, and a host it
must not."""
from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import re
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PACKAGE = "aideator-fixture-pkg"
MODULE = "aideator_fixture_pkg"
VERSION = "0.1"
WHEEL = f"{MODULE}-{VERSION}-py3-none-any.whl"


def build_wheel(value: int = 42) -> bytes:
    """A pure-Python wheel whose module says ``VALUE = <value>``."""
    info = f"{MODULE}-{VERSION}.dist-info"
    files = {
        f"{MODULE}/__init__.py": f"VALUE = {value}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: aideator-tests\n"
                         "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
        record.append(f"{path},sha256={digest.rstrip(b'=').decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return buffer.getvalue()


def _zip_wheel(files: dict[str, bytes], info: str) -> bytes:
    """A wheel of ``files`` (path -> bytes) with its RECORD written last."""
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
        record.append(f"{path},sha256={digest.rstrip(b'=').decode()},{len(data)}")
    files = {**files, f"{info}/RECORD": ("\n".join(record + [f"{info}/RECORD,,"])
                                         + "\n").encode()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return buffer.getvalue()


def installed_wheel(name: str) -> tuple[str, bytes]:
    """(file name, wheel) of a pure-Python distribution installed here, packed again from
    its installed files: real packages (pytest and what it needs) for a local index,
    without the internet."""
    dist = importlib.metadata.distribution(name)
    info = f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}.dist-info"
    files: dict[str, bytes] = {}
    for path in dist.files or ():
        text = str(path)
        if text.startswith("..") or "__pycache__" in text or text.endswith(("RECORD",
                                                                              "INSTALLER")):
            continue   # scripts pip wrote, caches, install records: pip makes its own
        if ".dist-info/" in text:
            text = f"{info}/{text.split('.dist-info/', 1)[1]}"
        files[text] = path.read_binary()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: aideator-tests\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    return f"{info[:-len('.dist-info')]}-py3-none-any.whl", _zip_wheel(files, info)


def _project(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PackageIndex:
    """``/simple/<project>/`` and ``/packages/<wheel>``; every request path is recorded.
    ``installed``: names of distributions installed here to serve too (installed_wheel)."""

    def __init__(self, installed: tuple[str, ...] = ()) -> None:
        self.wheel = build_wheel()
        self.extra = {_project(name): installed_wheel(name) for name in installed}
        self.paths: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                index.paths.append(self.path)
                sha = hashlib.sha256(index.wheel).hexdigest()
                if self.path.rstrip("/") == f"/simple/{PACKAGE}":
                    body = (f'<!DOCTYPE html><html><body><a href="/packages/{WHEEL}'
                            f'#sha256={sha}">{WHEEL}</a></body></html>').encode()
                    kind = "text/html"
                elif self.path == f"/packages/{WHEEL}":
                    body, kind = index.wheel, "application/octet-stream"
                elif _project(self.path.rstrip("/").rsplit("/", 1)[-1]) in index.extra \
                        and self.path.startswith("/simple/"):
                    file, data = index.extra[_project(self.path.rstrip("/").rsplit("/", 1)[-1])]
                    digest = hashlib.sha256(data).hexdigest()
                    body = (f'<!DOCTYPE html><html><body><a href="/packages/{file}'
                            f'#sha256={digest}">{file}</a></body></html>').encode()
                    kind = "text/html"
                elif self.path.startswith("/packages/") and any(
                        self.path == f"/packages/{f}" for f, _ in index.extra.values()):
                    body = next(d for f, d in index.extra.values()
                                if self.path == f"/packages/{f}")
                    kind = "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "PackageIndex":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def downloads(self) -> int:
        return self.paths.count(f"/packages/{WHEEL}")


class Listener:
    """A loopback port nobody should reach: counts the connections it accepts."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self._sock.close()
