"""A variation's change as a ``git format-patch`` mail: what a person downloads and applies
with ``git am``, and what a pull request is made of (its commit, title and body).

Built here, in Python, from what the store holds (the agent's diff, the base commit, the
metered usage): no git runs and no user text goes near a shell. The prompt is user text:
its first line becomes the subject (RFC 2047-encoded when not ASCII) and the rest is
quoted in the body with an indent, so no line of it can look like the end of the message
(``---``, ``diff -``) or the start of another one (``From ``) to ``git mailinfo``.
Mails put one after another (:func:`series`) are what ``git am`` applies as several
commits: a run iterating on another gives its ancestors' changes first.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from dataclasses import dataclass
from email.header import Header
from typing import Any, Iterable, Mapping, Sequence

from ..version import __version__

AUTHOR = "AIdeator <aideator@noreply.invalid>"
# format-patch's first line names the commit; this change has none of its own yet.
NO_COMMIT = "0" * 40
SUBJECT_MAX = 72
_BINARY_WITHOUT_DATA = re.compile(r"^Binary files .* differ$", re.MULTILINE)


class NotExpressible(Exception):
    """The variation's change cannot be made into a patch (a 409 for the caller)."""


@dataclass(frozen=True)
class Parent:
    """The run and variation a change was made on top of (a run iterating on another)."""
    run_id: str
    variation: int
    link: str | None = None


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str      # the message: run, variation, engine, model, cost, checks, prompt
    text: str      # the whole mail


def subject_of(prompt: str, prefix: str = "") -> str:
    """``prefix`` and the prompt's first non-blank line, on one line, cut to a commit
    subject's length."""
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "")
    first = " ".join((prefix + (first or "Change made by AIdeator")).split())
    if len(first) > SUBJECT_MAX:
        first = first[:SUBJECT_MAX - 1].rstrip() + "…"
    return first


def _header(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8", maxlinelen=998).encode()


def _cost(usage: Mapping[str, Any]) -> str:
    tokens = sum(int(usage.get(k) or 0) for k in ("input_tokens", "output_tokens",
                                                   "cache_creation_input_tokens",
                                                   "cache_read_input_tokens"))
    text = (f"${float(usage.get('cost_usd') or 0):.4f} ({int(usage.get('calls') or 0)} "
            f"model call(s), {tokens:,} tokens)")
    if usage.get("unpriced_calls"):
        text += f", {usage['unpriced_calls']} call(s) of a model with no known price"
    return text


def _check_lines(checks: Any) -> list[str]:
    """Check results, whatever shape they come in (a list, or a mapping by name)."""
    if not checks:
        return []
    items: Iterable[Any] = (checks.items() if isinstance(checks, Mapping)
                            else enumerate(checks) if isinstance(checks, list) else [])
    lines = ["Checks:"]
    for key, check in items:
        if isinstance(check, Mapping):
            name = check.get("name") or key
            status = check.get("status") or check.get("outcome") or check.get("result")
            if status is None and "passed" in check:
                status = "passed" if check["passed"] else "failed"
            lines.append(f"  {_one_line(str(name))}: {_one_line(str(status))}")
        else:
            lines.append(f"  {_one_line(str(key))}: {_one_line(json.dumps(check))}")
    return lines


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def body_of(*, run_id: str, variation: int, engine: str, model: str | None,
            usage: Mapping[str, Any], checks: Any, prompt: str,
            base_commit: str | None, link: str | None = None,
            builds_on: Parent | None = None) -> str:
    lines = [f"Made by AIdeator: run {run_id}, variation {variation}.", "",
             f"Engine: {_one_line(engine)}", f"Model: {_one_line(model or 'default')}",
             f"Metered cost: {_cost(usage)}"]
    if base_commit:
        lines.append(f"Base commit: {base_commit}")
    lines += _check_lines(checks)
    if link:
        lines.append(f"Run: {link}")
    if builds_on is not None:
        lines.append(f"Builds on: run {builds_on.run_id}, variation {builds_on.variation} "
                     "(the commit before this one)")
        if builds_on.link:
            lines.append(f"Parent run: {builds_on.link}")
    lines += ["", "Prompt:"]
    lines += ["    " + line.rstrip() for line in prompt.replace("\r\n", "\n")
              .replace("\r", "\n").split("\n")]
    return "\n".join(lines).rstrip() + "\n"


def diff_of(diff: Mapping[str, Any] | None, status: str) -> str:
    """The variation's unified diff, if a patch can carry it; else NotExpressible."""
    if diff is None:
        raise NotExpressible(f"the variation has reported no diff (status: {status})")
    if diff.get("truncated"):
        raise NotExpressible(
            f"the variation's diff was cut at its size limit ({diff.get('bytes')} bytes in "
            f"all): a patch of part of it would not apply")
    patch = diff.get("patch") or ""
    if not patch.strip():
        raise NotExpressible("the variation changed nothing: there is no patch to make")
    if _BINARY_WITHOUT_DATA.search(patch):
        raise NotExpressible("the variation's diff names a binary change without its "
                             "content (an agent older than binary diffs reported it)")
    return patch if patch.endswith("\n") else patch + "\n"


def build(*, run_id: str, variation: int, prompt: str, config: Mapping[str, Any],
          diff: Mapping[str, Any] | None, status: str, usage: Mapping[str, Any],
          checks: Any = None, base_commit: str | None = None,
          date: dt.datetime | None = None, link: str | None = None,
          builds_on: Parent | None = None, subject_prefix: str = "",
          number: tuple[int, int] | None = None) -> Mail:
    """The mail of one variation's change; NotExpressible if it has none to give.
    ``number`` (i, n): the i-th mail of a series of n."""
    patch = diff_of(diff, status)
    subject = subject_of(prompt, subject_prefix)
    body = body_of(run_id=run_id, variation=variation,
                   engine=str(config.get("engine") or "claude-code"),
                   model=config.get("model"), usage=usage, checks=checks, prompt=prompt,
                   base_commit=base_commit, link=link, builds_on=builds_on)
    return assemble(subject=subject, body=body, patch=patch, date=date, number=number)


def assemble(*, subject: str, body: str, patch: str, date: dt.datetime | None = None,
             number: tuple[int, int] | None = None) -> Mail:
    """One mail around a change (``patch``, as :func:`diff_of` gives it)."""
    when = (date or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    tag = f"[PATCH {number[0]}/{number[1]}]" if number else "[PATCH]"
    text = (f"From {NO_COMMIT} Mon Sep 17 00:00:00 2001\n"
            f"From: {AUTHOR}\n"
            f"Date: {email.utils.format_datetime(when.replace(tzinfo=dt.timezone.utc))}\n"
            f"Subject: {_header(tag + ' ' + subject)}\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "\n"
            f"{body}"
            "---\n"
            f"{patch}"
            "-- \n"
            f"AIdeator {__version__}\n\n")
    return Mail(subject, body, text)


def series(mails: Sequence[Mail]) -> Mail:
    """Mails one after another (an mbox ``git am`` applies in order): the last one's
    subject and body stand for the whole, as a pull request's title and description."""
    return Mail(mails[-1].subject, mails[-1].body, "".join(m.text for m in mails))
