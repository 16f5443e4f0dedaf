"""OpenTelemetry traces: a span for each request, for each run's submission, for each Job
or process created for a variation, and for the time until a variation's first output.

Off unless the standard ``OTEL_*`` variables ask for an exporter: ``OTEL_TRACES_EXPORTER``
(``otlp``, ``console``; ``none`` keeps it off) or an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``). OTLP goes over
HTTP/protobuf (the exporter the service ships; gRPC only if its package is installed).
The SDK reads the rest itself: ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_HEADERS``... Off, every helper here costs
next to nothing. Configured once per process (after gunicorn forks: the span processor's
thread is the worker's own).

Spans started in a collector greenlet find their parent because collectors run in a copy
of the submitting request's context (:func:`carry`).

No secret leaves in a span: every span passes through :class:`Redacting` on its way to the
exporters, which takes out of its attributes, events and name what ``logs.redact`` takes
out of a log line (a stream link's ``?token=`` in the request's target and URL, bearer and
gateway tokens in error messages).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
from typing import Any, Callable, Iterator, Mapping, TypeVar

from opentelemetry import trace

from ..version import __version__
from .logs import redact

log = logging.getLogger(__name__)

T = TypeVar("T")
# Probes and scrapes would drown the traces worth reading.
DEFAULT_EXCLUDED_URLS = "api/v1/health,api/v1/openapi.json,metrics"

_provider: Any = None
_tracer: trace.Tracer = trace.NoOpTracer()


def enabled() -> bool:
    return _provider is not None


def _exporters(environ: Mapping[str, str]) -> list[Any]:
    """The span exporters the environment asks for (none: tracing stays off)."""
    names = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not names and (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                      or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = "otlp"
    exporters = []
    for name in (n.strip().lower() for n in names.split(",") if n.strip()):
        if name == "none":
            return []
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
            try:
                if protocol == "grpc":
                    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                        OTLPSpanExporter,
                    )
                else:
                    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                        OTLPSpanExporter,
                    )
            except ImportError:
                log.error("OTLP over %s needs its exporter package, which is not "
                          "installed: traces are not exported", protocol)
                continue
            exporters.append(OTLPSpanExporter())
        else:
            log.error("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none)", name)
    return exporters


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on if the environment asks for an exporter; whether it is on."""
    environ = os.environ if environ is None else environ
    if _provider is not None:
        return True
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = _exporters(environ)
    if not exporters:
        return False
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    install(*(BatchSpanProcessor(exporter) for exporter in exporters))
    log.info("tracing on: exporting spans to %s",
             ", ".join(type(e).__name__ for e in exporters))
    return True


def install(*processors: Any) -> None:
    """Trace through these span processors (tests give an in-memory exporter's)."""
    global _provider, _tracer
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    attributes = {"service.version": __version__}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "aideator"
    _provider = TracerProvider(resource=Resource.create(attributes))
    for processor in processors:
        _provider.add_span_processor(Redacting(processor))
    _tracer = _provider.get_tracer("aideator", __version__)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_clean(v) for v in value)
    return value


def _clean_attributes(attributes: Any) -> dict[str, Any]:
    return {key: _clean(value) for key, value in (attributes or {}).items()}


class Redacting:
    """A span processor in front of another (the exporters'): what it hands on is a copy of
    each ended span without secrets. The Flask instrumentation records the raw request
    target, query included, and a request hook cannot undo that (the instrumentation sets
    its attributes again after the hook), so the scrubbing happens here, once, for every
    span whoever made it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self._inner.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:   # the SDK's hook before a span ends
        hook = getattr(self._inner, "_on_ending", None)
        if hook is not None:
            hook(span)

    def on_end(self, span: Any) -> None:
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import Status
        events = [Event(e.name, _clean_attributes(e.attributes), e.timestamp)
                  for e in span.events]
        status = span.status
        if status.description:   # an exception's message
            status = Status(status.status_code, redact(status.description))
        self._inner.on_end(ReadableSpan(
            name=redact(span.name), context=span.context, parent=span.parent,
            resource=span.resource, attributes=_clean_attributes(span.attributes),
            events=events, links=span.links, kind=span.kind, status=status,
            start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope))

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def uninstall() -> None:
    """Tracing off again (tests)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider, _tracer = None, trace.NoOpTracer()


def init_app(app: Any) -> None:
    """A span for each request (the Flask instrumentation), when tracing is on."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    excluded = os.environ.get("OTEL_PYTHON_FLASK_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
    FlaskInstrumentor().instrument_app(app, tracer_provider=_provider,
                                       excluded_urls=excluded)


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span around a block, child of the current one; yields it (None when off)."""
    if _provider is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def traced(name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: each call of the function is a span (see :func:`annotate`)."""
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> T:
            if _provider is None:
                return fn(*args, **kwargs)
            with _tracer.start_as_current_span(name):
                return fn(*args, **kwargs)
        return call
    return decorate


def annotate(**attributes: Any) -> None:
    """Attributes of the current span (nothing when off)."""
    if _provider is not None:
        trace.get_current_span().set_attributes(attributes)


def since(name: str, start: float, **attributes: Any) -> None:
    """A span that began at ``start`` (Unix seconds) and ends now, child of the current
    one: the time until something happened."""
    if _provider is not None:
        _tracer.start_span(name, start_time=int(start * 1e9), attributes=attributes).end()


def carry(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``, to run in a copy of the current context (its span and log ids): a new
    greenlet otherwise starts with an empty one."""
    ctx = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.run(fn, *args, **kwargs)
    return run
