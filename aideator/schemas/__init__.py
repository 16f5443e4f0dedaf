"""The OpenAPI contract (``openapi.yaml``) and request validation against its schemas.
Imports nothing of the service: every part may validate with it."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi.yaml")
_SPEC_URI = "urn:aideator:openapi"


class ValidationFailed(ValueError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    with open(SPEC_PATH) as f:
        return yaml.safe_load(f)


@lru_cache(maxsize=None)
def _validator(name: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        _SPEC_URI, Resource.from_contents(openapi_document(), default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{_SPEC_URI}#/components/schemas/{name}"},
                                registry=registry)


def _describe(error: Any) -> tuple[str | None, str]:
    path = ".".join(str(p) for p in error.absolute_path) or None
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return (f"{path}.{missing}" if path else missing), "is required"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        name = f"{path}.{unknown[0]}" if path else unknown[0]
        return name, "is not a known field"
    if error.validator == "pattern" and path and path.endswith("github_url"):
        return path, ("must be https://github.com/<owner>/<repo> (optionally ending in "
                      ".git), with nothing else")
    if error.validator == "pattern" and (path == "prompt" or _is_check(path, "command")):
        return path, "must not be blank or contain NUL characters"
    if error.validator == "pattern" and _is_check(path, "name"):
        return path, ("must be 1 to 64 letters, digits, spaces or _.:/+- (starting with a "
                      "letter or digit)")
    if error.validator == "pattern" and _is_check(path, "junit_report"):
        return path, "must be a relative path inside the repository (letters, digits, ._/-)"
    if error.validator == "maxItems":
        return path, f"has too many items (at most {error.validator_value})"
    if error.validator == "pattern" and path == "setup":
        return path, "must be one command line: not blank, no NUL or line break"
    if error.validator == "maxLength":
        return path, f"is too long (at most {error.validator_value} characters)"
    if error.validator == "minLength":
        return path, "must not be empty"
    return path, error.message


def _is_check(path: str | None, name: str) -> bool:
    parts = (path or "").split(".")
    return len(parts) == 3 and parts[0] == "checks" and parts[2] == name


def validate(instance: Any, schema_name: str) -> None:
    """Raise :class:`ValidationFailed` naming the field if ``instance`` breaks the schema."""
    error = best_match(_validator(schema_name).iter_errors(instance))
    if error is not None:
        field, message = _describe(error)
        raise ValidationFailed(field, f"{field}: {message}" if field else message)
