"""The Kubernetes API permissions the service needs: the single source of truth.

PRD §7/§9: a service account with minimal rights. The Helm chart renders its Role from
:data:`RULES` (via :func:`role_rules`) and the test suite records every request the service
makes against the fake API server and checks each one with :func:`allowed`, so the chart
and the code cannot drift apart.
"""
from __future__ import annotations

from typing import Any

# Verbs are Kubernetes RBAC verbs: a GET of one object is "get", of a collection "list"
# (or "watch" with ?watch=true); a pod's log is the "pods/log" subresource.
RULES: tuple[dict[str, tuple[str, ...]], ...] = (
    # patch: a Job is created suspended and resumed once its Secret exists.
    {"apiGroups": ("batch",), "resources": ("jobs",),
     "verbs": ("create", "get", "list", "watch", "delete", "patch")},
    # Each Job's Secret (the prompt and the variation's gateway credential), created owned
    # by the Job: the garbage collector deletes it with the Job, so no delete is needed,
    # and the service never reads a Secret (no get, list or watch).
    {"apiGroups": ("",), "resources": ("secrets",), "verbs": ("create",)},
    # watch: the service follows pod phases (pending, image pull errors, OOM) as they happen.
    {"apiGroups": ("",), "resources": ("pods",), "verbs": ("get", "list", "watch")},
    {"apiGroups": ("",), "resources": ("pods/log",), "verbs": ("get",)},
    # Warning events of the agents' Jobs and pods (FailedScheduling, FailedMount...): one
    # watch per namespace, and a list by object when a variation ends.
    {"apiGroups": ("",), "resources": ("events",), "verbs": ("list", "watch")},
)


def allowed(verb: str, resource: str, *, api_group: str | None = None) -> bool:
    """Whether the service account may ``verb`` the ``resource`` (e.g. "get", "pods/log");
    ``api_group`` ("" for core, "batch") narrows the check when given."""
    return any(verb in rule["verbs"] and resource in rule["resources"]
               and (api_group is None or api_group in rule["apiGroups"])
               for rule in RULES)


def role_rules() -> list[dict[str, Any]]:
    """:data:`RULES` as a fresh JSON/YAML-ready list for a Role manifest."""
    return [{key: list(values) for key, values in rule.items()} for rule in RULES]
