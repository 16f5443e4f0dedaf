"""A PEP 503 package index on 127.0.0.1 serving one tiny wheel built here, and a loopback
listener that counts who connects: the registry a run's setup may reach, and a host it
must not."""
from __future__ import annotations

import base64
import hashlib
import io
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


class PackageIndex:
    """``/simple/<project>/`` and ``/packages/<wheel>``; every request path is recorded."""

    def __init__(self) -> None:
        self.wheel = build_wheel()
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
