"""Runs last (by name): every Kubernetes API call the service made in this folder's tests
is allowed by ``aideator.runtimes.kubernetes.rbac``, and every permission there was needed."""
from __future__ import annotations

import pytest

from aideator.runtimes.kubernetes import rbac


def test_the_service_uses_exactly_its_rbac_rules(permissions_seen):
    if not permissions_seen:
        pytest.skip("run with the rest of tests/kube_runtime: it checks what they used")
    disallowed = sorted(p for p in permissions_seen if not rbac.allowed(*p))
    assert disallowed == []
    granted = {(verb, resource) for rule in rbac.RULES
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert sorted(granted - permissions_seen) == []
