"""Print chart/files/rbac-rules.yaml from aideator.runtimes.kubernetes.rbac (the single
source of truth):

    python -m tests.deploy.rbac_rules > chart/files/rbac-rules.yaml
"""
from __future__ import annotations

import yaml

from aideator.runtimes.kubernetes.rbac import role_rules

HEADER = """\
# The Kubernetes API rules of the service's Role, rendered by templates/api/rbac.yaml.
# A copy of RULES in aideator/runtimes/kubernetes/rbac.py (the single source of truth):
# Helm cannot import Python, so tests/deploy/test_rbac_sync.py fails if this file and
# rbac.py differ. After changing RULES, regenerate it with:
#   python -m tests.deploy.rbac_rules > chart/files/rbac-rules.yaml
"""


def render() -> str:
    return HEADER + yaml.safe_dump(role_rules(), default_flow_style=None, sort_keys=False)


if __name__ == "__main__":
    print(render(), end="")
