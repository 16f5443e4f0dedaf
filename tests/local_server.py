"""What the fake model servers share: a threaded HTTP server on an ephemeral 127.0.0.1
port, started and stopped by the test, whose request handler reaches the fake that owns it
as ``self.fake``."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
