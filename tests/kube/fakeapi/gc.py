"""The garbage collector's part for objects other than a Job's pods: ownerReferences.

Like the real one it deletes an object once none of its owners exists (an owner deleted
with Background or Foreground propagation, or one that was gone, or had another uid,
when the dependent was created), and strips the reference from the dependents of an owner
deleted with Orphan. The Job controller handles its own pods (by the controller-uid label).
"""
from __future__ import annotations

import threading
from typing import Any

from .store import Store

# Resources whose objects may name an owner here (what the service creates besides Jobs).
DEPENDENT_RESOURCES = ("secrets",)
# apiVersion/kind of an owner -> the resource to look it up in.
OWNER_RESOURCES = {("batch/v1", "Job"): "jobs", ("v1", "Pod"): "pods",
                   ("v1", "Secret"): "secrets"}


class GarbageCollector:
    def __init__(self, store: Store, *, delay: float = 0.05) -> None:
        self._store = store
        self._delay = delay  # the real collector acts on its informers' events, not inline

    def dependents(self, namespace: str, uid: str) -> list[tuple[str, dict[str, Any]]]:
        """(resource, object) of every dependent naming ``uid`` as an owner."""
        found = []
        for resource in DEPENDENT_RESOURCES:
            items, _ = self._store.list(resource, namespace, lambda o: any(
                ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or []))
            found += [(resource, item) for item in items]
        return found

    def owner_deleted(self, namespace: str, uid: str, policy: str) -> None:
        """React to the deletion of the object ``uid`` (its dependents, by policy)."""
        if policy == "Orphan":
            with self._store.cond:
                for resource, obj in self.dependents(namespace, uid):
                    self._store.update(resource, namespace, obj["metadata"]["name"],
                                       lambda o: _drop_owner(o, uid))
            return
        self.later(self.collect, namespace)

    def object_created(self, resource: str, obj: dict[str, Any]) -> None:
        """A dependent created with owners that do not exist is collected soon after."""
        if obj["metadata"].get("ownerReferences"):
            self.later(self.collect, obj["metadata"]["namespace"])

    def collect(self, namespace: str) -> None:
        """Delete every dependent of the namespace whose owners are all absent."""
        with self._store.cond:
            for resource in DEPENDENT_RESOURCES:
                items, _ = self._store.list(resource, namespace,
                                            lambda o: bool(o["metadata"].get("ownerReferences")))
                for obj in items:
                    if not any(self._owner_exists(namespace, ref)
                               for ref in obj["metadata"]["ownerReferences"]):
                        self._store.remove(resource, namespace, obj["metadata"]["name"])

    def _owner_exists(self, namespace: str, ref: dict[str, Any]) -> bool:
        resource = OWNER_RESOURCES.get((ref.get("apiVersion"), ref.get("kind")))
        if resource is None:
            return True  # a kind this fake does not model: never collect on its account
        owner = self._store.find(resource, namespace, ref.get("name", ""))
        # A Foreground-deleting owner still exists; its dependents go first, then it does.
        return owner is not None and owner["metadata"]["uid"] == ref.get("uid") \
            and "foregroundDeletion" not in (owner["metadata"].get("finalizers") or [])

    def later(self, fn: Any, *args: Any) -> None:
        timer = threading.Timer(self._delay, fn, args)
        timer.daemon = True
        timer.start()


def _drop_owner(obj: dict[str, Any], uid: str) -> None:
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
    if refs:
        obj["metadata"]["ownerReferences"] = refs
    else:
        obj["metadata"].pop("ownerReferences", None)
