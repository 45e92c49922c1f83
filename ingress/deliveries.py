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
from ingress.body import BodyDeadlines, check_received, read_limited
from ingress.errors import BodyTimeout, IngressError, MalformedQuery, UnknownSource
from ingress.limits import InFlight
from ingress.metrics import UNKNOWN_SOURCE, IngressMetrics
from ingress.producer import Delivered, RawProducer
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


#: A delivery's answer: status, JSON body, headers beyond content-type and content-length.
Answer = tuple[int, bytes, Headers]
#: Gets a delivery's answer, or the exception a bug raised (answered 500 by the server).
Reply = Callable[[Answer | Exception], None]


class DeliveryEndpoint:
    """The delivery route, two ways, one set of steps:

    - :meth:`respond`: for a request whose body the server already holds. It runs from the
      HTTP parser's callback: the checks, the signature, the raw record and its ``produce()``
      in one call, then the answer from the record's delivery report. No task, no coroutine:
      a task and the coroutines under it (five deep) were the largest part of a delivery the
      profile under load could still name (BENCHMARKS.md).
    - :meth:`handle` (and ``__call__``, plain ASGI): everything else; a body still arriving,
      a signature checked in a thread, a span around the delivery.

    No Starlette ``Request`` or ``Response`` per delivery: headers are read once from the
    scope and the answer's headers are built from constants.
    """

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

    def respond(self, scope: Scope, body: bytes, reply: Reply) -> bool:
        """Answer the delivery of ``scope`` whose whole ``body`` is here: ``reply`` gets the
        answer, now (a refusal) or from the record's delivery report. Returns False, having
        done nothing, when the delivery needs :meth:`handle`: spans are exported, or its source
        checks a body this large in a thread."""
        source = self._sources.get(scope["path_params"]["source"])
        if self._tracer is not None or (source is not None and source.in_thread(len(body))):
            return False
        delivery = _Delivery(scope, source)
        held = self._in_flight.holding()
        try:
            source, headers = self._admit(scope, delivery)
            body = check_received(
                headers.get("content-length"), source.settings.max_body_bytes, held, body
            )
            delivery.size = len(body)
            now = self._clock()
            verified = self._verify(delivery, source, headers, body, now, _url(scope, source))
            delivery.event_id = verified.event_id
            if verified.reply is not None:
                held.release()
                reply(self._handshake(delivery, verified.reply))
                return True
            trace = _incoming_trace(scope, headers) or tracecontext.new()

            def done(outcome: Delivered | IngressError) -> None:
                held.release()
                try:
                    answer = (
                        self._refused(delivery, outcome)
                        if isinstance(outcome, IngressError)
                        else self._accepted(delivery, verified)
                    )
                except Exception as exc:
                    reply(exc)
                    return
                reply(answer)

            self._submit(source, delivery.name, headers, body, now, verified, trace, done)
        except IngressError as error:
            held.release()
            reply(self._refused(delivery, error))
        except BaseException:
            held.release()
            raise
        return True

    async def handle(self, scope: Scope, receive: Receive, received: bytes | None = None) -> Answer:
        """The answer to one delivery: status, JSON body, headers beyond the content's.
        ``received``: the whole body when the server already has it (else read from
        ``receive``; see :func:`ingress.body.read_limited`)."""
        delivery = _Delivery(scope, self._sources.get(scope["path_params"]["source"]))
        try:
            source, headers = self._admit(scope, delivery)
            declared = headers.get("content-length")
            limit = source.settings.max_body_bytes
            # The body's bytes count against the in-flight cap until the delivery is answered.
            with self._in_flight.holding() as held:
                if received is not None:
                    body = check_received(declared, limit, held, received)
                else:
                    try:
                        body = await read_limited(
                            receive, declared, limit, held, self._body_deadlines
                        )
                    except ClientDisconnect:
                        # The sender is gone; nothing was produced, and it will retry.
                        log.info("client disconnected", extra={"source": delivery.label})
                        return 400, b"", []
                delivery.size = len(body)
                now = self._clock()
                url = _url(scope, source)
                incoming = _incoming_trace(scope, headers)
                with self._span(delivery.name, incoming) as span:
                    if source.in_thread(len(body)):
                        # Ed25519 hashes the body per (entry, key): in a thread, the loop
                        # keeps serving others meanwhile (small bodies with one key: see
                        # inline_max_body).
                        verified = await asyncio.to_thread(
                            self._verify, delivery, source, headers, body, now, url
                        )
                    else:
                        verified = self._verify(delivery, source, headers, body, now, url)
                    delivery.event_id = verified.event_id
                    if verified.reply is not None:
                        return self._handshake(delivery, verified.reply)
                    if span is not None:
                        span.set_attribute("hookgate.event_id", verified.event_id)
                        trace = span.context
                    else:
                        trace = incoming or tracecontext.new()
                    acked: asyncio.Future[Delivered | IngressError] = (
                        asyncio.get_running_loop().create_future()
                    )

                    def done(outcome: Delivered | IngressError) -> None:
                        if not acked.done():  # not when this request was cancelled
                            acked.set_result(outcome)

                    self._submit(source, delivery.name, headers, body, now, verified, trace, done)
                    outcome: Delivered | IngressError | None = await acked
                    if isinstance(outcome, IngressError):
                        # Not raised from a local that stays: its traceback holds this frame,
                        # a reference cycle per refusal (the except clause deletes ``error``).
                        error, outcome = outcome, None
                        raise error
        except IngressError as error:
            return self._refused(delivery, error)
        return self._accepted(delivery, verified)

    # --- the steps both ways share -----------------------------------------------------------

    def _admit(self, scope: Scope, delivery: _Delivery) -> tuple[ConfiguredSource, dict[str, str]]:
        """The delivery's source and headers, or the refusal before its body counts."""
        source = delivery.source
        if source is None:
            raise UnknownSource(f"no source named {delivery.name[:64]!r} is configured")
        if "token" in scope["path_params"] and not source.provider.path_token:
            raise UnknownSource(f"source {delivery.name!r} takes no token in its path")
        _check_query(scope.get("query_string", b""))
        self._in_flight.admit()
        # ASGI gives header names lower-cased; latin-1 as Starlette decodes them. A name sent
        # twice keeps its last value.
        return source, {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}

    def _verify(
        self,
        delivery: _Delivery,
        source: ConfiguredSource,
        headers: dict[str, str],
        body: bytes,
        now: float,
        url: str,
    ) -> Verified:
        try:
            return source.verifier.verify(headers, body, now, url)
        except IngressError as error:
            self._metrics.verification_failures.labels(delivery.label, error.reason).inc()
            raise

    def _submit(
        self,
        source: ConfiguredSource,
        name: str,
        headers: dict[str, str],
        body: bytes,
        now: float,
        verified: Verified,
        trace: TraceContext,
        done: Callable[[Delivered | IngressError], None],
    ) -> None:
        """Queue the raw record; ``done`` gets what became of it (see RawProducer.submit)."""
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
        in_flight = self._in_flight
        produce_seconds = self._metrics.produce_seconds
        produce_started = time.perf_counter()

        def acked(outcome: Delivered | IngressError) -> None:
            in_flight.produces -= 1
            if not isinstance(outcome, IngressError):
                produce_seconds.observe(time.perf_counter() - produce_started)
            done(outcome)

        # Counted until the broker answers: admit() sheds deliveries past max_produces.
        in_flight.produces += 1
        try:
            self._producer.submit(self._raw_topic, key, body, record_headers, acked)
        except BaseException:
            in_flight.produces -= 1
            raise

    def _accepted(self, delivery: _Delivery, verified: Verified) -> Answer:
        label = delivery.label
        metrics = self._metrics
        metrics.deliveries.labels(label, "accepted").inc()
        metrics.secret_matches.labels(label, str(verified.key_index)).inc()
        metrics.body_bytes.observe(delivery.size)
        self._log(delivery, 200, None)
        return 200, orjson.dumps({"status": "accepted", "event_id": delivery.event_id}), []

    def _handshake(self, delivery: _Delivery, reply: bytes) -> Answer:
        # A verified handshake (Slack's url_verification): nothing produced.
        self._metrics.deliveries.labels(delivery.label, "handshake").inc()
        self._log(delivery, 200, None)
        return 200, reply, []

    def _refused(self, delivery: _Delivery, error: IngressError) -> Answer:
        self._metrics.deliveries.labels(delivery.label, error.reason).inc()
        self._log(delivery, error.status, error)
        answer = orjson.dumps({"error": error.reason, "detail": error.detail})
        return error.status, answer, _headers(error)

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

    def _log(self, delivery: _Delivery, status: int, error: IngressError | None) -> None:
        fields: dict[str, object] = {
            "source": delivery.label,
            "event_id": delivery.event_id,
            "status": status,
            "bytes": delivery.size,
            "duration_ms": round((time.perf_counter() - delivery.started) * 1000, 2),
        }
        if error is not None:
            fields["reason"] = error.reason
            fields["detail"] = error.detail
        logs.info(log, "delivery", fields)


class _Delivery:
    """What one delivery's answer and log line need, gathered as it goes."""

    __slots__ = ("event_id", "label", "name", "size", "source", "started")

    def __init__(self, scope: Scope, source: ConfiguredSource | None) -> None:
        self.started = time.perf_counter()
        self.name: str = scope["path_params"]["source"]
        self.source = source
        self.label = self.name if source is not None else UNKNOWN_SOURCE
        self.event_id: str | None = None
        self.size = 0


def _url(scope: Scope, source: ConfiguredSource) -> str:
    # Only the sources that sign the URL (Twilio) need it.
    return str(Request(scope).url) if source.provider.uses_url else ""


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
