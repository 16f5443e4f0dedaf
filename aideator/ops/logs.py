"""Every line the server process writes: one JSON object per line for log pipelines, or
readable text on a terminal, each with the request id and, where there is one, the run,
variation and job it concerns. Secrets and tokens are taken out of every line.

Set up once per process. gunicorn's master applies :func:`logconfig` (``logconfig_dict``
in gunicorn.conf.py), so its own messages and the access log share the formatter, and its
workers inherit it; :func:`setup` covers any other process (``create_app`` calls it).

Ids travel in context variables: :class:`RequestIds` sets a request's id for the greenlet
serving it, :func:`bind` adds a run's ids for the greenlet working on it. Collectors start
in a copy of the submitting request's context, so their lines also carry the id of the
request that started the run. This module imports nothing of the service: the master
imports it before forking.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import sys
import uuid
from typing import Any, Callable, Mapping

from werkzeug.wsgi import ClosingIterator

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept when it is short and plain; anything else gets a new one.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
ID_FIELDS = ("run_id", "variation", "job_name")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aideator_request_id", default=None)
_ids: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "aideator_log_ids", default={})

# -- secrets ---------------------------------------------------------------------------------
REDACTED = "[redacted]"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # A signed stream link's token, or any key-like parameter, in a URL or query string.
    (re.compile(r"(^|[?&;])((?:access_)?token|api[_-]?key|key|sig(?:nature)?)=[^&#\s\"']*",
                re.I), r"\1\2=" + REDACTED),
    (re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1" + REDACTED),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]+"), REDACTED),
    (re.compile(r"\baid_[A-Za-z0-9_-]{16,}"), REDACTED),   # our API tokens (aideator.access.auth)
    # A variation's model gateway credential (aideator.gateway.credentials).
    (re.compile(r"\baidg_[A-Za-z0-9_.-]{16,}"), REDACTED),
    # A password in a URL (a database URL in a connection error).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.I), r"\1" + REDACTED + "@"),
]
# The very values of this process's secrets: variables named like one.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|HEADERS)$", re.I)


def _secret_values(environ: Mapping[str, str]) -> list[str]:
    values = {v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= 8}
    return sorted(values, key=len, reverse=True)


_secrets = _secret_values(os.environ)


def redact(text: str) -> str:
    """``text`` without anything that looks like, or is, a secret of this process."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# -- ids -------------------------------------------------------------------------------------
def bind(**ids: Any) -> None:
    """Add ids (``run_id``, ``variation``, ``job_name``) to every line logged from now on
    in the current context (a greenlet's own, or a copy made for it)."""
    _ids.set({**_ids.get(), **ids})


def request_id() -> str | None:
    return _request_id.get()


class RequestIds:
    """WSGI middleware: each request gets an id (the caller's ``X-Request-ID`` when it is
    short and plain, else a new one), set for the greenlet serving it until its response
    is closed (a streamed body runs there too, and so does gunicorn's access line) and
    returned in the response."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        rid = environ.get("HTTP_X_REQUEST_ID") or ""
        if not _VALID_REQUEST_ID.fullmatch(rid):
            rid = uuid.uuid4().hex
        _request_id.set(rid)
        _ids.set({})   # a kept-alive connection: nothing of its previous request

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, rid))
            return start_response(status, headers, exc_info)

        return ClosingIterator(self._app(environ, start), _forget_request)


def _forget_request() -> None:
    _request_id.set(None)
    _ids.set({})


def init_app(app: Any) -> None:
    app.wsgi_app = RequestIds(app.wsgi_app)


# -- formatting ------------------------------------------------------------------------------
def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


_RUN_IN_PATH = re.compile(r"/runs/(run-[a-z0-9]{10})(?:/|$)")


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """An access line's facts, from gunicorn's atoms: the path without its query, the
    query with its secrets taken out; never the raw request line (it carries the query)."""
    path, query = atoms.get("U") or "", atoms.get("q") or ""
    micros = _number(atoms.get("D"))
    fields = {"method": atoms.get("m"), "path": path, "query": redact(query) or None,
              "status": _number(atoms.get("s")), "bytes": _number(atoms.get("B")),
              "duration_ms": None if micros is None else round(micros / 1000, 3),
              "remote_addr": atoms.get("h"), "user_agent": atoms.get("a"),
              "request_id": atoms.get("{x-request-id}o")}
    run = _RUN_IN_PATH.search(path)
    if run:
        fields["run_id"] = run.group(1)
    return fields


def _is_access(record: logging.LogRecord) -> bool:
    return record.name == "gunicorn.access" and isinstance(record.args, Mapping)


class _Formatter(logging.Formatter):
    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name, "message": "",
            "request_id": _request_id.get(), **_ids.get()}
        for name in ID_FIELDS:
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        if _is_access(record):
            access = _access_fields(record.args)  # type: ignore[arg-type]
            entry.update(access)
            query = f"?{access['query']}" if access["query"] else ""
            entry["message"] = f"{access['method']} {access['path']}{query} {access['status']}"
        else:
            entry["message"] = redact(record.getMessage())
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["exception"] = redact(self.formatStack(record.stack_info))
        return entry


class JsonFormatter(_Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the run's ids,
    an access line's HTTP facts, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = self.fields(record)
        entry["pid"] = record.process
        return json.dumps(entry, default=str)


class TextFormatter(_Formatter):
    """For people at a terminal: time, level, logger, message, then the ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry = self.fields(record)
        ids = " ".join(f"{k}={entry[k]}" for k in ("request_id", *ID_FIELDS)
                       if entry.get(k) is not None)
        extra = ""
        if _is_access(record):
            extra = f" {entry['bytes'] or 0}B {(entry['duration_ms'] or 0) / 1000:.3f}s"
        line = (f"{entry['time']} {entry['level'].upper():7} {entry['logger']}: "
                f"{entry['message']}{extra}" + (f"  [{ids}]" if ids else ""))
        return line + ("\n" + entry["exception"] if "exception" in entry else "")


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is written."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def resolve_format(fmt: str) -> str:
    """``json`` or ``text``; unset: text when stdout is a terminal, else json."""
    if fmt:
        return fmt
    try:
        return "text" if sys.stdout.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def formatter(fmt: str) -> logging.Formatter:
    return TextFormatter() if resolve_format(fmt) == "text" else JsonFormatter()


def logconfig(fmt: str = "", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for gunicorn (its ``logconfig_dict``): the root
    logger, gunicorn's own messages and its access log, all through one formatter."""
    level = level.upper()
    handlers = ["aideator"]
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"aideator": {"()": formatter, "fmt": fmt}},
        "handlers": {"aideator": {"()": StdoutHandler, "formatter": "aideator"}},
        "root": {"level": level, "handlers": handlers},
        "loggers": {"gunicorn.error": {"level": level, "handlers": handlers,
                                       "propagate": False},
                    "gunicorn.access": {"level": level, "handlers": handlers,
                                        "propagate": False}}}


def setup(fmt: str = "", level: str = "info") -> None:
    """Log this way in this process, unless logging is configured already: by gunicorn's
    master (with this module), or by a host such as a test runner (its handlers stay)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = StdoutHandler()
        handler.setFormatter(formatter(fmt))
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    _log_greenlet_failures()


def _log_greenlet_failures() -> None:
    """gevent prints a greenlet's uncaught exception to stderr itself: log it instead."""
    if "gevent" not in sys.modules:
        return
    import gevent
    failures = logging.getLogger("gevent")

    def log_failure(context: Any, kind: type, value: BaseException, tb: Any) -> None:
        failures.error("%s failed with %s", repr(context)[:300], kind.__name__,
                       exc_info=(kind, value, tb))

    gevent.get_hub().print_exception = log_failure
