"""The one stage of the worker: raw record -> de-duplicated canonical event (or dead letter).

Per raw record, in order: decode the raw-delivery format, apply the de-duplication rule
(:mod:`streams.dedup`), normalize (:mod:`streams.normalizers`), encode. A record that fails any
step becomes a dead letter with the reason; the stream never stops for one record.

The stage decides and builds, it does not write: it returns what to send and what to store,
and the runner (:mod:`streams.runner`) writes both in the delivery guarantee's way. That keeps
every decision a plain function call, testable without Kafka or Faust.

The canonical event carries the raw record's trace context (``ce_traceparent``). With spans
exported, each record is handled in a consumer span, child of the raw record's context (the
ingress's span), and the event carries that span's context instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from schemas import canonical, tracecontext
from schemas import raw as raw_format
from schemas.deadletter import DeadLetter
from schemas.frozen import frozen
from schemas.telemetry import Tracer
from schemas.tracecontext import TraceContext
from streams.dedup import Decision, Seen, decide
from streams.errors import NormalizationFailed, StreamError, UndecodableRecord
from streams.normalizers import normalizer

log = logging.getLogger("hookgate.streams")


@frozen
class RawRecord:
    """The parts of a consumed Kafka record the stage needs (Faust-independent, for tests)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@frozen
class Output:
    """One record to write: a canonical event or a dead letter."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    #: A dead letter is never dead-lettered again: if Kafka refuses it, the worker stops.
    dead_letter: bool = False


@frozen
class Result:
    #: ``emitted``, ``reemitted`` (replay), ``duplicate`` (dropped), ``dead_lettered``, or
    #: ``past_replay_end`` (read again, not re-emitted: ``hookgate replay --to``).
    outcome: str
    #: What to write; ``None`` for a dropped duplicate.
    output: Output | None
    #: The de-duplication entry to store (key, state), when the record is emitted.
    state: tuple[bytes, Seen] | None = None
    #: Source name, for the per-source duplicate count.
    source: str = ""
    #: The dead letter's reason code, when the record is dead-lettered.
    reason: str = ""


class Stage:
    def __init__(
        self,
        *,
        lookup: Callable[[bytes], object],
        canonical_topic: str,
        dead_letter_topic: str,
        dedup_horizon_s: int,
        type_prefix: str,
        replay_fence: Mapping[int, range] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._lookup = lookup
        self._tracer = tracer
        self._type_prefix = type_prefix
        # Per partition, the offsets a `hookgate replay --to` left out of the replay.
        self._replay_fence = replay_fence or {}
        self._canonical_topic = canonical_topic
        self._dead_letter_topic = dead_letter_topic
        self._horizon_ms = dedup_horizon_s * 1000

    def handle(self, record: RawRecord) -> Result:
        if self._tracer is None:
            return self._handle(record, None)
        with self._tracer.span(
            "normalize",
            _trace_of(record),
            kind="consumer",
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ) as span:
            result = self._handle(record, span.context)
            span.set_attribute("hookgate.outcome", result.outcome)
            if result.reason:
                span.set_attribute("hookgate.dead_letter_reason", result.reason)
            return result

    def _handle(self, record: RawRecord, span: TraceContext | None) -> Result:
        """``span``: the worker span's context, when spans are exported."""
        try:
            delivery = _decode(record)
            if record.key is None:
                raise UndecodableRecord("raw record has no key")
            current = Seen(record.partition, record.offset, delivery.received_at_ms)
            decision = decide(Seen.from_json(self._lookup(record.key)), current, self._horizon_ms)
            if decision is Decision.DROP_DUPLICATE:
                return Result("duplicate", None, source=delivery.source)
            if decision is Decision.REEMIT and record.offset in self._replay_fence.get(
                record.partition, range(0)
            ):
                return Result("past_replay_end", None, source=delivery.source)
            event = normalizer(delivery.provider)(delivery)
            # Encoded here, inside the try: an event that cannot be written is a dead letter.
            key, value, headers = canonical.encode(
                event,
                type_prefix=self._type_prefix,
                origin=canonical.RawOrigin(record.topic, record.partition, record.offset),
                replay=decision is Decision.REEMIT,
                trace=span or delivery.trace,
            )
            output = Output(self._canonical_topic, key, value, headers)
        except StreamError as error:
            return self.dead_letter(record, error)
        except Exception as unexpected:
            # A bug or an input no normalizer foresaw: dead-letter it, never stop the stream.
            failure = NormalizationFailed(f"unexpected {type(unexpected).__name__}: {unexpected}")
            return self.dead_letter(record, failure)
        if decision is Decision.REEMIT:
            # The stored entry already names this record: nothing new to store.
            return Result("reemitted", output, source=delivery.source)
        # Stored only with an emit: a dead-lettered event, redriven after a fix, must not be
        # dropped as a duplicate of itself.
        return Result("emitted", output, state=(record.key, current), source=delivery.source)

    def dead_letter(self, record: RawRecord, error: StreamError) -> Result:
        letter = DeadLetter(
            reason=error.reason,
            error=str(error),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            at_ms=int(time.time() * 1000),
        )
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            error.reason,
            error,
        )
        output = Output(
            self._dead_letter_topic,
            record.key,
            record.value if record.value is not None else b"",
            letter.headers(record.headers),
            dead_letter=True,
        )
        return Result("dead_lettered", output, reason=error.reason)


def _trace_of(record: RawRecord) -> TraceContext | None:
    # Before decoding: a record that cannot be decoded is still traced, as its dead letter.
    found: dict[str, str] = {}
    for name, value in record.headers:
        if value is not None and name in (
            raw_format.Header.TRACEPARENT,
            raw_format.Header.TRACESTATE,
        ):
            found[name] = value.decode(errors="replace")
    return tracecontext.parse(
        found.get(raw_format.Header.TRACEPARENT), found.get(raw_format.Header.TRACESTATE)
    )


def _decode(record: RawRecord) -> raw_format.RawDelivery:
    try:
        return raw_format.decode(record.key, record.value, record.headers)
    except raw_format.RawRecordError as exc:
        raise UndecodableRecord(str(exc)) from None
