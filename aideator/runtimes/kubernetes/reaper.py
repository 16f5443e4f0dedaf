"""Making sure a cancelled run leaves no Job behind.

Deleting each known Job once is not enough: a creation may still be in flight (its Job
appears after the cancel) and a delete may fail while the API is unwell. So a cancel
lists the run's Jobs by label, deletes each one not already being deleted, and watches
the run's Jobs until the last is gone, deleting any that appears meanwhile.
"""
from __future__ import annotations

import logging
import time

import gevent

from . import client as kube
from .variation import delete_job

log = logging.getLogger(__name__)

REAP_SECONDS = 120.0
BACKOFF_MIN, BACKOFF_MAX = 0.1, 10.0


def reap_jobs(client: kube.Kube, *, namespace: str, selector: str,
              give_up_after: float = REAP_SECONDS) -> bool:
    """Delete every Job matching ``selector`` and wait until they are gone; False if some
    remained after ``give_up_after`` seconds (logged: an operator should look)."""
    deadline = time.monotonic() + give_up_after
    backoff = BACKOFF_MIN
    while time.monotonic() < deadline:
        try:
            listing = client.list_jobs(namespace=namespace, label_selector=selector)
            remaining: set[str] = set()
            for job in listing.get("items") or []:
                remaining.add(_claim(client, namespace, job))
            if not remaining:
                return True
            left = max(int(deadline - time.monotonic()), 1)
            events = client.watch_jobs(namespace=namespace, label_selector=selector,
                                       resource_version=listing["metadata"]["resourceVersion"],
                                       timeout_seconds=left)
            for event in events:
                job = event["object"]
                if event["type"] == "DELETED":
                    remaining.discard(job["metadata"]["name"])
                elif event["type"] in ("ADDED", "MODIFIED"):
                    remaining.add(_claim(client, namespace, job))
                if not remaining:
                    return True
        except kube.Gone:
            continue  # relist
        except kube.KubeError as exc:
            log.warning("removing Jobs %s: %s", selector, exc)
            gevent.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
    log.error("Jobs %s still present %.0f s after the run was cancelled", selector,
              give_up_after)
    return False


def _claim(client: kube.Kube, namespace: str, job: dict) -> str:
    """Delete the Job unless it is already being deleted; its name."""
    name = job["metadata"]["name"]
    if not job["metadata"].get("deletionTimestamp"):
        delete_job(client, namespace=namespace, name=name)
    return name
