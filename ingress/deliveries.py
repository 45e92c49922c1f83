"""``POST /webhooks/{source}``: verify a delivery, write it to the raw topic, then answer.

The order is the guarantee: the 2xx is sent only after Kafka acknowledged the record, so a
sender that saw success never needs to retry, and one that did not will. Every refusal is an
:class:`~ingress.errors.IngressError` with its status; nothing here answers 500 by design.

The raw record carries the delivery's W3C trace context (:mod:`schemas.tracecontext`): the
sender's ``traceparent`` when it sent a valid one, else a new trace. With spans exported, verify
and produce run in a server span, child of the sender's context, and the record carries that
span's context instead, so the worker's span is its child.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

from ingress import logs
from ingress.body import BodyDeadlines, read_limited
from ingress.errors import BodyTimeout, IngressError, MalformedQuery, UnknownSource
from ingress.limits import InFlight
from ingress.metrics import UNKNOWN_SOURCE, IngressMetrics
from ingress.producer import RawProducer
from ingress.providers import ConfiguredSource
from ingress.schemes.base import Verified
from schemas import tracecontext
from schemas.raw import SourceRecords
from schemas.telemetry import Span, Tracer
from schemas.tracecontext import TraceContext

log = logging.getLogger("hookgate.ingress")

#: Seconds a sender is asked to wait after a 503 (Standard Webhooks senders honour it).
RETRY_AFTER = "5"

Headers = list[tuple[bytes, bytes]]
_JSON: Headers = [(b"content-type", b"application/json")]
_RETRY: Headers = [(b"retry-after", RETRY_AFTER.encode())]
_CLOSE: Headers = [(b"connection", b"close")]


class DeliveryEndpoint:
    """The delivery route as a plain ASGI app: no Starlette ``Request`` or ``Response`` per
    delivery. A profile under load put them (the Request's header and URL objects, the
    Response's header building, its two messages) at ~15 % of a delivery; headers are read once
    from the scope here and the answer's headers are built from constants."""

    def __init__(
        self,
        sources: Mapping[str, ConfiguredSource],
        producer: RawProducer,
        raw_topic: str,
        metrics: IngressMetrics,
        clock: Callable[[], float],
        in_flight: InFlight,
        body_timeout_s: float,
        tracer: Tracer | None = None,
    ) -> None:
        self._sources = sources
        # The raw record's per-source headers, encoded once (schemas.raw.SourceRecords).
        self._records = {
            name: SourceRecords(name, source.provider.name, source.provider.scheme)
            for name, source in sources.items()
        }
        self._producer = producer
        self._raw_topic = raw_topic
        self._metrics = metrics
        self._clock = clock
        self._in_flight = in_flight
        self._body_deadlines = BodyDeadlines(body_timeout_s)
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body, extra = await self.handle(scope, receive)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON, (b"content-length", b"%d" % len(body)), *extra],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def handle(
        self, scope: Scope, receive: Receive, received: bytes | None = None
    ) -> tuple[int, bytes, Headers]:
        """The answer to one delivery: status, JSON body, headers beyond the content's.
        ``received``: the whole body when the server already has it (else read from
        ``receive``; see :func:`ingress.body.read_limited`)."""
        started = time.perf_counter()
        params = scope["path_params"]
        name = params["source"]
        source = self._sources.get(name)
        label = name if source is not None else UNKNOWN_SOURCE
        event_id: str | None = None
        size = 0
        try:
            if source is None:
                raise UnknownSource(f"no source named {name[:64]!r} is configured")
            if "token" in params and not source.provider.path_token:
                raise UnknownSource(f"source {name!r} takes no token in its path")
            _check_query(scope.get("query_string", b""))
            self._in_flight.admit()
            # ASGI gives header names lower-cased; latin-1 as Starlette decodes them. A name
            # sent twice keeps its last value.
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            # The body's bytes count against the in-flight cap until the delivery is answered.
            with self._in_flight.holding() as held:
                try:
                    body = await read_limited(
                        receive,
                        headers.get("content-length"),
                        source.settings.max_body_bytes,
                        held,
                        self._body_deadlines,
                        received,
                    )
                except ClientDisconnect:
                    # The sender is gone; nothing was produced, and it will retry.
                    log.info("client disconnected", extra={"source": label})
                    return 400, b"", []
                size = len(body)
                now = self._clock()
                url = str(Request(scope).url) if source.provider.uses_url else ""
                incoming = _incoming_trace(scope, headers)
                with self._span(name, incoming) as span:
                    verified = await self._verify(source, label, headers, body, now, url)
                    event_id = verified.event_id
                    if verified.reply is not None:
                        # A verified handshake (Slack's url_verification): nothing produced.
                        self._metrics.deliveries.labels(label, "handshake").inc()
                        self._log(label, event_id, 200, started, size, None)
                        return 200, verified.reply, []
                    if span is not None:
                        span.set_attribute("hookgate.event_id", event_id)
                        trace = span.context
                    else:
                        trace = incoming or tracecontext.new()
                    await self._produce(source, name, headers, body, now, verified, trace)
        except IngressError as error:
            self._metrics.deliveries.labels(label, error.reason).inc()
            self._log(label, event_id, error.status, started, size, error)
            answer = orjson.dumps({"error": error.reason, "detail": error.detail})
            return error.status, answer, _headers(error)
        self._metrics.deliveries.labels(label, "accepted").inc()
        self._metrics.secret_matches.labels(label, str(verified.key_index)).inc()
        self._metrics.body_bytes.observe(size)
        self._log(label, event_id, 200, started, size, None)
        return 200, orjson.dumps({"status": "accepted", "event_id": event_id}), []

    async def _verify(
        self,
        source: ConfiguredSource,
        label: str,
        headers: dict[str, str],
        body: bytes,
        now: float,
        url: str,
    ) -> Verified:
        try:
            if source.offload and len(body) > source.inline_max_body:
                # Ed25519 hashes the body per (entry, key): in a thread, the loop keeps
                # serving others meanwhile (small bodies with one key: see inline_max_body).
                return await asyncio.to_thread(source.verifier.verify, headers, body, now, url)
            return source.verifier.verify(headers, body, now, url)
        except IngressError as error:
            self._metrics.verification_failures.labels(label, error.reason).inc()
            raise

    async def _produce(
        self,
        source: ConfiguredSource,
        name: str,
        headers: dict[str, str],
        body: bytes,
        now: float,
        verified: Verified,
        trace: TraceContext,
    ) -> None:
        kept = verified.kept_headers
        if kept is None:
            kept = source.verifier.kept_headers
        records = self._records[name]
        record_headers = records.headers(
            verified.event_id,
            int(now * 1000),
            headers.get("content-type", "application/octet-stream"),
            [(h, headers[h]) for h in kept if h in headers],
            signed_at_ms=None if verified.timestamp is None else verified.timestamp * 1000,
            key_index=verified.key_index,
            dedup_id=verified.dedup_id,
            trace=trace,
        )
        key = records.key(verified.event_id, verified.dedup_id)
        produce_started = time.perf_counter()
        with self._in_flight.producing():
            await self._producer.produce(self._raw_topic, key, body, record_headers)
        self._metrics.produce_seconds.observe(time.perf_counter() - produce_started)

    def _span(
        self, source: str, parent: TraceContext | None
    ) -> AbstractContextManager[Span | None]:
        if self._tracer is None:
            return nullcontext()
        return self._tracer.span(
            "POST /webhooks/{source}",
            parent,
            kind="server",
            attributes={
                "http.request.method": "POST",
                "http.route": "/webhooks/{source}",
                "hookgate.source": source,
                "messaging.destination.name": self._raw_topic,
            },
        )

    def _log(
        self,
        source: str,
        event_id: str | None,
        status: int,
        started: float,
        size: int,
        error: IngressError | None,
    ) -> None:
        fields: dict[str, object] = {
            "source": source,
            "event_id": event_id,
            "status": status,
            "bytes": size,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if error is not None:
            fields["reason"] = error.reason
            fields["detail"] = error.detail
        logs.info(log, "delivery", fields)


def _incoming_trace(scope: Scope, headers: dict[str, str]) -> TraceContext | None:
    # Looked at only when the sender sent one: most do not, and this runs per request.
    if "traceparent" not in headers:
        return None
    parents = _all(scope, b"traceparent")
    if len(parents) != 1:
        return None  # W3C: more than one traceparent is invalid
    state = ",".join(_all(scope, b"tracestate")) if "tracestate" in headers else None
    return tracecontext.parse(parents[0], state)


def _all(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope["headers"] if k == name]


def _headers(error: IngressError) -> Headers:
    if error.retriable:
        return _RETRY
    if isinstance(error, BodyTimeout):
        # The rest of the body may still come; the connection is not worth keeping.
        return _CLOSE
    return []


def _check_query(query: bytes) -> None:
    # Starlette's Request.url decodes the query as UTF-8 and raises UnicodeDecodeError (a 500)
    # whose repr holds the raw bytes, which for some sources include a secret token.
    if query and not query.isascii():
        try:
            query.decode()
        except UnicodeDecodeError:
            raise MalformedQuery("the query string is not valid UTF-8") from None
