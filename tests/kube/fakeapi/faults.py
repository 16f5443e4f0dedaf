"""Fault injection and the request recorder of the fake API server.

Both speak Kubernetes RBAC terms (verb: create/get/list/watch/delete/patch/update;
resource: jobs, pods, pods/log, secrets), so a test can inject "the next create of jobs
fails with 500" and can check every recorded request against ``aideator.runtimes.kubernetes.rbac``.
"""
from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field

from .status import ApiError


@dataclass
class Recorded:
    verb: str
    resource: str
    api_group: str
    namespace: str | None
    name: str | None
    query: dict[str, str] = field(default_factory=dict)
    code: int | None = None  # the HTTP status answered
    open: bool = False       # a watch or a followed log still streaming


@dataclass
class _Rule:
    verb: str
    resource: str
    remaining: int | None  # None: for ever
    delay: float = 0.0
    error: ApiError | None = None
    name: str | None = None  # a glob on the object's name (for a create: the body's)

    def matches(self, verb: str, resource: str, name: str | None = None) -> bool:
        return (self.verb in ("*", verb) and self.resource in ("*", resource)
                and (self.name is None or fnmatch.fnmatchcase(name or "", self.name)))


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self.requests: list[Recorded] = []

    def fail_next(self, verb: str, resource: str, *, times: int = 1, code: int = 500,
                  reason: str = "InternalError", message: str = "fake: injected failure",
                  retry_after: int | None = None, name: str | None = None) -> None:
        """The next ``times`` matching requests (of objects named like the glob ``name``,
        when given) answer ``code`` with a Status body."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        error = ApiError(code, reason, message, {"causes": [{"message": message}]}, headers)
        with self._lock:
            self._rules.append(_Rule(verb, resource, times, error=error, name=name))

    def slow(self, verb: str, resource: str, seconds: float, *, times: int | None = None) -> None:
        """Delay matching requests by ``seconds`` before they are handled."""
        with self._lock:
            self._rules.append(_Rule(verb, resource, times, delay=seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, verb: str, resource: str,
             name: str | None = None) -> tuple[float, ApiError | None]:
        """The delay and the error (if any) for this request, consuming one use of each rule."""
        delay, error = 0.0, None
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(verb, resource, name) or (rule.error and error):
                    continue
                delay += rule.delay
                error = error or rule.error
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
        return delay, error

    def record(self, entry: Recorded) -> Recorded:
        with self._lock:
            self.requests.append(entry)
        return entry

    def permissions_used(self) -> set[tuple[str, str, str]]:
        """Every (verb, resource, api_group) the server has been asked for."""
        with self._lock:
            return {(r.verb, r.resource, r.api_group) for r in self.requests}
