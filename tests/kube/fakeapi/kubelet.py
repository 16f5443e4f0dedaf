"""A kubelet that runs each pod as a local process.

The pod's ``agent`` container becomes ``kubelet_command`` run with the container's env
(``value`` entries after the kubelet's own ``$(VAR)`` expansion, ``secretKeyRef`` resolved
from the fake's Secrets); stdout and stderr become the pod log, line by line with
timestamps, and the exit code becomes the ``terminated`` state. The container's emptyDir
and Secret volumes are local directories (a Secret volume holds its decoded keys as files,
laid out as the kubelet's atomic writer does, with their modes; a missing Secret or key is
a FailedMount, retried); ``FAKEKUBE_MOUNTS`` in its environment maps each mountPath to
its directory, for a wrapper command to point paths there (the fake rewrites no value,
and cannot make a mount read-only for a process that owns the files). Behaviours a cluster shows
but a process cannot (image pull failures, Unschedulable, a volume that fails to mount,
OOMKilled) are chosen per pod. The scheduler and the kubelet record the Events a cluster's
would (FailedScheduling, Failed, BackOff, FailedMount, Scheduled, Started), repeating the
ones a real component retries.
"""
from __future__ import annotations

import base64
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from typing import Any, Callable, Mapping, Sequence

from .events import KUBELET, SCHEDULER, EventRecorder
from .expansion import expand
from .logs import LogBook
from .status import ApiError
from .store import Store, now_rfc3339

RUN = "Run"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"  # ErrImagePull, then ImagePullBackOff for ever
UNSCHEDULABLE = "Unschedulable"
OOM_KILLED = "OOMKilled"                   # SIGKILL after the first log line, exit 137
CONTAINER_CREATING = "ContainerCreating"   # never starts
# A volume fails to mount (FailedMount, repeated) while containers are held, then mounts.
FAILED_MOUNT = "FailedMount"
BEHAVIOURS = {RUN, IMAGE_PULL_BACKOFF, UNSCHEDULABLE, OOM_KILLED, CONTAINER_CREATING,
              FAILED_MOUNT}
WARNING, NORMAL = "Warning", "Normal"
UNSCHEDULABLE_MESSAGE = ("0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 "
                         "nodes are available: 1 No preemption victims found for incoming "
                         "pod.")
FAILED_MOUNT_MESSAGE = ('MountVolume.SetUp failed for volume "workspace" : mount failed: '
                        "exit status 32")
# The per-pod knobs: a pod (template) label, or an env value of the container.
BEHAVIOUR_LABEL = "fakekube.test/behaviour"
BEHAVIOUR_ENV = "FAKEKUBE_BEHAVIOUR"
NODE = "fake-node"


class _PodGone(Exception):
    pass


class _ConfigError(Exception):
    pass


class _MountError(Exception):
    pass


class Kubelet:
    def __init__(self, store: Store, logs: LogBook, *, command: Sequence[str] | None,
                 env: Mapping[str, str], on_pod_change: Callable[[dict[str, Any]], None],
                 start_delay: float, pull_backoff_delay: float,
                 service_host: Callable[[], tuple[str, int]], events: EventRecorder,
                 retry_seconds: float = 0.5) -> None:
        self._store, self._logs = store, logs
        self._recorder = events
        self._retry_seconds = retry_seconds
        self._command = list(command) if command else None
        self._env = dict(env)
        self._on_pod_change = on_pod_change
        self._start_delay = start_delay
        self._pull_backoff_delay = pull_backoff_delay
        self._service_host = service_host
        self._runners: dict[tuple[str, str], _Runner] = {}
        self._rules: list[tuple[str, str]] = []
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()

    # -- knobs ---------------------------------------------------------------------------
    def set_behaviour(self, pattern: str, behaviour: str) -> None:
        """Pods whose Job name (or pod name) matches the glob ``pattern`` behave so."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; one of {sorted(BEHAVIOURS)}")
        self._rules.insert(0, (pattern, behaviour))

    def hold(self) -> None:
        """Keep new containers in ContainerCreating until :meth:`release`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def behaviour_for(self, pod: dict[str, Any]) -> str:
        labels = pod["metadata"].get("labels") or {}
        names = (labels.get("job-name", ""), pod["metadata"]["name"])
        for pattern, behaviour in self._rules:
            if any(fnmatch.fnmatchcase(n, pattern) for n in names):
                return behaviour
        if labels.get(BEHAVIOUR_LABEL) in BEHAVIOURS:
            return labels[BEHAVIOUR_LABEL]
        for entry in _container(pod).get("env") or []:
            if entry.get("name") == BEHAVIOUR_ENV and entry.get("value") in BEHAVIOURS:
                return entry["value"]
        return RUN

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, pod: dict[str, Any]) -> None:
        ref = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        runner = _Runner(self, ref, self.behaviour_for(pod))
        with self._lock:
            self._runners[ref] = runner
        runner.thread.start()

    def stop(self, ref: tuple[str, str], grace: float) -> None:
        """Kill the pod's process (TERM, then KILL after ``grace``) and wait for its end."""
        with self._lock:
            runner = self._runners.pop(ref, None)
        if runner is not None:
            runner.stop(grace)

    def stop_all(self) -> None:
        with self._lock:
            refs = list(self._runners)
        for ref in refs:
            self.stop(ref, 0)
        self._released.set()

    # -- used by runners -----------------------------------------------------------------
    def set_status(self, ref: tuple[str, str], mutate: Callable[[dict[str, Any]], None]) -> None:
        try:
            with self._store.cond:
                pod = self._store.update("pods", ref[0], ref[1], mutate)
                self._on_pod_change(pod)
        except ApiError as e:
            if e.code == 404:
                raise _PodGone() from None
            raise

    def event(self, ref: tuple[str, str], type_: str, reason: str,
              message: Callable[[dict[str, Any]], str] | str, component: str = KUBELET) -> None:
        """Record an Event about the pod (``message`` may be made from its container); none
        about a pod that is gone or going."""
        with self._store.cond:
            pod = self._store.find("pods", *ref)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                return
            text = message if isinstance(message, str) else message(_container(pod))
            self._recorder.emit(pod, type_, reason, text, component=component,
                                node=pod["spec"].get("nodeName"))

    def environment(self, pod: dict[str, Any], workdir: str) -> dict[str, str]:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        host, port = self._service_host()
        # What every container gets from the kubelet, even with enableServiceLinks false.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": name,
               "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(port)}
        env.update(self._env)
        mounts = _volume_mounts(pod, workdir)
        env["FAKEKUBE_MOUNTS"] = json.dumps(mounts)
        defined: dict[str, str] = {}
        for entry in _container(pod).get("env") or []:
            if "valueFrom" in entry:
                value = self._value_from(ns, pod, entry["valueFrom"])
            else:
                value = expand(entry.get("value", ""), defined)
            defined[entry["name"]] = value
        env.update(defined)
        return env

    def mount_secrets(self, pod: dict[str, Any], workdir: str) -> None:
        """Each Secret volume the container mounts, as the files of its (decoded) keys."""
        ns = pod["metadata"]["namespace"]
        mounted = {m["name"] for m in _container(pod).get("volumeMounts") or []}
        for volume in pod["spec"].get("volumes") or []:
            source = volume.get("secret")
            if source is None or volume["name"] not in mounted:
                continue
            where = f'MountVolume.SetUp failed for volume "{volume["name"]}" : '
            secret = self._store.find("secrets", ns, source.get("secretName", ""))
            if secret is None and not source.get("optional"):
                raise _MountError(f'{where}secret "{source.get("secretName")}" not found')
            data = {k: base64.b64decode(v) for k, v in ((secret or {}).get("data") or {})
                    .items()}
            mode = source.get("defaultMode", 0o644)
            files: dict[str, tuple[bytes, int]] = {}
            for item in source.get("items") or [{"key": k, "path": k} for k in data]:
                if item["key"] not in data:
                    if source.get("optional"):
                        continue
                    raise _MountError(f"{where}references non-existent secret key: "
                                      f"{item['key']}")
                files[item["path"]] = (data[item["key"]], item.get("mode", mode))
            _write_atomically(os.path.join(workdir, "volumes", volume["name"]), files)

    def _value_from(self, ns: str, pod: dict[str, Any], source: dict[str, Any]) -> str:
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = self._store.find("secrets", ns, ref["name"])
            if secret is None:
                raise _ConfigError(f'secret "{ref["name"]}" not found')
            data = secret.get("data") or {}
            if ref["key"] not in data:
                raise _ConfigError(f"couldn't find key {ref['key']} in Secret "
                                   f"{ns}/{ref['name']}")
            return base64.b64decode(data[ref["key"]]).decode("utf-8", "surrogateescape")
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            node: Any = pod
            for step in path.split("."):
                node = node.get(step, "") if isinstance(node, dict) else ""
            return str(node)
        raise _ConfigError(f"unsupported valueFrom: {sorted(source)}")


class _Runner:
    """One pod's life on the node, in its own thread."""

    def __init__(self, kubelet: Kubelet, ref: tuple[str, str], behaviour: str) -> None:
        self.k, self.ref, self.behaviour = kubelet, ref, behaviour
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._main, name=f"kubelet-{ref[1]}", daemon=True)

    def stop(self, grace: float) -> None:
        with self._lock:
            self.stopping.set()
            proc = self.proc
        if proc is not None and proc.poll() is None:
            _signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=10)

    def _main(self) -> None:
        workdir = tempfile.mkdtemp(prefix=f"fakekube-{self.ref[1]}-")
        try:
            self._lifecycle(workdir)
        except _PodGone:
            pass
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _lifecycle(self, workdir: str) -> None:
        k, ref = self.k, self.ref
        if self.behaviour == UNSCHEDULABLE:
            k.event(ref, WARNING, "FailedScheduling", UNSCHEDULABLE_MESSAGE, SCHEDULER)
            k.set_status(ref, _unschedulable)
            while not self._pause(k._retry_seconds):   # the scheduler tries again, in vain
                k.event(ref, WARNING, "FailedScheduling", UNSCHEDULABLE_MESSAGE, SCHEDULER)
            return
        k.event(ref, NORMAL, "Scheduled", f"Successfully assigned {ref[0]}/{ref[1]} to {NODE}",
                SCHEDULER)
        k.set_status(ref, _scheduled)
        if self.behaviour == FAILED_MOUNT:
            while True:   # the kubelet retries the mount; it works once containers are let go
                k.event(ref, WARNING, "FailedMount", FAILED_MOUNT_MESSAGE)
                if self._pause(k._retry_seconds):
                    return
                if k._released.is_set():
                    break
        if self._pause(k._start_delay) or not self._wait_released():
            return
        if self.behaviour == CONTAINER_CREATING:
            return
        if self.behaviour == IMAGE_PULL_BACKOFF:
            k.event(ref, WARNING, "Failed", lambda c: f'Failed to pull image "{c["image"]}": '
                                                      f"{_pull_error(c)}")
            k.event(ref, WARNING, "Failed", "Error: ErrImagePull")
            k.set_status(ref, _waiting("ErrImagePull", _pull_error))
            if self._pause(k._pull_backoff_delay):
                return
            k.event(ref, NORMAL, "BackOff", _backoff_message)
            k.event(ref, WARNING, "Failed", "Error: ImagePullBackOff")
            k.set_status(ref, _waiting("ImagePullBackOff", _backoff_message))
            return
        if not self._mount_secrets(workdir):
            return
        env = self._wait_for_config(workdir)
        if env is None:
            return
        self._run(env, workdir)

    def _mount_secrets(self, workdir: str) -> bool:
        """Like the kubelet, write the pod's Secret volumes before its container starts,
        retrying a missing Secret or key (FailedMount, the pod ContainerCreating)."""
        while True:
            pod = self.k._store.find("pods", *self.ref)
            if pod is None:
                return False
            try:
                self.k.mount_secrets(pod, workdir)
                return True
            except _MountError as e:
                self.k.event(self.ref, WARNING, "FailedMount", str(e))
                if self._pause(self.k._retry_seconds):
                    return False

    def _wait_for_config(self, workdir: str) -> dict[str, str] | None:
        """Like the kubelet, keep retrying a missing Secret (CreateContainerConfigError)."""
        reported = None
        while True:
            pod = self.k._store.find("pods", *self.ref)
            if pod is None:
                return None
            try:
                return self.k.environment(pod, workdir)
            except _ConfigError as e:
                self.k.event(self.ref, WARNING, "Failed", f"Error: {e}")
                if str(e) != reported:
                    reported = str(e)
                    self.k.set_status(self.ref, _waiting("CreateContainerConfigError",
                                                         lambda c: reported or ""))
                if self._pause(0.1):
                    return None

    def _run(self, env: dict[str, str], workdir: str) -> None:
        started = now_rfc3339()
        container_id = "containerd://" + uuid.uuid4().hex
        self.k._logs.open(self.ref)
        with self._lock:
            if self.stopping.is_set():
                return
            try:
                if self.k._command is None:
                    raise OSError("FakeKubeAPI was started without a kubelet_command")
                self.proc = subprocess.Popen(self.k._command, env=env, cwd=workdir,
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as e:  # e.g. E2BIG: an env value too large to exec
                self.k.set_status(self.ref, _terminated(128, "StartError", started,
                                                        container_id, str(e)))
                self.k._logs.finish(self.ref)
                return
        self.k.set_status(self.ref, _running(started, container_id))
        self.k.event(self.ref, NORMAL, "Started", "Started container agent")
        oom = False
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.k._logs.append(self.ref, line)
            if self.behaviour == OOM_KILLED and not oom:
                oom = True
                _signal(self.proc, signal.SIGKILL)
        code = self.proc.wait()
        if code < 0:
            code = 128 - code
        if oom:
            code, reason = 137, "OOMKilled"
        else:
            reason = "Completed" if code == 0 else "Error"
        self.k._logs.finish(self.ref)
        self.k.set_status(self.ref, _terminated(code, reason, started, container_id))

    def _pause(self, seconds: float) -> bool:
        """Sleep; True when the pod is being deleted meanwhile."""
        return self.stopping.wait(seconds) if seconds > 0 else self.stopping.is_set()

    def _wait_released(self) -> bool:
        while not self.k._released.wait(0.05):
            if self.stopping.is_set():
                return False
        return not self.stopping.is_set()


# -- status shapes -----------------------------------------------------------------------

def _container(pod: dict[str, Any]) -> dict[str, Any]:
    return pod["spec"]["containers"][0]


def _condition(kind: str, status: str, **extra: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339(), **extra}


def _set_conditions(pod: dict[str, Any], **states: str) -> None:
    conditions = {c["type"]: c for c in pod["status"].get("conditions") or []}
    for kind, status in states.items():
        if conditions.get(kind, {}).get("status") != status:
            conditions[kind] = _condition(kind, status)
    pod["status"]["conditions"] = list(conditions.values())


def _container_status(pod: dict[str, Any], state: dict[str, Any], **extra: Any) -> None:
    container = _container(pod)
    pod["status"]["containerStatuses"] = [{
        "name": container["name"], "image": container["image"], "imageID": "",
        "ready": False, "started": False, "restartCount": 0, "lastState": {},
        "state": state, **extra}]


def _unschedulable(pod: dict[str, Any]) -> None:
    pod["status"]["conditions"] = [_condition(
        "PodScheduled", "False", reason="Unschedulable", message=UNSCHEDULABLE_MESSAGE)]


def _scheduled(pod: dict[str, Any]) -> None:
    pod["spec"]["nodeName"] = NODE
    pod["status"].update(hostIP="127.0.0.1", podIP="10.42.0.10", startTime=now_rfc3339())
    _set_conditions(pod, PodReadyToStartContainers="True", Initialized="True", Ready="False",
                    ContainersReady="False", PodScheduled="True")
    _container_status(pod, {"waiting": {"reason": "ContainerCreating"}})


def _pull_error(container: dict[str, Any]) -> str:
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image '
            f'"{container["image"]}": not found')


def _backoff_message(container: dict[str, Any]) -> str:
    return f'Back-off pulling image "{container["image"]}"'


def _waiting(reason: str, message: Callable[[dict[str, Any]], str]
             ) -> Callable[[dict[str, Any]], None]:
    def mutate(pod: dict[str, Any]) -> None:
        _container_status(pod, {"waiting": {"reason": reason,
                                            "message": message(_container(pod))}})
    return mutate


def _running(started: str, container_id: str) -> Callable[[dict[str, Any]], None]:
    def mutate(pod: dict[str, Any]) -> None:
        pod["status"]["phase"] = "Running"
        _set_conditions(pod, Ready="True", ContainersReady="True")
        _container_status(pod, {"running": {"startedAt": started}}, ready=True, started=True,
                          containerID=container_id)
    return mutate


def _terminated(code: int, reason: str, started: str, container_id: str,
                message: str | None = None) -> Callable[[dict[str, Any]], None]:
    def mutate(pod: dict[str, Any]) -> None:
        pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
        _set_conditions(pod, Ready="False", ContainersReady="False")
        state = {"exitCode": code, "reason": reason, "startedAt": started,
                 "finishedAt": now_rfc3339(), "containerID": container_id}
        if message:
            state["message"] = message
        _container_status(pod, {"terminated": state}, containerID=container_id)
    return mutate


def _write_atomically(directory: str, files: Mapping[str, tuple[bytes, int]]) -> None:
    """A Secret volume as the kubelet's AtomicWriter lays it out: the files in a
    timestamped directory, ``..data`` a link to it, each top-level name a link into
    ``..data``."""
    if os.path.lexists(os.path.join(directory, "..data")):
        return   # mounted already
    stamp = "..fake_" + uuid.uuid4().hex[:12]
    os.makedirs(os.path.join(directory, stamp), exist_ok=True)
    for path, (content, mode) in files.items():
        target = os.path.join(directory, stamp, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
        os.chmod(target, mode)
    os.symlink(stamp, os.path.join(directory, "..data"))
    for top in sorted({path.split("/", 1)[0] for path in files}):
        os.symlink(os.path.join("..data", top), os.path.join(directory, top))


def _volume_mounts(pod: dict[str, Any], workdir: str) -> dict[str, str]:
    """mountPath -> a local directory, for every emptyDir and Secret volume the container
    mounts (a wrapper command can point WORKSPACE & co. there; the fake itself never
    rewrites env values)."""
    local = {v["name"] for v in pod["spec"].get("volumes") or []
             if "emptyDir" in v or "secret" in v}
    mounts = {}
    for mount in _container(pod).get("volumeMounts") or []:
        if mount["name"] in local:
            path = os.path.join(workdir, "volumes", mount["name"])
            os.makedirs(path, exist_ok=True)
            mounts[mount["mountPath"]] = path
    return mounts


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
