"""HTTP routing of the fake API server: URL → (verb, resource) → the cluster's behaviour.

Each request is recorded in RBAC terms, then passes the fault rules, then is served. JSON
answers carry a Content-Length; watches and followed logs are chunked streams that end
with a terminating chunk (a clean end) or a dropped connection (an abrupt cut).
"""
from __future__ import annotations

import json
import re
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

from .faults import Recorded
from .logs import StreamCut, parse_since_time
from .selectors import field_selector, label_selector
from .status import ApiError, bad_request, method_not_allowed

if TYPE_CHECKING:
    from .server import FakeKubeAPI

_NS = r"(?:/namespaces/(?P<ns>[^/]+))?"
_NAME = r"(?:/(?P<name>[^/]+))?"
_ROUTES = [  # (path pattern, API group)
    (re.compile(rf"^/apis/batch/v1{_NS}/(?P<res>jobs){_NAME}(?:/(?P<sub>status))?$"), "batch"),
    (re.compile(rf"^/api/v1{_NS}/(?P<res>pods|secrets|events){_NAME}"
                rf"(?:/(?P<sub>log|status))?$"), ""),
]
_VERBS = {"GET": "get", "POST": "create", "DELETE": "delete", "PATCH": "patch", "PUT": "update"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakekube/1"
    # Headers and body go out as separate writes; with Nagle on, the client's delayed ACK
    # adds ~40 ms to every request.
    disable_nagle_algorithm = True
    api: FakeKubeAPI  # set on the subclass the server creates

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._read_body()
        if url.path in ("/version", "/version/"):
            # Every field: the client's pydantic models reject a partial VersionInfo.
            self._json(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake",
                             "gitCommit": "0" * 40, "gitTreeState": "clean",
                             "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24",
                             "compiler": "gc", "platform": "linux/amd64"})
            return
        route = _route(self.command, url.path, query)
        if route is None:
            self.api.faults.record(Recorded(self.command.lower(), url.path, "", None, None,
                                            query, 404))
            self._json(404, ApiError(404, "NotFound", "the server could not find the "
                                     "requested resource").status())
            return
        verb, resource, group, ns, name = route
        entry = self.api.faults.record(Recorded(verb, resource, group, ns, name, query))
        try:
            target = name or ((body.get("metadata") or {}).get("name")
                              if isinstance(body, dict) else None)
            delay, error = self.api.faults.take(verb, resource, target)
            if delay:
                time.sleep(delay)
            if error:
                raise error
            result = self._dispatch(verb, resource, ns, name, query, body)
            if isinstance(result, tuple):
                code, payload = result
                entry.code = code
                self._json(code, payload)
            else:
                entry.code = 200
                entry.open = True
                try:
                    self._stream(result)
                finally:
                    entry.open = False
        except ApiError as e:
            entry.code = e.code
            self._json(e.code, e.status(), e.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the fake: answer it visibly, not as a dropped socket
            entry.code = 500
            self._json(500, ApiError(500, "InternalError", f"fake API server bug: {e!r}").status())

    # -- dispatch ------------------------------------------------------------------------
    def _dispatch(self, verb: str, resource: str, ns: str | None, name: str | None,
                  query: dict[str, str], body: Any) -> tuple[int, Any] | _Stream:
        api, store = self.api, self.api.store
        if verb in ("list", "watch"):
            match = _selector(resource, query)
            if verb == "watch":
                return _Stream("application/json", api.watches.stream(
                    resource, ns, resource_version=query.get("resourceVersion"),
                    timeout_seconds=_number(query, "timeoutSeconds"), match=match,
                    bookmarks=_flag(query, "allowWatchBookmarks")))
            return 200, _list(api, resource, ns, query, match)
        if ns is None:
            raise method_not_allowed(self.command)
        if resource == "pods/log" and name:
            return self._log(ns, name, query)
        if verb == "get" and name:
            return 200, store.get(resource.split("/")[0], ns, name)
        if verb == "create" and resource == "jobs":
            return 201, api.controller.create_job(ns, _object(body))
        if verb == "create" and resource == "secrets":
            return 201, api.create_secret_object(ns, _object(body))
        if verb == "patch" and resource == "jobs" and name:
            return 200, api.controller.patch_job(ns, name, body,
                                                 self.headers.get("Content-Type") or "")
        if verb == "delete" and name:
            policy = query.get("propagationPolicy") or (body or {}).get("propagationPolicy")
            grace = (body or {}).get("gracePeriodSeconds", _number(query, "gracePeriodSeconds"))
            if resource == "jobs":
                return 200, api.controller.delete_job(ns, name, policy)
            if resource == "pods":
                store.get("pods", ns, name)
                return 200, api.controller.delete_pod(ns, name, grace)
            return 200, store.remove(resource, ns, name)
        raise method_not_allowed(self.command)

    def _log(self, ns: str, name: str, query: dict[str, str]) -> tuple[int, Any] | _Stream:
        api = self.api
        pod = api.store.get("pods", ns, name)
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container") or containers[0]
        if container not in containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        if _flag(query, "previous"):
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" '
                              "not found")
        if not pod["spec"].get("nodeName"):
            # An unscheduled pod has no kubelet to ask: the API server answers an empty body.
            return _Stream("text/plain", iter(()))
        statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or []}
        waiting = statuses.get(container, {}).get("state", {"waiting": {}}).get("waiting")
        if waiting is not None:
            reason = waiting.get("reason") or "ContainerCreating"
            why = ("image can't be pulled" if reason in ("ErrImagePull", "ImagePullBackOff")
                   else reason)
            raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: '
                              f"{why}")
        if "sinceTime" in query and "sinceSeconds" in query:
            raise bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
        since = None
        if "sinceTime" in query:
            since = parse_since_time(query["sinceTime"])
        elif "sinceSeconds" in query:
            since = time.time_ns() - int(query["sinceSeconds"]) * 1_000_000_000
        uid = pod["metadata"]["uid"]

        def alive() -> bool:
            current = api.store.find("pods", ns, name)
            return current is not None and current["metadata"]["uid"] == uid

        chunks = api.logs.stream(
            (ns, name), follow=_flag(query, "follow"), timestamps=_flag(query, "timestamps"),
            since_ns=since, tail_lines=_int(query, "tailLines"),
            limit_bytes=_int(query, "limitBytes"), alive=alive)
        return _Stream("text/plain", chunks)

    # -- wire ----------------------------------------------------------------------------
    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"__invalid__": raw.decode("utf-8", "replace")}

    def _json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _stream(self, stream: _Stream) -> None:
        self.send_response(200)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for chunk in stream.chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
        except StreamCut as cut:
            if cut.abrupt:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Stream:
    def __init__(self, content_type: str, chunks: Iterator[bytes]) -> None:
        self.content_type, self.chunks = content_type, chunks


def _route(method: str, path: str, query: dict[str, str]
           ) -> tuple[str, str, str, str | None, str | None] | None:
    for pattern, group in _ROUTES:
        m = pattern.match(path)
        if not m:
            continue
        resource, name, sub = m.group("res"), m.group("name"), m.group("sub")
        verb = _VERBS.get(method, method.lower())
        if method == "GET" and name is None:
            verb = "watch" if _flag(query, "watch") else "list"
        elif method == "DELETE" and name is None:
            verb = "deletecollection"
        return verb, f"{resource}/{sub}" if sub else resource, group, m.group("ns"), name
    return None


def _list(api: FakeKubeAPI, resource: str, ns: str | None, query: dict[str, str],
          match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    if query.get("resourceVersionMatch") == "Exact" and query.get("resourceVersion"):
        # Only an exact-version list can be too old; NotOlderThan is served from the cache.
        api.store.events_after(int(query["resourceVersion"]), resource, ns)
    items, rv = api.store.list(resource, ns, match)
    api_version, kind = {"jobs": ("batch/v1", "JobList"), "pods": ("v1", "PodList"),
                         "secrets": ("v1", "SecretList"),
                         "events": ("v1", "EventList")}[resource]
    return {"kind": kind, "apiVersion": api_version,
            "metadata": {"resourceVersion": str(rv)}, "items": items}


def _selector(resource: str, query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    labels = label_selector(query.get("labelSelector"))
    fields = field_selector(query.get("fieldSelector"), resource)
    return lambda obj: labels(obj) and fields(obj)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or "__invalid__" in body:
        raise bad_request("the body of the request was in an unknown format")
    return body


def _flag(query: dict[str, str], key: str) -> bool:
    return query.get(key, "").lower() in ("true", "1")


def _int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid {key}: {value!r}") from None


def _number(query: dict[str, str], key: str) -> float | None:
    value = _int(query, key)
    return None if value is None else float(value)

