"""The public API over HTTP: JSON requests, the service's JSON errors, and SSE streams."""
from __future__ import annotations

import json
from typing import Any, Iterator

import urllib3

API = "/api/v1"


class ApiError(Exception):
    """An answer other than 2xx, as the service words it (``{"error", "detail"}``)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{detail} ({status} {error})")
        self.status, self.error, self.detail = status, error, detail


class Unreachable(Exception):
    pass


class Client:
    def __init__(self, url: str, token: str | None = None) -> None:
        self.base = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = urllib3.PoolManager(retries=False)

    def _send(self, method: str, path: str, body: Any = None, *, timeout: float = 300,
              stream: bool = False, headers: dict[str, str] | None = None) -> Any:
        url = path if path.startswith("http") else f"{self.base}{path}"
        try:
            return self._http.request(
                method, url, body=None if body is None else json.dumps(body).encode(),
                headers={**self._headers, **(headers or {}),
                         **({"Content-Type": "application/json"} if body is not None
                            else {})},
                timeout=urllib3.Timeout(connect=3, read=timeout),
                preload_content=not stream)
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"cannot reach AIdeator at {self.base}: {exc}") from None

    def call(self, method: str, path: str, body: Any = None, *, timeout: float = 300) -> Any:
        """``path`` under /api/v1; the decoded JSON answer (None for 204)."""
        resp = self._send(method, API + path, body, timeout=timeout)
        if resp.status >= 400:
            try:
                err = json.loads(resp.data)
                raise ApiError(resp.status, err.get("error", "error"), err.get("detail", ""))
            except (ValueError, AttributeError):
                raise ApiError(resp.status, "error",
                               resp.data.decode("utf-8", "replace")[:300]) from None
        return json.loads(resp.data) if resp.data else None

    def answers(self) -> bool:
        """Whether a service answers at all (an unhealthy one still serves its runs)."""
        try:
            self._send("GET", "/health", timeout=3)
        except Unreachable:
            return False
        return True

    def events(self, stream_url: str) -> Iterator[tuple[str, Any]]:
        """(event name, data) of a run's stream until the service closes it."""
        resp = self._send("GET", stream_url, timeout=120, stream=True,
                          headers={"Accept": "text/event-stream"})
        if resp.status >= 400:
            raise ApiError(resp.status, "error", resp.read().decode("utf-8", "replace"))
        name, data = "message", []
        try:
            buffer = b""
            for chunk in resp.stream(8192, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    if not line:
                        if data:
                            yield name, json.loads("\n".join(data))
                        name, data = "message", []
                    elif line.startswith(":"):
                        continue
                    else:
                        field, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if field == "event":
                            name = value
                        elif field == "data":
                            data.append(value)
        finally:
            resp.release_conn()
