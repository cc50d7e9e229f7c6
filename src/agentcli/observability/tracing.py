"""Spans for the core modules, without importing OpenTelemetry.

``start`` and ``span`` return a ``Span`` that records nothing until ``configure`` installs a
tracer (``_otel.py``), so the session, the tool loop and the middleware trace unconditionally
and pay almost nothing when tracing is off. Attributes are names, ids and counts only: a
caller never passes message content, and an error is recorded as its type, never its text.

A span is made current only around the work it covers (``current``, ``within``), never across
a ``yield``: a generator may be resumed or closed from another task, and a context attached in
one task cannot be detached in another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Literal, Protocol, TypeVar

__all__ = ["Attributes", "Kind", "Span", "Tracer", "enabled", "error_type", "span", "start"]

T = TypeVar("T")

AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue | None]
"""Span attributes; ``None`` values are left out."""

Kind = Literal["internal", "client", "server"]


class Span:
    """A span that records nothing: what every call returns while tracing is off."""

    __slots__ = ()

    def set(self, attributes: Attributes) -> None:
        """Add ``attributes`` (``None`` values are skipped)."""

    def rename(self, name: str) -> None:
        """Give the span its final name (an HTTP request's route is known only once routed)."""

    def fail(self, error_type: str) -> None:
        """Mark the span failed: status ERROR and ``error.type`` (a type or code, never a
        message)."""

    def end(self) -> None:
        """End the span (once)."""

    def current(self) -> AbstractContextManager[None]:
        """Make the span the parent of spans started in the block."""
        return nullcontext()

    def within(self, step: Awaitable[T]) -> Awaitable[T]:
        """``step``, run with the span current (while off: ``step`` itself, no wrapper)."""
        return step


class Tracer(Protocol):
    """What ``configure`` installs: makes spans (the OpenTelemetry one is in ``_otel.py``)."""

    def start(
        self, name: str, attributes: Attributes, kind: Kind, headers: Mapping[str, str] | None
    ) -> Span: ...


NOOP = Span()
_tracer: Tracer | None = None


def install(tracer: Tracer | None) -> None:
    """Use ``tracer`` for every span from now on (``None``: tracing off). For ``_setup``."""
    global _tracer
    _tracer = tracer


def enabled() -> bool:
    """Whether spans are recorded (to skip work that only feeds them)."""
    return _tracer is not None


def start(
    name: str,
    attributes: Attributes | None = None,
    *,
    kind: Kind = "internal",
    headers: Mapping[str, str] | None = None,
) -> Span:
    """A started span, child of the current one, not made current; the caller ends it.
    ``headers``: a request's W3C trace context (``traceparent``), for a server span whose
    parent is the caller's."""
    tracer = _tracer
    if tracer is None:
        return NOOP
    return tracer.start(name, attributes or {}, kind, headers)


@contextmanager
def span(
    name: str, attributes: Attributes | None = None, *, kind: Kind = "internal"
) -> Iterator[Span]:
    """A span that is current for the block and ended after it; an exception that leaves the
    block marks it failed with the exception's type."""
    started = start(name, attributes, kind=kind)
    if started is NOOP:
        yield started
        return
    try:
        with started.current():
            yield started
    except BaseException as exc:
        started.fail(error_type(exc))
        raise
    finally:
        started.end()


def error_type(exc: BaseException) -> str:
    """``error.type`` for ``exc``: its qualified class name (``cancelled`` for cancellation)."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"
