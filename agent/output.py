"""Where every byte the agent prints goes through: protocol lines on stdout, logs on stderr.

One place so that two promises hold everywhere: each stdout line is one valid protocol
object (no NaN, nothing interleaved), and no credential from the environment ever
appears in either stream, whether it comes from us, git, the CLI or an exception text.
"""
from __future__ import annotations

import math
import re
import sys
import threading
from typing import Any, Mapping, TextIO

from . import protocol

# Names whose values are secrets by convention; their values are scrubbed wherever they occur.
# Anchored at the end so that e.g. MAX_THINKING_TOKENS or GIT_CONFIG_KEY_0 are not secrets.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$", re.I)
_SECRET_NAMES = frozenset({"ANTHROPIC_CUSTOM_HEADERS"})
# Secrets shorter than this are too likely to match ordinary text to be worth replacing.
_MIN_SECRET_LEN = 6
# user:password@ in URLs (git mirrors configured through GIT_CONFIG_* may carry them).
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
REDACTED = "[REDACTED]"


def secrets_from(env: Mapping[str, str]) -> list[str]:
    """The values in ``env`` that must never be printed, longest first."""
    found = {value for name, value in env.items()
             if (_SECRET_NAME.search(name) or name in _SECRET_NAMES)
             and len(value) >= _MIN_SECRET_LEN}
    return sorted(found, key=len, reverse=True)


class Scrubber:
    def __init__(self, secrets: list[str]) -> None:
        self._secrets = secrets

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", value)

    def value(self, value: Any) -> Any:
        """A JSON-safe, scrubbed copy: strings scrubbed, non-finite floats become None."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, dict):
            return {str(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        if value is None or isinstance(value, (bool, int)):
            return value
        return self.text(str(value))


class Emitter:
    """Writes protocol lines; thread-safe so stderr relays and the main task can share it."""

    def __init__(self, scrubber: Scrubber, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.scrub = scrubber
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._lock = threading.Lock()

    def emit(self, type_: str, **fields: Any) -> None:
        line = protocol.encode(type_, **self.scrub.value(fields))
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def log(self, message: str) -> None:
        """A human-readable line on stderr (not part of the protocol)."""
        with self._lock:
            self._err.write(self.scrub.text(message.rstrip("\n")) + "\n")
            self._err.flush()


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text, False
    return data[:limit].decode("utf-8", "ignore"), True
