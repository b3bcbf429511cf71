"""OpenTelemetry traces: a span per turn, with a child per graph node, search backend call,
LLM call and channel post, each carrying the turn id that the logs carry.

Off by default (then every helper here is a no-op that costs a function call). `pmark serve`
turns it on from the settings (PMARK_OTEL_ENABLED=true): spans go to an OTLP/HTTP receiver (an
OpenTelemetry Collector, or Azure Monitor's OTLP ingestion) at PMARK_OTEL_ENDPOINT or the
standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, or straight to
Application Insights with PMARK_OTEL_EXPORTER=azure_monitor (needs the optional
azure-monitor-opentelemetry-exporter package and APPLICATIONINSIGHTS_CONNECTION_STRING).
The standard OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS apply.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from adapters.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

TURN_ID = "pmark.turn_id"
_turn_id: ContextVar[str | None] = ContextVar("pmark_trace_turn_id", default=None)
_tracer: Tracer | None = None
_provider: TracerProvider | None = None


def enabled() -> bool:
    """Whether spans are being recorded."""
    return _tracer is not None


def install(exporter: SpanExporter, *, service_name: str = "pmark", batch: bool = True) -> None:
    """Record spans from now on and hand them to `exporter` (replaces an earlier setup)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    global _tracer, _provider
    shutdown()
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME, when set, wins.
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource)
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _provider = provider
    _tracer = provider.get_tracer("pmark")


def shutdown() -> None:
    """Send what is buffered and stop recording."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def flush(timeout_ms: int = 5000) -> bool:
    """Send the spans buffered so far; False when the exporter did not finish in time."""
    return _provider.force_flush(timeout_ms) if _provider is not None else True


def configure(settings: Settings) -> bool:
    """Set tracing up as configured; True when it is on."""
    if not settings.otel_enabled or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    kind = settings.otel_exporter
    exporter: SpanExporter
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # No endpoint given: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT itself.
        exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint or None)
    elif kind == "azure_monitor":
        try:
            from azure.monitor.opentelemetry.exporter import (
                AzureMonitorTraceExporter,
            )
        except ImportError as exc:
            raise RuntimeError(
                "PMARK_OTEL_EXPORTER=azure_monitor needs the azure-monitor-opentelemetry-exporter "
                "package; or send OTLP to a collector that forwards to Azure Monitor"
            ) from exc
        exporter = AzureMonitorTraceExporter()  # APPLICATIONINSIGHTS_CONNECTION_STRING
    else:
        raise ValueError(f"unknown PMARK_OTEL_EXPORTER {kind!r} (otlp or azure_monitor)")
    install(exporter, service_name=settings.otel_service_name)
    log.info("OpenTelemetry traces on (%s exporter)", kind)
    return True


def current_turn_id() -> str | None:
    """The turn id of the turn being traced in this task, if any."""
    return _turn_id.get()


def span(name: str, **attributes: Any) -> AbstractContextManager[Span | None]:
    """A child span of the current one, tagged with the current turn id (no-op when off)."""
    if _tracer is None:
        return nullcontext()
    turn_id = _turn_id.get()
    if turn_id is not None:
        attributes[TURN_ID] = turn_id
    return _tracer.start_as_current_span(
        name, attributes={k: v for k, v in attributes.items() if v is not None}
    )


def traced(name: str, **attributes: Any) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator: each call of the function runs in a span `name`."""

    def wrap(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            if _tracer is None:
                return fn(*args, **kwargs)
            with span(name, **attributes):
                return fn(*args, **kwargs)

        return run

    return wrap


def traced_async(
    name: str, **attributes: Any
) -> Callable[[Callable[P, Coroutine[Any, Any, T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Decorator: each call of the coroutine function runs in a span `name`."""

    def wrap(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            with span(name, **attributes):
                return await fn(*args, **kwargs)

        return run

    return wrap


@contextmanager
def turn_span(turn_id: str, **attributes: Any) -> Iterator[None]:
    """The span of one turn; inside one for the same turn id, just that one goes on."""
    if _turn_id.get() == turn_id:
        yield
        return
    token = _turn_id.set(turn_id)
    try:
        with span("pmark.turn", **attributes):
            yield
    finally:
        _turn_id.reset(token)


async def in_turn_span(work: Awaitable[T], turn_id: str, **attributes: Any) -> T:
    """Await `work` inside the turn's span (for a turn handed to a background task)."""
    with turn_span(turn_id, **attributes):
        return await work


def record_error(exc: BaseException) -> None:
    """Mark the current span failed by `exc` (for errors that are handled, not raised)."""
    if _tracer is None:
        return
    current = trace.get_current_span()
    current.record_exception(exc)
    current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
