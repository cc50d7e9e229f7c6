"""Traces over OTLP/HTTP: the OpenTelemetry SDK behind ``tracing.Tracer``.

The provider is ours, not OpenTelemetry's global one, so ``configure`` can replace it (a new
endpoint, a test) and an application's own global provider is left alone. Spans still join
the application's traces: the current span lives in OpenTelemetry's context, whoever made it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._version import __version__
from .tracing import Attributes, Kind, Span

__all__ = ["OTelTracer"]

T = TypeVar("T")

_KINDS = {"internal": SpanKind.INTERNAL, "client": SpanKind.CLIENT, "server": SpanKind.SERVER}


def _present(attributes: Attributes) -> dict[str, str | bool | int | float]:
    return {k: v for k, v in attributes.items() if v is not None}


class OTelTracer:
    """Spans batched and exported to ``endpoint`` (the full traces URL)."""

    def __init__(self, endpoint: str, service_name: str) -> None:
        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        self._tracer = self.provider.get_tracer("agentcli", __version__)

    def start(
        self, name: str, attributes: Attributes, kind: Kind, headers: Mapping[str, str] | None
    ) -> Span:
        parent = extract(headers) if headers is not None else None
        made = self._tracer.start_span(
            name, context=parent, kind=_KINDS[kind], attributes=_present(attributes)
        )
        return _OTelSpan(made)

    def flush(self, timeout: float) -> bool:
        return self.provider.force_flush(int(timeout * 1000))

    def shutdown(self) -> None:
        self.provider.shutdown()


class _OTelSpan(Span):
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, attributes: Attributes) -> None:
        self._span.set_attributes(_present(attributes))

    def rename(self, name: str) -> None:
        self._span.update_name(name)

    def fail(self, error_type: str) -> None:
        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR))

    def end(self) -> None:
        self._span.end()

    @contextmanager
    def current(self) -> Iterator[None]:
        token = otel_context.attach(trace.set_span_in_context(self._span))
        try:
            yield
        finally:
            otel_context.detach(token)

    def within(self, step: Awaitable[T]) -> Awaitable[T]:
        return self._within(step)

    async def _within(self, step: Awaitable[T]) -> T:
        with self.current():
            return await step
