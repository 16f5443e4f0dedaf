"""A run's source when the request names a local repository (``repo_path``) instead of
``github_url``: who may name which path, and the snapshot the run's agents clone.

The rules (README, "A repository on this machine"): only the local runtime takes a local
source (Kubernetes pods cannot see this machine's files); with ``AIDEATOR_LOCAL_REPO_ROOTS``
empty (the default) only a caller on this machine (a loopback peer, as the ``aideator``
command line is) may name a path, and any path this service's user can read; with roots
set, any caller the API admits, for paths under them. A browser page elsewhere cannot
post for someone: run requests must be JSON, which a cross-origin page cannot send
without a CORS preflight that the service (CORS off by default) does not grant.

Every refusal happens before the run is stored; the snapshot's directory is removed then.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
from typing import Any, Mapping

from flask import request

from ..config import Settings
from ..runs import snapshot
from ..store.models import Run
from .errors import ApiError


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def run_dir(settings: Settings, run_id: str) -> str:
    return os.path.join(os.path.abspath(settings.data_dir), "runs", run_id)


def resolve(body: Mapping[str, Any], settings: Settings) -> str:
    """The real path of the request's ``repo_path``, if this caller may use it."""
    if settings.runtime != "local":
        raise ApiError(422, "unsupported", "repo_path: local repositories need the local "
                                           "runtime (this service runs agents on "
                                           f"{settings.runtime}); use github_url",
                       "repo_path")
    try:
        return snapshot.allowed(body["repo_path"], settings.local_repo_roots,
                                loopback=_loopback(request.remote_addr))
    except snapshot.Refused as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.field) from None


def take(body: Mapping[str, Any], settings: Settings, path: str, run_id: str,
         parent: Run | None) -> tuple[str, dict[str, Any]]:
    """Write the run's ``source.bundle``; returns the run's ``github_url`` (its GitHub
    remote when the snapshot is a commit GitHub may have, else ``file://<path>``) and the
    source to store. A run iterating on a local run reuses its parent's snapshot, which
    holds the commit the parent's change applies to."""
    dest = run_dir(settings, run_id)
    try:
        if parent is not None:
            record = dict(parent.source)
            os.makedirs(dest)
            _link(os.path.join(run_dir(settings, parent.id), snapshot.BUNDLE),
                  os.path.join(dest, snapshot.BUNDLE))
        else:
            record = snapshot.take(path, ref=body.get("ref", "HEAD"),
                                   include_uncommitted=bool(body.get("include_uncommitted")),
                                   dest_dir=dest,
                                   max_bytes=settings.local_repo_max_mb * 2**20).record()
    except snapshot.Refused as exc:
        discard(settings, run_id)
        raise ApiError(exc.status, exc.code, exc.message, exc.field) from None
    except BaseException:
        discard(settings, run_id)
        raise
    remote = record.get("github_url")
    url = remote if remote and not record["include_uncommitted"] else \
        f"file://{record['path']}"
    return url, record


def _link(source: str, dest: str) -> None:
    if not os.path.isfile(source):
        raise ApiError(409, "parent_unusable", "from: the parent run's snapshot of its "
                                               "local repository is gone", "from")
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def check_parent(parent: Run, path: str | None) -> None:
    """A run iterating on a local run names the same repository (and vice versa)."""
    parent_path = (parent.source or {}).get("path")
    if parent_path is None and path is None:
        return
    if parent_path is None or path is None or not (
            path == parent_path or path.startswith(parent_path.rstrip("/") + "/")):
        where = parent_path or parent.github_url
        field = "repo_path" if path is not None else "github_url"
        raise ApiError(422, "validation_error", f"{field}: must be the repository of run "
                                                f"{parent.id} ({where}) when iterating on it",
                       field)


def discard(settings: Settings, run_id: str) -> None:
    shutil.rmtree(run_dir(settings, run_id), ignore_errors=True)
