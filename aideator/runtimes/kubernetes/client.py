"""The only module that talks to the Kubernetes API (and imports ``kubernetes``).

Like kopf, it owns the client and speaks in its own terms: plain dicts in and out (the
typed models reject fields a newer server adds, and streams need the raw response), and
our own exceptions mapped from HTTP statuses and socket errors, so callers never handle
``ApiException`` or urllib3 errors. Every call has a timeout: under gevent a call without
one could park its greenlet for ever on a half-open connection.

Configuration is loaded once, on first use (so the service starts, and /health reports,
even when no cluster is reachable): an explicit kubeconfig file if configured, else the
in-cluster service account, else the default kubeconfig.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import kubernetes.client
import kubernetes.config
import urllib3

from ...ops import metrics

__all__ = ["Kube", "KubeError", "BadRequest", "Forbidden", "NotFound", "Conflict", "Gone",
           "Invalid", "Unavailable", "ConfigError", "LogStream"]

# (connect, read) seconds. Unary calls are small; a stream's read timeout is how long it may
# stay silent before it is treated as broken (and resumed, which repeats nothing).
UNARY_TIMEOUT = (5.0, 15.0)
LOG_READ_TIMEOUT = 300.0
WATCH_READ_SLACK = 30.0
# Streams per run: one pod watch plus one log per variation, for many runs at once.
POOL_SIZE = 128


class KubeError(Exception):
    """A failed Kubernetes API call: ``status`` (0 without an HTTP answer), ``reason`` and
    ``message`` as in the API server's Status object."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.reason = message, status, reason

    def __str__(self) -> str:
        where = " ".join(str(p) for p in (self.status or None, self.reason) if p)
        return f"{self.message} ({where})" if where else self.message


class BadRequest(KubeError):      # 400, e.g. a log asked for before its container starts
    pass


class Forbidden(KubeError):       # 401/403: credentials or RBAC
    pass


class NotFound(KubeError):        # 404
    pass


class Conflict(KubeError):        # 409 AlreadyExists / Conflict
    pass


class Gone(KubeError):            # 410: a watch's resourceVersion is too old; relist
    pass


class Invalid(KubeError):         # 422: the object was rejected
    pass


class Unavailable(KubeError):     # 5xx, 429, no connection, timeouts: worth retrying
    pass


class ConfigError(KubeError):     # no usable configuration
    pass


_BY_STATUS: dict[int, type[KubeError]] = {400: BadRequest, 401: Forbidden, 403: Forbidden,
                                          404: NotFound, 409: Conflict, 410: Gone,
                                          422: Invalid, 429: Unavailable}


def _status_error(status: int, body: bytes | str | None, fallback: str = "") -> KubeError:
    """Our exception for an error answer, from its Status body when it has one."""
    message, reason = fallback or f"HTTP {status}", ""
    try:
        obj = json.loads(body or b"")
        if isinstance(obj, dict):
            message = obj.get("message") or message
            reason = obj.get("reason") or ""
            status = int(obj.get("code") or status)
    except ValueError:
        if body:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            message = text.strip()[:500] or message
    kind = _BY_STATUS.get(status) or (Unavailable if status >= 500 else KubeError)
    return kind(message, status=status, reason=reason)


def _transport_error(exc: BaseException) -> Unavailable:
    # urllib3 wraps the interesting part (refused, reset, timed out) a level or two down.
    cause = getattr(exc, "reason", None) or exc
    return Unavailable(f"{type(cause).__name__}: {cause}".strip(": "))


_VERBS = {"POST": "create", "DELETE": "delete", "PUT": "update", "PATCH": "patch"}


def verb_and_resource(method: str, path: str, query: dict[str, Any] | None) -> tuple[str, str]:
    """A call in Kubernetes' terms (as in RBAC rules): ("list", "pods"), ("get", "pods/log")."""
    parts = path.strip("/").split("/")
    rest = parts[parts.index("namespaces") + 2:] if "namespaces" in parts else []
    resource = (rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")) if rest else "other"
    verb = _VERBS.get(method) or ("watch" if (query or {}).get("watch") == "true"
                                  else "get" if len(rest) > 1 else "list")
    return verb, resource


def _load_configuration(config_file: str) -> kubernetes.client.Configuration:
    configuration = kubernetes.client.Configuration()
    try:
        if config_file:  # asked for by name: it wins even inside a pod
            kubernetes.config.load_kube_config(config_file=config_file,
                                               client_configuration=configuration)
        else:
            try:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            except kubernetes.config.ConfigException:
                kubernetes.config.load_kube_config(client_configuration=configuration)
    except (kubernetes.config.ConfigException, OSError, ValueError) as exc:
        raise ConfigError(f"no usable Kubernetes configuration: {exc}") from None
    configuration.connection_pool_maxsize = POOL_SIZE
    # Connection-level retries only (a stale pooled connection, a refused connect);
    # answers are never retried here: callers decide what is worth another try.
    configuration.retries = urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0,
                                          backoff_factor=0.05, raise_on_status=False)
    return configuration


class LogStream:
    """A followed pod log: iterate for raw chunks as they arrive; ``clean`` tells whether
    the server ended it (rather than the connection breaking, which raises Unavailable)."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self.clean = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._response.stream(None, decode_content=False):
                if chunk:
                    yield chunk
            self.clean = True
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _transport_error(exc) from None
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


class Kube:
    """The Kubernetes API calls the service makes (exactly those of ``rbac``)."""

    def __init__(self, *, config_file: str = "") -> None:
        self._config_file = config_file
        self._client: kubernetes.client.ApiClient | None = None

    def _api(self) -> kubernetes.client.ApiClient:
        if self._client is None:
            self._client = kubernetes.client.ApiClient(_load_configuration(self._config_file))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- plumbing ------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                 body: Any = None, timeout: Any = UNARY_TIMEOUT, stream: bool = False,
                 content_type: str = "application/json") -> Any:
        """One call; the parsed JSON answer, or the raw response when ``stream``."""
        api = self._api()
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        request = api.param_serialize(method=method, resource_path=path, query_params=params,
                                      header_params={"Accept": "application/json, */*",
                                                     "Content-Type": content_type},
                                      body=body, auth_settings=["BearerToken"])
        started, status = time.perf_counter(), 0
        try:
            response = api.call_api(*request, _request_timeout=timeout)
            status = response.status
            if not 200 <= response.status <= 299:
                raise _status_error(response.status, response.read(), response.reason)
            if stream:
                return response.response
            return json.loads(response.read() or b"{}")
        except kubernetes.client.ApiException as exc:  # TLS errors arrive as status 0
            status = exc.status or 0
            raise _status_error(exc.status or 0, exc.body, str(exc.reason)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _transport_error(exc) from None
        finally:
            metrics.kube_request(*verb_and_resource(method, path, query), status,
                                 time.perf_counter() - started)

    @staticmethod
    def _jobs(namespace: str, name: str = "") -> str:
        return f"/apis/batch/v1/namespaces/{namespace}/jobs" + (f"/{name}" if name else "")

    @staticmethod
    def _pods(namespace: str, name: str = "") -> str:
        return f"/api/v1/namespaces/{namespace}/pods" + (f"/{name}" if name else "")

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, *, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", self._jobs(namespace), body=body)

    def get_job(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self._request("GET", self._jobs(namespace, name))

    def resume_job(self, *, namespace: str, name: str) -> dict[str, Any]:
        """Let a Job created suspended start its pod (a JSON merge patch of spec.suspend)."""
        return self._request("PATCH", self._jobs(namespace, name),
                             body={"spec": {"suspend": False}},
                             content_type="application/merge-patch+json")

    def delete_job(self, *, namespace: str, name: str,
                   propagation: str = "Foreground") -> dict[str, Any]:
        # The API's default for a Job is Orphan: its pods would run on. Foreground also
        # keeps the Job visible (being deleted) until its pods are gone.
        return self._request("DELETE", self._jobs(namespace, name),
                             body={"kind": "DeleteOptions", "apiVersion": "v1",
                                   "propagationPolicy": propagation})

    def list_jobs(self, *, namespace: str, label_selector: str, limit: int | None = None,
                  timeout: Any = UNARY_TIMEOUT) -> dict[str, Any]:
        return self._request("GET", self._jobs(namespace), timeout=timeout,
                             query={"labelSelector": label_selector, "limit": limit})

    def watch_jobs(self, *, namespace: str, label_selector: str, resource_version: str,
                   timeout_seconds: int) -> Iterator[dict[str, Any]]:
        """Watch events of Jobs, as :meth:`watch_pods` does for pods."""
        return self._watch(self._jobs(namespace), label_selector, resource_version,
                           timeout_seconds)

    # -- secrets -------------------------------------------------------------------------
    def create_secret(self, *, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Secret. The service never reads one back: its answer is not returned
        (it would hold the values just sent)."""
        created = self._request("POST", f"/api/v1/namespaces/{namespace}/secrets", body=body)
        return {"metadata": created.get("metadata") or {}}

    # -- pods ----------------------------------------------------------------------------
    def get_pod(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self._request("GET", self._pods(namespace, name))

    def list_pods(self, *, namespace: str, label_selector: str) -> dict[str, Any]:
        return self._request("GET", self._pods(namespace),
                             query={"labelSelector": label_selector})

    def watch_pods(self, *, namespace: str, label_selector: str, resource_version: str,
                   timeout_seconds: int) -> Iterator[dict[str, Any]]:
        """Watch events (``{"type", "object"}``) after ``resource_version``.

        The request is made here, so a refused watch raises at once; the returned iterator
        ends when the server ends the watch, raises Gone on a 410 ERROR event and
        Unavailable when the connection breaks."""
        return self._watch(self._pods(namespace), label_selector, resource_version,
                           timeout_seconds)

    # -- events -------------------------------------------------------------------------
    @staticmethod
    def _events(namespace: str) -> str:
        return f"/api/v1/namespaces/{namespace}/events"

    def list_events(self, *, namespace: str, field_selector: str) -> dict[str, Any]:
        """core/v1 Events by field selector (e.g. ``type=Warning,involvedObject.name=x``)."""
        return self._request("GET", self._events(namespace),
                             query={"fieldSelector": field_selector})

    def watch_events(self, *, namespace: str, field_selector: str, resource_version: str,
                     timeout_seconds: int) -> Iterator[dict[str, Any]]:
        """Watch events of Events, as :meth:`watch_pods` does for pods (Events carry no
        labels of their object: they are selected by field)."""
        return self._watch(self._events(namespace), None, resource_version, timeout_seconds,
                           field_selector=field_selector)

    def _watch(self, path: str, label_selector: str | None, resource_version: str,
               timeout_seconds: int, *, field_selector: str | None = None
               ) -> Iterator[dict[str, Any]]:
        response = self._request(
            "GET", path, stream=True,
            timeout=(UNARY_TIMEOUT[0], timeout_seconds + WATCH_READ_SLACK),
            query={"labelSelector": label_selector, "fieldSelector": field_selector,
                   "watch": "true",
                   "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                   "timeoutSeconds": timeout_seconds})
        return self._watch_events(response)

    @staticmethod
    def _watch_events(response: Any) -> Iterator[dict[str, Any]]:
        pending = b""
        try:
            for chunk in response.stream(None, decode_content=False):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        obj = event.get("object") or {}
                        raise _status_error(int(obj.get("code") or 500), json.dumps(obj))
                    yield event
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _transport_error(exc) from None
        except ValueError as exc:
            raise Unavailable(f"unreadable watch event: {exc}") from None
        finally:
            response.close()
            response.release_conn()

    def pod_log(self, *, namespace: str, name: str, since_time: str | None = None,
                follow: bool = True, timestamps: bool = True) -> LogStream:
        """A pod's log. ``since_time`` (RFC3339, whole seconds: the kubelet drops any
        fraction) resumes it; the typed client only offers sinceSeconds."""
        response = self._request(
            "GET", self._pods(namespace, name) + "/log", stream=True,
            timeout=(UNARY_TIMEOUT[0], LOG_READ_TIMEOUT),
            query={"follow": "true" if follow else None,
                   "timestamps": "true" if timestamps else None, "sinceTime": since_time})
        return LogStream(response)
