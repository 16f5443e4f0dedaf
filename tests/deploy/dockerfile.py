"""Dockerfiles and .dockerignore files read as a builder reads them, for tests that check
or replay them without a container engine.

Covers what our Dockerfiles use: comments and parser directives, line continuations,
stages (``FROM image AS name``, ``FROM stage``), exec (JSON) and shell forms, flags such as
``--chown=``, and ``.dockerignore`` patterns with ``**`` and ``!`` exceptions (the last
matching pattern decides, as in Docker).
"""
from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str          # upper case: FROM, RUN, COPY, ENV, ...
    args: str             # everything after the keyword, continuation lines joined
    line: int             # where it starts in the file (1-based)

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (CMD ["a", "b"]), else None."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value

    def flags_and_operands(self) -> tuple[dict[str, str], list[str]]:
        """``--name=value`` flags before the operands (COPY, ADD), and the operands."""
        words = self.exec_form() or shlex.split(self.args)
        flags: dict[str, str] = {}
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words

    def env_pairs(self) -> dict[str, str]:
        """ENV's variables: ``K=v K2="v 2"``, or the legacy ``K value with spaces``."""
        words = shlex.split(self.args)
        if words and "=" not in words[0]:
            return {words[0]: " ".join(words[1:])}
        return dict(word.split("=", 1) for word in words)

    def shell_commands(self) -> list[list[str]]:
        """A shell-form RUN as its ``&&``-joined commands, each as argv. Anything else the
        shell would do (pipes, redirections, ``;``, ``||``, variables) is refused, so a
        caller never misreads a command it cannot follow."""
        lexer = shlex.shlex(self.args, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands: list[list[str]] = [[]]
        for token in lexer:
            if token == "&&":
                commands.append([])
            elif token and set(token) <= set("();<>|&"):
                raise ValueError(f"line {self.line}: shell operator {token!r} in {self.args!r}")
            else:
                commands[-1].append(token)
        if any("$" in word for command in commands for word in command):
            raise ValueError(f"line {self.line}: shell expansion in {self.args!r}")
        return [command for command in commands if command]


@dataclass
class Stage:
    base: str                          # an image reference, or an earlier stage's name
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def instructions(text: str) -> list[Instruction]:
    """Every instruction of a Dockerfile, in order."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue   # comments (also inside a continuation) and blank lines
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].strip() if continued else stripped)
        if not continued:
            keyword, _, args = " ".join(p for p in pending if p).partition(" ")
            result.append(Instruction(keyword.upper(), args.strip(), start))
            pending = []
    if pending:
        raise ValueError(f"line {start}: the file ends inside a continued instruction")
    return result


def global_args(text: str) -> dict[str, str]:
    """The ARGs before the first FROM and their defaults: what FROM lines may use."""
    found: dict[str, str] = {}
    for ins in instructions(text):
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            found[name.strip()] = default.strip().strip('"')
    return found


def stages(text: str) -> list[Stage]:
    """The build stages, each with its instructions; a FROM's ``${ARG}`` is the default of
    a global ARG (declared before the first FROM, where only ARG may stand)."""
    result: list[Stage] = []
    args = global_args(text)
    for ins in instructions(text):
        if ins.keyword == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", ins.args, re.I)
            assert match, f"line {ins.line}: cannot read FROM {ins.args!r}"
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                          lambda m: args[m.group(1) or m.group(2)], match.group(1))
            result.append(Stage(base=base, name=match.group(2)))
        elif not result and ins.keyword == "ARG":
            continue
        elif not result:
            raise ValueError(f"line {ins.line}: {ins.keyword} before the first FROM")
        else:
            result[-1].instructions.append(ins)
    return result


def build_chain(all_stages: list[Stage], target: str | None = None) -> list[Stage]:
    """The stages a build of ``target`` (default: the last stage) runs, base first."""
    by_name = {s.name: s for s in all_stages if s.name}
    stage = by_name[target] if target else all_stages[-1]
    chain = [stage]
    while chain[0].base in by_name:
        chain.insert(0, by_name[chain[0].base])
    return chain


def base_image(all_stages: list[Stage], target: str | None = None) -> str:
    return build_chain(all_stages, target)[0].base


class DockerIgnore:
    """Which paths of a build context ``.dockerignore`` leaves out."""

    def __init__(self, context: Path) -> None:
        path = context / ".dockerignore"
        lines = path.read_text().splitlines() if path.exists() else []
        self.rules: list[tuple[bool, str]] = []   # (exception, pattern)
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            pattern = line.lstrip("!").strip().strip("/")
            self.rules.append((exception, pattern))

    def ignored(self, path: str) -> bool:
        """``path`` is relative to the context, with forward slashes."""
        path = path.strip("/")
        decision = False
        for exception, pattern in self.rules:
            if self._matches(path, pattern):
                decision = not exception
        return decision

    @staticmethod
    def _matches(path: str, pattern: str) -> bool:
        # A pattern names a file or a folder: a folder takes everything under it along.
        parts = path.split("/")
        candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        patterns = [pattern]
        if pattern.startswith("**/"):
            patterns.append(pattern[3:])   # "**/" also matches no folder at all
        return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)


__all__ = ["DockerIgnore", "Instruction", "Stage", "base_image", "build_chain",
           "instructions", "stages"]
