"""The OpenTelemetry implementation of :mod:`schemas.telemetry` (the ``hookgate[otel]`` extra).

One ``TracerProvider`` per process, with ``service.name`` ``{service_name}-{role}``, a
parent-based ratio sampler (a delivery's own ``traceparent`` decides by its sampled flag) and a
batch processor in front of the configured exporter. Parents are W3C contexts taken from HTTP
headers or Kafka record headers, so spans join the trace the delivery came with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from schemas.config import TracingSettings
from schemas.telemetry import Attribute, SpanKind
from schemas.tracecontext import TraceContext

_KINDS = {"server": trace.SpanKind.SERVER, "consumer": trace.SpanKind.CONSUMER}


class OtelSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    @property
    def context(self) -> TraceContext:
        ctx = self._span.get_span_context()
        return TraceContext(
            f"{ctx.trace_id:032x}",
            f"{ctx.span_id:016x}",
            int(ctx.trace_flags),
            ctx.trace_state.to_header(),
        )

    def set_attribute(self, name: str, value: Attribute) -> None:
        self._span.set_attribute(name, value)


class OtelTracer:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("hookgate")

    @contextmanager
    def span(
        self,
        name: str,
        parent: TraceContext | None,
        *,
        kind: SpanKind,
        attributes: Mapping[str, Attribute],
    ) -> Iterator[OtelSpan]:
        with self._tracer.start_as_current_span(
            name, context=_remote(parent), kind=_KINDS[kind], attributes=dict(attributes)
        ) as span:
            yield OtelSpan(span)

    def close(self) -> None:
        self.provider.shutdown()


def start(settings: TracingSettings, role: str, exporter: SpanExporter | None = None) -> OtelTracer:
    """A tracer exporting as ``settings`` say, or to ``exporter`` when given (tests)."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{settings.service_name}-{role}"}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter or _exporter(settings)))
    return OtelTracer(provider)


def _exporter(settings: TracingSettings) -> SpanExporter:
    if settings.exporter == "console":
        # One JSON line per span, like the processes' logs.
        return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.endpoint)


def _remote(parent: TraceContext | None) -> Context | None:
    if parent is None:
        return None
    remote = trace.SpanContext(
        trace_id=int(parent.trace_id, 16),
        span_id=int(parent.parent_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(parent.flags),
        trace_state=trace.TraceState.from_header([parent.state]) if parent.state else None,
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(remote))
