"""``FakeKubeAPI``: a fake Kubernetes API server on 127.0.0.1 for the official client.

It wires the store, Job controller, kubelet, watches and logs behind a real threaded HTTP
server, so code under test uses ``kubernetes.client`` exactly as against a cluster (no
monkey-patching), and exposes the test-side hooks: Secrets and object inspection without
going through the API, per-pod behaviours, fault injection and the request recorder.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any, Callable, Mapping, Sequence

import kubernetes.client

from . import objects
from .events import EventRecorder
from .faults import Faults, Recorded
from .gc import GarbageCollector
from .handlers import Handler
from .jobs import JobController
from .kubelet import Kubelet
from .logs import LogBook
from .store import Store
from .watch import Watches


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self.connections.discard(request)

    def drop_connections(self) -> None:
        with self._conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeKubeAPI:
    """Start with :meth:`start`, talk to it with :meth:`api_client`, end with :meth:`stop`.

    ``kubelet_command`` runs as every pod's container (with the container's env on top of
    ``kubelet_env``); ``container_start_delay`` is how long pods sit in ContainerCreating;
    ``max_watch_seconds`` caps every watch (the real server ends them after 30-60 min);
    ``retry_seconds`` is how often the scheduler retries an unschedulable pod and the
    kubelet a failing mount (each retry repeats their Warning event).
    """

    def __init__(self, *, kubelet_command: Sequence[str] | None = None,
                 kubelet_env: Mapping[str, str] | None = None,
                 container_start_delay: float = 0.05, pull_backoff_delay: float = 0.1,
                 pod_grace_seconds: float = 1.0, max_watch_seconds: float = 30.0,
                 bookmark_seconds: float = 1.0, history_limit: int = 10_000,
                 retry_seconds: float = 0.5) -> None:
        self.store = Store(history_limit=history_limit)
        self.events = EventRecorder(self.store)
        self.logs = LogBook(self.store.cond)
        self.faults = Faults()
        self.watches = Watches(self.store, max_seconds=max_watch_seconds,
                               bookmark_seconds=bookmark_seconds)
        self.gc = GarbageCollector(self.store)
        self.controller = JobController(self.store, self.logs,
                                        pod_grace_seconds=pod_grace_seconds, events=self.events,
                                        gc=self.gc)
        self.kubelet = Kubelet(self.store, self.logs, command=kubelet_command,
                               env=kubelet_env or {}, on_pod_change=self.controller.on_pod_change,
                               start_delay=container_start_delay,
                               pull_backoff_delay=pull_backoff_delay,
                               service_host=lambda: self._address, events=self.events,
                               retry_seconds=retry_seconds)
        self.controller.kubelet = self.kubelet
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._address = ("127.0.0.1", 0)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> str:
        handler = type("BoundHandler", (Handler,), {"api": self})
        self._http = _HTTPServer(("127.0.0.1", 0), handler)
        self._address = self._http.server_address[:2]
        self._thread = threading.Thread(target=self._http.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        with self.store.cond:
            self.store.closed = True
            self.store.cond.notify_all()
        self.controller.stop()
        self.kubelet.stop_all()
        if self._http is not None:
            self._http.shutdown()
            self._http.drop_connections()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeKubeAPI:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self._address[1]}"

    def configuration(self) -> kubernetes.client.Configuration:
        return kubernetes.client.Configuration(host=self.url)

    def api_client(self) -> kubernetes.client.ApiClient:
        return kubernetes.client.ApiClient(self.configuration())

    def write_kubeconfig(self, path: str | os.PathLike[str], namespace: str = "default") -> str:
        """A kubeconfig pointing at this server, for code that loads its own config."""
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                      "namespace": namespace}}]}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f)  # JSON is YAML
        return str(path)

    # -- state, bypassing the API (and the recorder) ---------------------------------------
    def create_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> dict[str, Any]:
        return self.create_secret_object(namespace, {
            "metadata": {"name": name},
            "stringData": dict(data)})

    def create_secret_object(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        objects.check_namespace(body, namespace)
        objects.validate_secret(body)
        data = dict(body.get("data") or {})
        for key, value in (body.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(value.encode()).decode()
        secret = {"apiVersion": "v1", "kind": "Secret", "type": body.get("type", "Opaque"),
                  "metadata": body["metadata"], "data": data}
        if "immutable" in body:
            secret["immutable"] = bool(body["immutable"])
        created = self.store.create("secrets", secret)
        self.gc.object_created("secrets", created)
        return created

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.find(resource, namespace, name)

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.list(resource, namespace)[0]

    def pods_of(self, job_name: str, namespace: str = "default") -> list[dict[str, Any]]:
        return [p for p in self.list("pods", namespace)
                if (p["metadata"].get("labels") or {}).get("job-name") == job_name]

    def pod_log(self, namespace: str, pod: str) -> bytes:
        return self.logs.content((namespace, pod))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll ``predicate`` (woken by every change) until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        with self.store.cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s")
                self.store.cond.wait(min(remaining, 0.05))

    # -- behaviours and faults -----------------------------------------------------------
    def set_behaviour(self, pattern: str, behaviour: str) -> None:
        self.kubelet.set_behaviour(pattern, behaviour)

    def hold_containers(self) -> None:
        self.kubelet.hold()

    def release_containers(self) -> None:
        self.kubelet.release()

    def fail_next(self, verb: str, resource: str, **kwargs: Any) -> None:
        self.faults.fail_next(verb, resource, **kwargs)

    def slow(self, verb: str, resource: str, seconds: float, **kwargs: Any) -> None:
        self.faults.slow(verb, resource, seconds, **kwargs)

    def cut_watches(self, *, abrupt: bool = False) -> None:
        self.watches.cut(abrupt=abrupt)

    def cut_log_streams(self, namespace: str | None = None, pod: str | None = None, *,
                        abrupt: bool = False) -> None:
        self.logs.cut((namespace or "default", pod) if pod else None, abrupt=abrupt)

    def compact(self) -> None:
        """Make every resourceVersion seen so far too old (watch → ERROR 410)."""
        self.store.compact()

    # -- recorder ------------------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        return list(self.faults.requests)

    def permissions_used(self) -> set[tuple[str, str]]:
        """Every (verb, resource) the server handled, e.g. ("get", "pods/log")."""
        return {(verb, resource) for verb, resource, _ in self.faults.permissions_used()}

    def clear_requests(self) -> None:
        self.faults.requests.clear()
