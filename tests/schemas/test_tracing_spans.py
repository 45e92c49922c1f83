"""Spans with OpenTelemetry's SDK and its in-memory exporter: one delivery, followed from the
ingress's HTTP span to the worker's span to the canonical event.

In-process, at the function level: the ingress app (Starlette, a fake producer standing in for
Kafka) takes a signed delivery, and the worker's stage (streams.pipeline.Stage) handles the very
record the ingress produced. Running the processes would need them to export to something the
test can read; the record in between is the same bytes either way, and the trace context on the
real broker is covered by tests/e2e/test_pipeline.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ingress.app import create_app
from ingress.schemes.standard_webhooks import decode_secret, sign
from schemas import canonical, otel, telemetry
from schemas.config import TracingSettings, parse
from streams.pipeline import RawRecord, Stage
from tests.asgi import client_of
from tests.fakes import FakeProducer

SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_795_000_000
BODY = b'{"type": "invoice.paid", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": "inv_1"}}'
SENDER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN_ID = "00f067aa0ba902b7"


@dataclass
class Delivered:
    """What one delivery left behind: its response, spans and canonical record."""

    status: int
    spans: list[ReadableSpan]
    event: canonical.CanonicalEvent | None

    def span(self, kind: SpanKind) -> ReadableSpan:
        (found,) = [s for s in self.spans if s.kind is kind]
        return found


def signed(msg_id: str, secret: str = SECRET_TEXT) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(NOW),
        "webhook-signature": sign(decode_secret(secret), msg_id, NOW, BODY),
        "content-type": "application/json",
    }


async def deliver(headers: dict[str, str], tracing: TracingSettings | None = None) -> Delivered:
    """POST ``headers`` + BODY to an ingress with spans, then hand the record to a worker stage.

    Each process has its own exporter, as it would: a tracer's close shuts its exporter down.
    """
    ingress_spans, worker_spans = InMemorySpanExporter(), InMemorySpanExporter()
    tracing = tracing or TracingSettings(exporter="console")  # replaced by ``exporter``
    settings = parse(
        {
            "topics": {"raw": "t.raw"},
            "sources": [
                {"name": "demo", "provider": "standard-webhooks", "secrets": [SECRET_TEXT]}
            ],
        },
        env={},
    )
    producer = FakeProducer()
    app = create_app(
        settings,
        producer=producer,
        clock=lambda: float(NOW),
        tracer=otel.start(tracing, "ingress", ingress_spans),
    )
    # The end of the app's lifespan (client_of runs it) exports the ingress's spans.
    async with client_of(app, base_url="http://h") as client:
        response = await client.post("/webhooks/demo", content=BODY, headers=headers)
    event = None
    if producer.produced:
        worker = otel.start(tracing, "worker", worker_spans)
        stage = Stage(
            lookup=lambda key: None,
            canonical_topic="t.canonical",
            dead_letter_topic="t.dlq",
            dedup_horizon_s=3600,
            type_prefix="dev.hookgate.",
            tracer=worker,
        )
        produced = producer.produced[0]
        result = stage.handle(
            RawRecord("t.raw", 0, 7, produced.key, produced.value, produced.headers)
        )
        worker.close()
        assert result.output is not None, result
        out = result.output
        event = canonical.decode(out.key, out.value, out.headers)
    spans = [*ingress_spans.get_finished_spans(), *worker_spans.get_finished_spans()]
    return Delivered(response.status_code, spans, event)


def sender_headers(msg_id: str, flags: str = "01") -> dict[str, str]:
    traceparent = f"00-{SENDER_TRACE_ID}-{SENDER_SPAN_ID}-{flags}"
    return {**signed(msg_id), "traceparent": traceparent, "tracestate": "rojo=1"}


async def test_the_worker_span_is_a_child_of_the_ingress_span() -> None:
    delivered = await deliver(sender_headers("msg_1"))
    ingress = delivered.span(SpanKind.SERVER)
    worker = delivered.span(SpanKind.CONSUMER)
    assert worker.parent is not None
    assert worker.parent.span_id == ingress.context.span_id
    assert worker.context.trace_id == ingress.context.trace_id


async def test_the_ingress_span_is_a_child_of_the_senders_traceparent() -> None:
    ingress = (await deliver(sender_headers("msg_1"))).span(SpanKind.SERVER)
    assert ingress.parent is not None
    assert ingress.parent.is_remote
    assert f"{ingress.parent.span_id:016x}" == SENDER_SPAN_ID
    assert f"{ingress.context.trace_id:032x}" == SENDER_TRACE_ID


async def test_the_canonical_event_names_the_worker_span_as_its_parent() -> None:
    delivered = await deliver(sender_headers("msg_1"))
    worker = delivered.span(SpanKind.CONSUMER)
    assert delivered.event is not None
    trace = canonical.trace_of(delivered.event)
    assert trace is not None
    assert (trace.trace_id, trace.parent_id) == (SENDER_TRACE_ID, f"{worker.context.span_id:016x}")
    assert trace.state == "rojo=1"


async def test_without_a_senders_traceparent_the_ingress_span_starts_the_trace() -> None:
    delivered = await deliver(signed("msg_1"))
    ingress = delivered.span(SpanKind.SERVER)
    assert ingress.parent is None
    assert delivered.span(SpanKind.CONSUMER).context.trace_id == ingress.context.trace_id


async def test_spans_name_their_service_role() -> None:
    delivered = await deliver(signed("msg_1"), TracingSettings(service_name="hooks"))
    names = {
        kind: delivered.span(kind).resource.attributes["service.name"]
        for kind in (SpanKind.SERVER, SpanKind.CONSUMER)
    }
    assert names == {SpanKind.SERVER: "hooks-ingress", SpanKind.CONSUMER: "hooks-worker"}


async def test_the_worker_span_records_the_outcome() -> None:
    worker = (await deliver(signed("msg_1"))).span(SpanKind.CONSUMER)
    assert worker.attributes is not None
    assert worker.attributes["hookgate.outcome"] == "emitted"


async def test_a_refused_delivery_is_a_failed_ingress_span() -> None:
    delivered = await deliver(signed("msg_1", secret="whsec_" + "A" * 32))
    assert delivered.status == 401
    assert delivered.span(SpanKind.SERVER).status.status_code is StatusCode.ERROR


async def test_a_sender_that_did_not_sample_gets_no_spans_but_keeps_its_trace() -> None:
    delivered = await deliver(sender_headers("msg_1", flags="00"))
    assert delivered.spans == []
    assert delivered.event is not None
    trace = canonical.trace_of(delivered.event)
    assert trace is not None
    assert trace.trace_id == SENDER_TRACE_ID


async def test_a_sample_ratio_of_zero_records_no_new_trace() -> None:
    delivered = await deliver(signed("msg_1"), TracingSettings(sample_ratio=0.0))
    assert delivered.spans == []
    assert delivered.event is not None
    assert canonical.trace_of(delivered.event) is not None


def test_no_tracer_is_started_by_default() -> None:
    assert telemetry.start(parse({}, env={}).tracing, "ingress") is None
