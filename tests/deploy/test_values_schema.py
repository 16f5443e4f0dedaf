"""values.schema.json: bad values fail at `helm template` time, before anything reaches a
cluster; every values file of the repository passes."""
from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from .conftest import CHART, DEV_VALUES, NAMESPACE, PROD_VALUES, RELEASE, helm

SCHEMA_ERROR = "values don't meet the specifications of the schema"

BAD_VALUES = {
    "empty api image": ["--set", "api.image.repository="],
    "missing api image": ["--set", "api.image.repository=null"],
    "missing agent image": ["--set", "agents.image=null"],
    "empty agent image": ["--set", "agents.image.repository="],
    "image with spaces": ["--set", "api.image.repository=my image"],
    "port of the wrong type": ["--set", "api.port=eighty"],
    "ttl of the wrong type": ["--set-string", "agents.ttlSecondsAfterFinished=3600"],
    "negative deadline": ["--set", "agents.activeDeadlineSeconds=-5"],
    "unknown pull policy": ["--set", "agents.image.pullPolicy=Sometimes"],
    "bad cpu quantity": ["--set", "agents.resources.limits.cpu=lots"],
    "unknown top-level key": ["--set", "replicas=3"],
    "unknown nested key": ["--set", "api.ingress.host=a.test"],
    "misspelt value": ["--set", "agents.networkPolicy.enable=false"],
    "not a namespace name": ["--set", "agents.namespace=Agents_NS"],
    "not a database url": ["--set", "database.url=mysql://db/aideator"],
    "boolean as a string": ["--set-string", "api.ingress.enabled=true"],
    "no dns destination": ["--set", "agents.networkPolicy.dnsTo=null"],
    "empty dns destinations": ["--set", "agents.networkPolicy.dnsTo={}"],
    "not a runtime class name": ["--set", "agents.runtimeClassName=gVisor runsc"],
    "the model key in its old place": ["--set", "agents.anthropic.apiKey=sk-test"],
    "not a base url": ["--set", "anthropic.baseUrl=llm.example.com"],
    "not an openai base url": ["--set", "openai.baseUrl=api.openai.com"],
    "an unknown gemini value": ["--set", "gemini.key=AIza"],
    "several replicas on sqlite": ["--set", "api.replicas=3"],
    "grace period shorter than the hand-over": ["--set",
                                                "api.terminationGracePeriodSeconds=5"],
    "no replicas": ["--set", "api.replicas=0"],
    "lease under a second": ["--set", "api.leaseSeconds=0.5"],
}


@pytest.mark.parametrize("args", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_bad_values_fail_helm_template(args: list[str]) -> None:
    result = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args, check=False)
    assert result.returncode != 0
    assert SCHEMA_ERROR in result.stderr, result.stderr


@pytest.mark.parametrize("database", [["--set", "database.url=postgresql://u:p@db/a"],
                                      ["--set", "database.existingSecret.name=db"]],
                         ids=["url", "existing secret"])
def test_several_replicas_are_accepted_with_postgresql(database: list[str]) -> None:
    helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--set", "api.replicas=3",
         *database)


def test_several_replicas_on_sqlite_are_refused_naming_the_database() -> None:
    result = helm("template", RELEASE, str(CHART), "--set", "api.replicas=3", check=False)
    assert "/database/url" in result.stderr and "/database/existingSecret/name" in \
        result.stderr


def test_the_error_names_the_offending_value() -> None:
    result = helm("template", RELEASE, str(CHART), "--set", "api.image.repository=", check=False)
    assert "/api/image/repository" in result.stderr


@pytest.mark.parametrize("path", [CHART / "values.yaml", DEV_VALUES, PROD_VALUES],
                         ids=lambda p: p.name)
def test_values_files_only_use_keys_the_schema_knows(path) -> None:
    # Every key of every values file exists in the schema (a misspelt key would otherwise be
    # merged in silently and ignored).
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(values: dict, node: dict, where: str) -> None:
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        if node.get("additionalProperties") is False:
            unknown = set(values) - set(node["properties"])
            assert not unknown, f"{path.name}: unknown keys {unknown} under {where or '/'}"
        for key, value in values.items():
            child = node.get("properties", {}).get(key)
            if isinstance(value, dict) and isinstance(child, dict):
                walk(value, child, f"{where}/{key}")

    walk(yaml.safe_load(path.read_text()), schema, "")


def test_default_values_are_valid_against_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)


def test_every_object_level_forbids_unknown_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    free_form = {"commonLabels", "podSecurityContext", "containerSecurityContext",
                 "podAnnotations", "podLabels", "nodeSelector", "affinity", "annotations",
                 "hard", "items"}

    def walk(node: dict, name: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, name
        for key, child in node.get("properties", {}).items():
            if key not in free_form:
                walk(child, key)

    walk(schema, "/")


def test_every_value_is_documented() -> None:
    # zero-to-jupyterhub style: every value of values.yaml has a comment right above it.
    # Inside a Kubernetes structure (resources, security contexts, quota, limits, policy
    # peers) the comment on the structure's key covers its fields.
    native = {"resources", "podSecurityContext", "containerSecurityContext", "hard",
              "default", "defaultRequest", "max", "dnsTo"}
    lines = (CHART / "values.yaml").read_text().splitlines()
    ancestors: list[tuple[int, str, bool]] = []          # (indent, key, commented)
    undocumented = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):(.*)$", line)
        if not match:
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3).strip()
        ancestors = [a for a in ancestors if a[0] < indent]
        commented = i > 0 and lines[i - 1].strip().startswith("#")
        is_leaf = bool(rest) and not rest.startswith("#")
        covered = any(k in native and c for _, k, c in ancestors)
        if is_leaf and not commented and not covered:
            undocumented.append(f"line {i + 1}: {line.strip()}")
        ancestors.append((indent, key, commented))
    assert not undocumented, "values without a comment:\n" + "\n".join(undocumented)
