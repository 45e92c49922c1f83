"""The one stage of the worker: raw record -> de-duplicated canonical event (or dead letter).

Per raw record, in order: decode the raw-delivery format, apply the de-duplication rule
(:mod:`streams.dedup`), normalize (:mod:`streams.normalizers`), emit. A record that fails any
step goes to the dead-letter topic with the reason; the stream never stops for one record.
The record is acknowledged (its offset becomes committable) only when what was emitted for it
is acknowledged by the broker, or right away when it is dropped as a duplicate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass

from schemas import raw as raw_format
from schemas.deadletter import DeadLetter
from streams.dedup import Decision, Seen, decide
from streams.emitter import Emitter
from streams.errors import NormalizationFailed, StreamError, UndecodableRecord
from streams.metrics import WorkerMetrics
from streams.normalizers import normalize

log = logging.getLogger("hookgate.streams")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """The parts of a consumed Kafka record the stage needs (Faust-independent, for tests)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class Pipeline:
    def __init__(
        self,
        *,
        seen: MutableMapping[bytes, object],
        emitter: Emitter,
        canonical_topic: str,
        dead_letter_topic: str,
        dedup_horizon_s: int,
        metrics: WorkerMetrics,
        on_emit_failure: Callable[[BaseException], None],
    ) -> None:
        self._seen = seen
        self._emitter = emitter
        self._canonical_topic = canonical_topic
        self._dead_letter_topic = dead_letter_topic
        self._horizon_ms = dedup_horizon_s * 1000
        self._metrics = metrics
        self._on_emit_failure = on_emit_failure

    async def process(self, record: RawRecord, ack: Callable[[], object]) -> None:
        """Handle one raw record; ``ack`` is called once it may be committed."""
        try:
            delivery = _decode(record)
            if record.key is None:
                raise UndecodableRecord("raw record has no key")
            current = Seen(record.partition, record.offset, delivery.received_at_ms)
            decision = decide(Seen.from_json(self._seen.get(record.key)), current, self._horizon_ms)
            if decision is Decision.DROP_DUPLICATE:
                self._metrics.records.labels("duplicate").inc()
                self._metrics.duplicates.labels(delivery.source).inc()
                ack()
                return
            event = normalize(delivery)
            # Stored only once normalized: a dead-lettered event, redriven after a fix, must
            # not be dropped as a duplicate of itself.
            if decision is Decision.EMIT:
                self._seen[record.key] = current.to_json()
        except StreamError as error:
            await self._dead_letter(record, error, ack)
            return
        except Exception as unexpected:
            # A bug or an input no normalizer foresaw: dead-letter it, never stop the stream.
            failure = NormalizationFailed(f"unexpected {type(unexpected).__name__}: {unexpected}")
            await self._dead_letter(record, failure, ack)
            return
        outcome = "emitted" if decision is Decision.EMIT else "reemitted"
        await self._emitter.emit(
            self._canonical_topic,
            event.key(),
            event.value(),
            event.headers(),
            self._on_done(ack, outcome),
        )

    async def _dead_letter(
        self, record: RawRecord, error: StreamError, ack: Callable[[], object]
    ) -> None:
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
        self._metrics.dead_letters.labels(error.reason).inc()
        await self._emitter.emit(
            self._dead_letter_topic,
            record.key,
            record.value if record.value is not None else b"",
            letter.headers(record.headers),
            self._on_done(ack, "dead_lettered"),
        )

    def _on_done(
        self, ack: Callable[[], object], outcome: str
    ) -> Callable[[BaseException | None], None]:
        def done(error: BaseException | None) -> None:
            if error is not None:
                # Not acked: the offset stays uncommitted and the record is read again after
                # the worker restarts. Continuing past it would lose it on the next commit.
                self._on_emit_failure(error)
                return
            self._metrics.records.labels(outcome).inc()
            ack()

        return done


def _decode(record: RawRecord) -> raw_format.RawDelivery:
    try:
        return raw_format.decode(record.key, record.value, record.headers)
    except raw_format.RawRecordError as exc:
        raise UndecodableRecord(str(exc)) from None
