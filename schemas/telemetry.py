"""Spans, when the configuration asks for them (``tracing.exporter``): the interface the ingress
and the worker use, and :func:`start`, which builds it.

The implementation (:mod:`schemas.otel`) needs OpenTelemetry, the ``hookgate[otel]`` extra, and
is imported only when spans are exported: with ``exporter: none`` nothing of OpenTelemetry is
loaded, and the trace context (:mod:`schemas.tracecontext`) travels all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Literal, Protocol

from schemas.config import TracingSettings
from schemas.config_errors import ConfigError
from schemas.tracecontext import TraceContext

Attribute = str | int | float | bool
#: ``server``: the ingress's HTTP request; ``consumer``: the worker's processing of a record.
SpanKind = Literal["server", "consumer"]


class Span(Protocol):
    @property
    def context(self) -> TraceContext:
        """This span's context: what the next hop carries as its parent."""
        ...

    def set_attribute(self, name: str, value: Attribute) -> None: ...


class Tracer(Protocol):
    def span(
        self,
        name: str,
        parent: TraceContext | None,
        *,
        kind: SpanKind,
        attributes: Mapping[str, Attribute],
    ) -> AbstractContextManager[Span]:
        """A span, child of ``parent`` (a remote context) or the root of a new trace; an
        exception leaving it is recorded on it and marks it failed."""
        ...

    def close(self) -> None:
        """Export what is buffered and stop (at process stop)."""
        ...


def start(settings: TracingSettings, role: str) -> Tracer | None:
    """The process's tracer (``role``: ``ingress`` or ``worker``), or ``None`` without export."""
    if settings.exporter == "none":
        return None
    try:
        from schemas import otel

        return otel.start(settings, role)
    except ImportError as exc:
        raise ConfigError(
            "tracing.exporter",
            f"{settings.exporter} needs OpenTelemetry, which is not installed "
            f"(pip install 'hookgate[otel]'): {exc}",
        ) from None
