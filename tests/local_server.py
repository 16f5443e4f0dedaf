"""What the fake model servers share: a threaded HTTP server on an ephemeral 127.0.0.1
port, started and stopped by the test, whose request handler reaches the fake that owns it
as ``self.fake``; and that handler's plumbing (request bodies, JSON answers, chunks of a
streamed one)."""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

# A prompt names the fake's script to follow as [[fake:NAME]].
MARKER = re.compile(r"\[\[fake:([A-Za-z0-9_.-]+)\]\]")


@dataclass
class RecordedRequest:
    """A request as a fake received it, with the script and turn it chose for it."""
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    script: str | None = None
    turn: int | None = None
    status: int = 200


class FakeHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 and quiet (each fake records its requests itself)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def response_headers(self) -> dict[str, str]:
        """Headers every JSON answer carries (a vendor's request id)."""
        return {}

    def _raw_body(self) -> bytes:
        """The request's body, decompressed as its Content-Encoding says (the CLIs send
        gzip or zstd)."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        encoding = self.headers.get("Content-Encoding", "")
        if raw and encoding == "zstd":
            import zstandard
            raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=64 << 20)
        elif raw and encoding == "gzip":
            import gzip
            raw = gzip.decompress(raw)
        return raw

    @staticmethod
    def _parsed(raw: bytes) -> Any:
        """JSON, else the text (a test may send anything)."""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in {**self.response_headers(), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _chunk(self, payload: str) -> None:
        """One chunk of a chunked response ("" ends it)."""
        data = payload.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, payloads: Iterable[str], delay: float) -> None:
        """A chunked body of ``payloads``, ``delay`` seconds apart; a client that hangs
        up ends it."""
        try:
            for payload in payloads:
                self._chunk(payload)
                if delay:
                    time.sleep(delay)
            self._chunk("")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class LocalServer:
    handler: type[BaseHTTPRequestHandler]   # set by each fake
    name = "fake-server"
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> str:
        """Listen on an ephemeral 127.0.0.1 port; return the base URL."""
        handler = type("Handler", (self.handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name=self.name,
                         daemon=True).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
