"""What the API server does to a Job on the way in, and the pod the Job controller makes.

Validation returns the API server's field errors (422 Invalid); defaulting adds what a real
server adds (selector, controller-uid/job-name labels, backoffLimit 6, …) so clients see the
same shapes as on a cluster.
"""
from __future__ import annotations

import base64
import binascii
import copy
import random
import re
import uuid
from typing import Any

from .status import ApiError, bad_request, invalid

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# The API server's MaxSecretSize: the values of a Secret's data (stringData merged in).
MAX_SECRET_SIZE = 1024 * 1024
# The alphabet Kubernetes uses for generateName suffixes (no vowels, no look-alikes).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric "
                 "character (e.g. 'example.com', regex used for validation is "
                 r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def check_namespace(obj: dict[str, Any], namespace: str) -> None:
    meta = obj.setdefault("metadata", {})
    if meta.get("namespace", namespace) != namespace:
        raise bad_request("the namespace of the provided object does not match the "
                          "namespace sent on the request")
    meta["namespace"] = namespace


def validate_job(job: dict[str, Any]) -> None:
    meta = job.get("metadata") or {}
    name = meta.get("name") or ""
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        causes.append(("metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MSG}'))
    elif len(name) > 63:
        # The controller labels pods job-name=<name>, and label values stop at 63.
        causes.append(("spec.template.labels",
                       f'Invalid value: "{name}": must be no more than 63 characters'))
    causes += _label_causes("metadata.labels", meta.get("labels"))
    spec = job.get("spec") or {}
    template = spec.get("template") or {}
    causes += _label_causes("spec.template.metadata.labels",
                            (template.get("metadata") or {}).get("labels"))
    for field in ("ttlSecondsAfterFinished", "backoffLimit"):
        if field in spec and (not isinstance(spec[field], int) or spec[field] < 0):
            causes.append((f"spec.{field}", f"Invalid value: {spec[field]}: must be "
                                            "greater than or equal to 0"))
    if "activeDeadlineSeconds" in spec and (not isinstance(spec["activeDeadlineSeconds"], int)
                                            or spec["activeDeadlineSeconds"] <= 0):
        causes.append(("spec.activeDeadlineSeconds", "Invalid value: must be greater than 0"))
    pod = template.get("spec") or {}
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        causes.append(("spec.template.spec.restartPolicy",
                       'Required value: valid values: "OnFailure", "Never"'))
    containers = pod.get("containers") or []
    if not containers:
        causes.append(("spec.template.spec.containers", "Required value"))
    for i, container in enumerate(containers):
        causes += _container_causes(f"spec.template.spec.containers[{i}]", container)
    if causes:
        raise invalid("jobs", name, causes)


def default_job(job: dict[str, Any]) -> dict[str, Any]:
    """The Job as stored: a uid, selector and the labels the controller relies on."""
    job = copy.deepcopy(job)
    meta, spec = job["metadata"], job["spec"]
    uid = str(uuid.uuid4())
    meta.update(uid=uid, generation=1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template = spec["template"]
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels.update({"batch.kubernetes.io/controller-uid": uid,
                   "batch.kubernetes.io/job-name": meta["name"],
                   "controller-uid": uid, "job-name": meta["name"]})
    pod = template["spec"]
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("schedulerName", "default-scheduler")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("securityContext", {})
    for container in pod["containers"]:
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = container.get("image", "")
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    job["status"] = {}
    return job


def pod_for_job(job: dict[str, Any]) -> dict[str, Any]:
    """A pod as the Job controller creates it: generateName + 5 random characters."""
    meta = job["metadata"]
    template = copy.deepcopy(job["spec"]["template"])
    suffix = "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(5))
    pod_meta = template.get("metadata", {})
    pod_meta.update(name=f"{meta['name']}-{suffix}", generateName=f"{meta['name']}-",
                    namespace=meta["namespace"],
                    ownerReferences=[{"apiVersion": "batch/v1", "kind": "Job",
                                      "name": meta["name"], "uid": meta["uid"],
                                      "controller": True, "blockOwnerDeletion": True}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": template["spec"],
            "status": {"phase": "Pending", "qosClass": _qos(template["spec"])}}


def validate_secret(secret: dict[str, Any]) -> None:
    meta = secret.get("metadata") or {}
    name = meta.get("name") or ""
    causes: list[tuple[str, str]] = []
    if not _SUBDOMAIN.match(name) or len(name) > 253:
        causes.append(("metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MSG}'))
    causes += _label_causes("metadata.labels", meta.get("labels"))
    for field in ("data", "stringData"):
        for key in secret.get(field) or {}:
            if not _SECRET_KEY.match(key) or len(key) > 253:
                causes.append((f"{field}[{key}]", f'Invalid value: "{key}": a valid config '
                                                  "key must consist of alphanumeric "
                                                  "characters, '-', '_' or '.'"))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(field):
                causes.append((f"metadata.ownerReferences[{i}].{field}", "Invalid value: "
                               f"\"\": {field} must not be empty"))
    if _secret_size(secret) > MAX_SECRET_SIZE:
        causes.append(("data", f"Too long: must have at most {MAX_SECRET_SIZE} bytes"))
    if causes:
        raise invalid("secrets", name, causes)


def _secret_size(secret: dict[str, Any]) -> int:
    """The bytes of its values, as the API server counts them (stringData wins a key)."""
    values: dict[str, int] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            values[key] = len(base64.b64decode(value or "", validate=True))
        except (binascii.Error, ValueError):
            values[key] = len(value or "") * 3 // 4
    for key, value in (secret.get("stringData") or {}).items():
        values[key] = len((value or "").encode())
    return sum(values.values())


def _container_causes(path: str, container: dict[str, Any]) -> list[tuple[str, str]]:
    causes = []
    name = container.get("name") or ""
    if not _DNS_LABEL.match(name) or len(name) > 63:
        causes.append((f"{path}.name", f'Invalid value: "{name}": a lowercase RFC 1123 label '
                                       "must consist of lower case alphanumeric characters "
                                       "or '-'"))
    if not container.get("image"):
        causes.append((f"{path}.image", "Required value"))
    for j, entry in enumerate(container.get("env") or []):
        env_name = entry.get("name") or ""
        if not _ENV_NAME.match(env_name):
            causes.append((f"{path}.env[{j}].name", f'Invalid value: "{env_name}": a valid '
                                                    "environment variable name must consist "
                                                    "of alphabetic characters, digits, '_', "
                                                    "'-', or '.'"))
        if "value" in entry and "valueFrom" in entry:
            causes.append((f"{path}.env[{j}].valueFrom", "Invalid value: may not be specified "
                                                         "when `value` is not empty"))
    return causes


def _label_causes(path: str, labels: Any) -> list[tuple[str, str]]:
    causes = []
    for key, value in (labels or {}).items():
        name = key.rsplit("/", 1)[-1]
        if not _LABEL_NAME.match(name) or len(name) > 63:
            causes.append((path, f'Invalid value: "{key}": name part must consist of '
                                 "alphanumeric characters, '-', '_' or '.'"))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append((f"{path}", f'Invalid value: "{value}": a valid label must be an '
                                      "empty string or consist of alphanumeric characters, "
                                      "'-', '_' or '.', and must start and end with an "
                                      "alphanumeric character (at most 63 characters)"))
    return causes


def _qos(pod_spec: dict[str, Any]) -> str:
    resources = [c.get("resources") or {} for c in pod_spec.get("containers", [])]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(r.get("limits") and r.get("requests", r["limits"]) == r["limits"]
                     for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"


__all__ = ["ApiError", "check_namespace", "default_job", "pod_for_job", "validate_job",
           "validate_secret"]
