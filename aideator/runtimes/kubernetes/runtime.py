"""The Kubernetes runtime: each variation is a batch/v1 Job (PRD §7).

A variation's collector greenlet creates its Job (so a run's Jobs are created in
parallel), reports the handle at once (a restarted service re-attaches instead of
creating it again) and then follows it through :class:`VariationFollower`. The run's
variations share one pod watch (:class:`PodWatcher`), started with the first of them and
stopped after the last, so API traffic grows with runs and variations, never with the
number of people watching; the namespace's Warning events are watched once for all of
them (:class:`WarningWatcher`) while any variation is followed. Every call stays within
``rbac``.

The prompt and the variation's credential never enter the Job spec: the Job is created
suspended, then its Secret (owned by the Job, so deleted with it), then the Job is resumed.
The parent variation's change of a run iterating on one is in that Secret too, mounted as
the file BASE_PATCH_FILE names (too large for an environment variable).
A service that stops between those steps leaves a suspended Job with no pod, which the
next owner of the run (re-attaching, or re-creating and finding the Job) completes the
same way; a Secret never exists without its owner, so none is left behind.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import gevent

from ...config import Settings, gateway_url
from ...ops import tracing
from ..agent_env import (
    BASE_PATCH_DIR,
    BASE_PATCH_KEY,
    SECRET_VARIABLES,
    agent_environment,
    base_patch_bytes,
    setup_environment,
)
from ..base import Exited, Notice, Observation, VariationSpec, Waiting
from . import client as kube
from . import manifests
from .eventwatch import VariationWarnings, WarningWatcher
from .podwatch import PodWatcher
from .reaper import reap_jobs
from .variation import VariationFollower, delete_job

log = logging.getLogger(__name__)

CREATE_ATTEMPTS = 3
CREATE_BACKOFF = 0.2  # seconds, doubled per attempt
HEALTH_TIMEOUT = (2.0, 3.0)


def agent_resources(s: Settings) -> dict[str, dict[str, str]]:
    """The agent container's requests and limits, from the settings (the chart's values)."""
    return {"requests": {"cpu": s.agent_cpu_request, "memory": s.agent_memory_request,
                         "ephemeral-storage": s.agent_ephemeral_storage_request},
            "limits": {"cpu": s.agent_cpu_limit, "memory": s.agent_memory_limit,
                       "ephemeral-storage": s.agent_ephemeral_storage_limit}}


@dataclass
class _Run:
    """What the variations of one run share in this process."""
    watcher: PodWatcher
    refs: int = 0
    cancelled: bool = False


class KubernetesRuntime:
    name = "kubernetes"

    def __init__(self, settings: Settings, client: kube.Kube | None = None) -> None:
        self._settings = settings
        self._namespace = settings.kube_namespace
        self._kube = client or kube.Kube(config_file=settings.kube_config)
        self._runs: dict[str, _Run] = {}
        self._warnings = WarningWatcher(self._kube, namespace=self._namespace)

    # -- the runtime interface ---------------------------------------------------------
    def watch(self, spec: VariationSpec, *, handle: Mapping[str, Any] | None,
              cursor: str | None) -> Iterator[Observation]:
        run = self._acquire(spec.run_id)
        try:
            if handle is None:
                handle = yield from self._create(spec, run)
                if handle is None:
                    return
            else:
                handle = {"namespace": self._namespace, **handle}
                gone = yield from self._check_exists(spec, handle)
                if gone is not None:
                    yield gone
                    return
            warnings = VariationWarnings(self._warnings, self._kube, namespace=self._namespace,
                                         job=handle["job"],
                                         wake=run.watcher.event(spec.index))
            follower = VariationFollower(client=self._kube, spec=spec, watcher=run.watcher,
                                         warnings=warnings, handle=handle, cursor=cursor,
                                         cancelled=lambda: run.cancelled)
            yield from follower.observations()
        finally:
            self._release(spec.run_id)

    def cancel(self, run_id: str, handles: Mapping[int, Mapping[str, Any] | None]) -> None:
        run = self._runs.get(run_id)
        if run is None and handles:
            # Its collectors have not started yet (a service restarting): they must find
            # the run cancelled, or one without a Job yet would create it.
            run = self._runs[run_id] = self._new_run(run_id)
        if run is not None:
            # Creations still in flight see this and delete what they create.
            run.cancelled = True
            run.watcher.wake_all()
        # By label, not by handle: that also finds Jobs whose creation is in flight.
        gevent.spawn(reap_jobs, self._kube, namespace=self._namespace,
                     selector=manifests.label_selector(run_id))

    def remove(self, run_id: str) -> None:
        # Its Jobs may still be waiting for ttlSecondsAfterFinished: delete them (their
        # pods, and whatever they own, go with them), as a cancel does.
        gevent.spawn(reap_jobs, self._kube, namespace=self._namespace,
                     selector=manifests.label_selector(run_id))

    def job_counts(self, run_id: str) -> dict[int, dict[str, int]] | None:
        try:
            jobs = self._kube.list_jobs(namespace=self._namespace,
                                        label_selector=manifests.label_selector(run_id))
        except kube.KubeError as exc:
            log.warning("listing the Jobs of %s: %s", run_id, exc)
            return None
        counts: dict[int, dict[str, int]] = {}
        for job in jobs.get("items") or []:
            label = (job["metadata"].get("labels") or {}).get("variation-id", "")
            if label.isdigit():
                status = job.get("status") or {}
                # Zero counts are omitted by the API server.
                counts[int(label)] = {key: int(status.get(key) or 0)
                                      for key in ("active", "succeeded", "failed")}
        return counts

    def health(self) -> dict[str, Any]:
        try:
            self._kube.list_jobs(namespace=self._namespace,
                                 label_selector=f"app={manifests.APP_LABEL}", limit=1,
                                 timeout=HEALTH_TIMEOUT)
        except kube.KubeError as exc:
            return {"ok": False, "kubernetes": False, "namespace": self._namespace,
                    "error": str(exc)}
        return {"ok": True, "kubernetes": True, "namespace": self._namespace,
                "runs_watched": len(self._runs)}

    # -- creating a Job ------------------------------------------------------------------
    def _environment(self, spec: VariationSpec) -> tuple[dict[str, str], frozenset[str]]:
        """The agent's environment, and which of its variables go through the Secret (its
        BASE_PATCH_FILE is the Secret's file: see :meth:`_files`)."""
        env = agent_environment(run_id=spec.run_id, variation_id=spec.index,
                                repo_url=spec.repo_url, prompt=spec.prompt,
                                config=spec.config, workspace=manifests.WORKSPACE,
                                gateway_url=gateway_url(self._settings),
                                gateway_token=spec.gateway_token,
                                checks=spec.checks, baseline=spec.baseline,
                                base_change=spec.base_change)
        if spec.setup is not None:
            env.update(setup_environment(spec.setup.environment(),
                                         gateway_url(self._settings), spec.gateway_token,
                                         self._settings))
        return env, SECRET_VARIABLES & set(env)

    @staticmethod
    def _files(spec: VariationSpec) -> dict[str, bytes]:
        """The Secret's keys the agent reads as files in BASE_PATCH_DIR."""
        if not spec.base_change:
            return {}
        return {BASE_PATCH_KEY: base_patch_bytes(spec.base_change)}

    def _render(self, spec: VariationSpec) -> dict[str, Any]:
        s = self._settings
        env, secret_env = self._environment(spec)
        return manifests.render_job(
            secret_env=secret_env, secret_files=list(self._files(spec)),
            files_dir=BASE_PATCH_DIR,
            run_id=spec.run_id, variation_id=spec.index, env=env, image=s.agent_image,
            namespace=self._namespace, ttl_seconds=s.job_ttl_seconds,
            deadline_seconds=s.job_deadline_seconds,
            image_pull_policy=s.agent_image_pull_policy,
            runtime_class=s.agent_runtime_class,
            cache_claim=s.setup_cache_claim if spec.setup is not None else "",
            cache_dir=s.setup_cache_dir,
            resources=agent_resources(s))

    def _create(self, spec: VariationSpec, run: _Run
                ) -> Iterator[Observation]:
        """Create the variation's Job; returns its handle, or None after an Exited."""
        name = spec.job_name
        if run.cancelled:
            yield Exited(False, "cancelled before its Job was created", cause="cancelled")
            return None
        try:
            body = self._render(spec)
        except ValueError as exc:
            yield Exited(False, f"could not create Job {name}: {exc}", cause="create_failed")
            return None
        job: dict[str, Any] | None = None
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                with tracing.span("kubernetes.job.create", **{
                        "aideator.run_id": spec.run_id, "aideator.variation": spec.index,
                        "k8s.job.name": name, "k8s.namespace.name": self._namespace,
                        "aideator.attempt": attempt}):
                    job = self._kube.create_job(namespace=self._namespace, body=body)
                break
            except kube.Conflict:
                # Created by an earlier attempt whose answer was lost, or by a previous
                # owner of the run: ours, and maybe still suspended.
                job = None
                break
            except kube.Unavailable as exc:
                if attempt == CREATE_ATTEMPTS:
                    yield Exited(False, f"could not create Job {name}: {exc}",
                                 cause="create_failed")
                    return None
                yield Notice(f"Creating Job {name} failed ({exc}); retrying")
                gevent.sleep(CREATE_BACKOFF * 2 ** (attempt - 1))
            except kube.KubeError as exc:
                yield Exited(False, f"could not create Job {name}: {exc}",
                             cause="create_failed")
                return None
        handle = {"job": name, "namespace": self._namespace}
        if run.cancelled:
            # cancel() may have come before the Job existed: leave nothing behind.
            delete_job(self._kube, namespace=self._namespace, name=name)
            yield Exited(False, "cancelled", cause="cancelled")
            return None
        failure = yield from self._start(spec, job)
        if failure is not None:
            delete_job(self._kube, namespace=self._namespace, name=name)
            yield failure
            return None
        yield Waiting(f"Created Job {name}; waiting for its pod", handle=handle)
        return handle

    def _start(self, spec: VariationSpec, job: dict[str, Any] | None
               ) -> Iterator[Observation]:
        """Give a suspended Job its Secret, then resume it; returns an Exited on failure
        (None once the Job may run). ``job`` None: read it (its uid owns the Secret)."""
        name = spec.job_name
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                if job is None:
                    job = self._kube.get_job(namespace=self._namespace, name=name)
                if not (job.get("spec") or {}).get("suspend"):
                    return None  # resumed already (or made before Jobs were suspended)
                env, secret_env = self._environment(spec)
                secret = manifests.render_secret(job=job, env=env, secret_env=secret_env,
                                                 files=self._files(spec))
                try:
                    self._kube.create_secret(namespace=self._namespace, body=secret)
                except kube.Conflict:
                    pass  # made by an earlier attempt or owner: the same content, same owner
                self._kube.resume_job(namespace=self._namespace, name=name)
                return None
            except ValueError as exc:
                return Exited(False, f"could not start Job {name}: {exc}",
                              cause="create_failed")
            except kube.Unavailable as exc:
                if attempt == CREATE_ATTEMPTS:
                    return Exited(False, f"could not start Job {name}: {exc}",
                                  cause="create_failed")
                yield Notice(f"Starting Job {name} failed ({exc}); retrying")
                gevent.sleep(CREATE_BACKOFF * 2 ** (attempt - 1))
            except kube.KubeError as exc:
                return Exited(False, f"could not start Job {name}: {exc}",
                              cause="create_failed")
        return None

    def _check_exists(self, spec: VariationSpec, handle: Mapping[str, Any]
                      ) -> Iterator[Observation]:
        """On re-attach: an Exited when the Job is gone (its TTL passed while we were
        down), after starting it if the previous owner stopped before it did; transient
        API errors are left to the pod watch to report."""
        try:
            job = self._kube.get_job(namespace=handle["namespace"], name=handle["job"])
        except kube.NotFound:
            return Exited(False, f"the Job {handle['job']} is gone (expired or deleted); "
                                 "its stored history is kept", cause="lost")
        except kube.KubeError as exc:
            log.warning("re-attaching to Job %s: %s", handle["job"], exc)
            return None
        return (yield from self._start(spec, job))

    # -- the run's shared pod watch ------------------------------------------------------
    def _acquire(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = self._new_run(run_id)
        run.refs += 1
        run.watcher.start()
        self._warnings.start()
        return run

    def _new_run(self, run_id: str) -> _Run:
        return _Run(PodWatcher(self._kube, namespace=self._namespace,
                               selector=manifests.label_selector(run_id)))

    def _release(self, run_id: str) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        run.refs -= 1
        if run.refs <= 0:
            run.watcher.stop()
            del self._runs[run_id]
        if not self._runs:
            self._warnings.stop()
