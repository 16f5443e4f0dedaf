"""One pod watch per run, shared by the run's variations (a :class:`Reflector`).

The run's pods are listed and watched by label; the latest pod of each variation is kept,
and a variation's collector is woken when its pod changes. The watch runs on its own
greenlet and is stopped when the last variation of the run is done, so the API sees one
watch per run however many variations (and browser clients) there are.

API trouble is reported as a short list of notices (one when a failure streak starts,
one when it ends) that every variation's collector relays to its event stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import gevent.event

from . import client as kube
from .reflector import Reflector

MAX_NOTICES = 100


@dataclass
class PodState:
    """The latest pod of a variation; ``deleted`` once the API reported it gone."""
    pod: dict[str, Any]
    deleted: bool = False


def _variation(pod: dict[str, Any]) -> int | None:
    value = (pod.get("metadata", {}).get("labels") or {}).get("variation-id", "")
    return int(value) if value.isdigit() else None


class PodWatcher(Reflector):
    def __init__(self, client: kube.Kube, *, namespace: str, selector: str) -> None:
        super().__init__()
        self._kube = client
        self._namespace = namespace
        self._selector = selector
        self.what = f"pod watch {selector}"
        self._pods: dict[int, PodState] = {}
        self._events: dict[int, gevent.event.Event] = {}
        self.failing: str | None = None
        self.notices: list[str] = []   # append-only (bounded): collectors keep an index
        self.notices_dropped = 0

    # -- for the collectors ----------------------------------------------------------------
    def pod(self, variation: int) -> PodState | None:
        return self._pods.get(variation)

    def event(self, variation: int) -> gevent.event.Event:
        """Set whenever something about ``variation`` (or the API) changes; the collector
        clears it before looking, then waits on it."""
        return self._events.setdefault(variation, gevent.event.Event())

    def wake_all(self) -> None:
        for event in self._events.values():
            event.set()

    def notices_since(self, index: int) -> tuple[list[str], int]:
        """Notices after position ``index`` of the (bounded) list, and the new position."""
        start = max(index - self.notices_dropped, 0)
        return self.notices[start:], self.notices_dropped + len(self.notices)

    # -- the reflector ---------------------------------------------------------------------
    def _list(self) -> dict[str, Any]:
        return self._kube.list_pods(namespace=self._namespace, label_selector=self._selector)

    def _watch(self, version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        return self._kube.watch_pods(namespace=self._namespace, label_selector=self._selector,
                                     resource_version=version, timeout_seconds=timeout_seconds)

    def _replace(self, pods: list[dict[str, Any]]) -> None:
        """A fresh list: pods missing from it were deleted while nobody watched."""
        listed: dict[int, dict[str, Any]] = {}
        for pod in pods:
            variation = _variation(pod)
            if variation is not None:
                listed[variation] = pod
        for variation, state in list(self._pods.items()):
            if variation not in listed and not state.deleted:
                self._set(variation, PodState(state.pod, deleted=True))
        for variation, pod in listed.items():
            self._set(variation, PodState(pod))
        self.synced = True   # before the wake-up: the collectors look at it
        self.wake_all()

    def _apply(self, kind: str, pod: dict[str, Any]) -> None:
        variation = _variation(pod)
        if variation is None:
            return
        current = self._pods.get(variation)
        if kind == "DELETED":
            # Only the pod the variation is on counts; an older one going away does not.
            if current is None or current.pod["metadata"]["name"] == pod["metadata"]["name"]:
                self._set(variation, PodState(pod, deleted=True))
        else:
            self._set(variation, PodState(pod))

    def _set(self, variation: int, state: PodState) -> None:
        self._pods[variation] = state
        self.event(variation).set()

    def _failed(self, why: str) -> None:
        super()._failed(why)
        if self.failing is None:
            self._notice(f"Kubernetes API unavailable ({why}); retrying")
        self.failing = why

    def _recovered(self) -> None:
        if self.failing is not None:
            self.failing = None
            self._notice("Kubernetes API answering again")

    def _notice(self, message: str) -> None:
        self.notices.append(message)
        if len(self.notices) > MAX_NOTICES:
            self.notices.pop(0)
            self.notices_dropped += 1
        self.wake_all()
