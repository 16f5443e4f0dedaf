"""What the cluster warned about a variation, told once.

A runtime reports a warning (a Kubernetes Warning event on the variation's Job or pod)
each time it sees it: when it repeats (its count grows), when it is listed again after a
watch restarts, when a new owner takes the run over. It is the same warning when it is
about the same object, for the same reason, with the same message; only the first sight
is news (a ``status`` notice in the stream), later ones only bring its count and last
time up to date. The variation's ``warnings`` are stored with it, in the same commit as
the notice, so a restarted or new owner starts from what was already said.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..runtimes.base import WarningEvent

# Distinct warnings kept per variation; past that, one more entry says so.
MAX_WARNINGS = 50
FIELDS = ("reason", "message", "object", "count", "first_seen", "last_seen")
OVERFLOW = {"reason": "TooManyWarnings", "object": "",
            "message": f"more than {MAX_WARNINGS} distinct warnings; later ones are not kept"}


def _key(entry: dict[str, Any]) -> tuple[str, str, str]:
    return entry["object"], entry["reason"], entry["message"]


class Warnings:
    """A variation's warnings so far (as stored), updated by what the runtime reports."""

    def __init__(self, stored: Iterable[dict[str, Any]] | None = None) -> None:
        self._entries: dict[tuple[str, str, str], dict[str, Any]] = {
            _key(entry): dict(entry) for entry in stored or ()}

    def entries(self) -> list[dict[str, Any]]:
        """What to store (and show in the variation's detail), oldest first."""
        return [dict(entry) for entry in self._entries.values()]

    def observe(self, warning: WarningEvent) -> tuple[dict[str, Any] | None, bool]:
        """Take a report in: the entry to tell when it is news (else None), and whether
        what is stored changed (a new entry, or a known one's count or last time)."""
        entry = {field: getattr(warning, field) for field in FIELDS}
        key = _key(entry)
        if key not in self._entries and len(self._entries) >= MAX_WARNINGS:
            entry = {**OVERFLOW, "count": 1, "first_seen": entry["first_seen"],
                     "last_seen": entry["last_seen"]}
            key = _key(entry)
        known = self._entries.get(key)
        if known is None:
            self._entries[key] = entry
            return dict(entry), True
        if key == _key(OVERFLOW):
            return None, False
        before = dict(known)
        known["count"] = max(known.get("count") or 0, entry["count"])
        if (entry["last_seen"] or "") > (known.get("last_seen") or ""):
            known["last_seen"] = entry["last_seen"]
        return None, known != before


def notice(entry: dict[str, Any]) -> str:
    """The status message a new warning is told with."""
    where = f" on {entry['object']}" if entry["object"] else ""
    return f"Warning {entry['reason']}{where}: {entry['message']}"
