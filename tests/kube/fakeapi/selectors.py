"""Label and field selectors, as list and watch requests send them in the query string."""
from __future__ import annotations

import re
from typing import Any, Callable

from .status import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)\s*")
_EQ = re.compile(r"^\s*([^\s!=,()]+)\s*(==|=|!=)\s*([^\s,()]*)\s*")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=,()]+)\s*")


def label_selector(text: str | None) -> Predicate:
    """A predicate over objects; supports =, ==, !=, in, notin, key and !key."""
    requirements: list[Callable[[dict[str, str]], bool]] = []
    rest = (text or "").strip()
    while rest:
        if m := _SET.match(rest):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            requirements.append(_in(key, values) if op == "in" else _notin(key, values))
        elif m := _EQ.match(rest):
            key, op, value = m.groups()
            requirements.append(_ne(key, value) if op == "!=" else _eq(key, value))
        elif m := _EXISTS.match(rest):
            negate, key = m.groups()
            requirements.append((lambda k: lambda labels: k not in labels)(key) if negate
                                else (lambda k: lambda labels: k in labels)(key))
        else:
            raise bad_request(f"unable to parse requirement: {rest!r}")
        rest = rest[m.end():]
        if rest and not rest.startswith(","):
            raise bad_request(f"invalid label selector: {text!r}")
        rest = rest[1:].strip()

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(req(labels) for req in requirements)
    return matches


# The fields each resource can be selected by (the real server's field label conversions);
# a name maps to its path in the object when they differ.
_OBJECT_FIELDS = {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"}
FIELDS = {
    "pods": {**_OBJECT_FIELDS, "status.phase": "status.phase", "spec.nodeName": "spec.nodeName"},
    "jobs": {**_OBJECT_FIELDS, "status.successful": "status.succeeded"},
    "secrets": {**_OBJECT_FIELDS, "type": "type"},
    "events": {**_OBJECT_FIELDS, "type": "type", "reason": "reason",
               "reportingComponent": "reportingComponent", "source": "source.component",
               **{f"involvedObject.{f}": f"involvedObject.{f}"
                  for f in ("kind", "namespace", "name", "uid", "apiVersion",
                            "resourceVersion", "fieldPath")}},
}


def field_selector(text: str | None, resource: str) -> Predicate:
    """The fields the real server can select ``resource`` by (``=``, ``==``, ``!=``)."""
    known = FIELDS.get(resource, _OBJECT_FIELDS)
    checks: list[tuple[list[str], bool, str]] = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        m = re.match(r"^([\w.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m or m.group(1) not in known:
            raise bad_request(f'field label not supported: "{part}"')
        checks.append((known[m.group(1)].split("."), m.group(2) != "!=", m.group(3)))

    def matches(obj: dict[str, Any]) -> bool:
        for path, equal, value in checks:
            node: Any = obj
            for step in path:
                node = node.get(step, {}) if isinstance(node, dict) else {}
            actual = "" if node is None or isinstance(node, dict) else str(node)
            if (actual == value) != equal:
                return False
        return True
    return matches


def _eq(key: str, value: str) -> Callable[[dict[str, str]], bool]:
    return lambda labels: labels.get(key) == value


def _ne(key: str, value: str) -> Callable[[dict[str, str]], bool]:
    return lambda labels: labels.get(key) != value


def _in(key: str, values: set[str]) -> Callable[[dict[str, str]], bool]:
    return lambda labels: labels.get(key) in values


def _notin(key: str, values: set[str]) -> Callable[[dict[str, str]], bool]:
    return lambda labels: labels.get(key) not in values
