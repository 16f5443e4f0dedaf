"""Names shared by both runtimes: run ids and job names are valid Kubernetes names.

A run id is a DNS-1123 label (``run-`` + 10 random lowercase alphanumerics), so the same
id names local workspaces, Job names (``agent-<run_id>-<n>``) and label values.
"""
from __future__ import annotations

import re
import secrets
import string

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RUN_ID = re.compile(r"^run-[a-z0-9]{10}$")
_ALPHABET = string.ascii_lowercase + string.digits
JOB_PREFIX = "agent-"


def random_id(prefix: str) -> str:
    """``prefix`` + 10 random lowercase alphanumerics (about 52 bits)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def new_run_id() -> str:
    return random_id("run-")


def is_run_id(value: str) -> bool:
    return bool(RUN_ID.match(value))


def job_name(run_id: str, variation_id: int) -> str:
    name = f"{JOB_PREFIX}{run_id}-{variation_id}"
    if len(name) > 63 or not DNS1123_LABEL.match(name):
        raise ValueError(f"not a DNS-1123 label: {name!r}")
    return name
