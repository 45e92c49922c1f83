"""The one stage of the worker: raw record -> de-duplicated canonical event (or dead letter).

Per raw record, in order: decode the raw-delivery format, apply the de-duplication rule
(:mod:`streams.dedup`), normalize (:mod:`streams.normalizers`), emit. A record that fails any
step goes to the dead-letter topic with the reason; the stream never stops for one record.
The record is acknowledged (its offset becomes committable) only when what was emitted for it
is acknowledged by the broker, or right away when it is dropped as a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import canonical
from schemas import raw as raw_format
from schemas.deadletter import DeadLetter
from streams.dedup import Decision, Seen, decide
from streams.emitter import Emits
from streams.errors import NormalizationFailed, RecordRefused, StreamError, UndecodableRecord
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


class _InOrderAcks:
    """Releases one partition's acks in offset order.

    Emits complete out of order (different output partitions, duplicates done at once), but
    Faust's commit only checks the acked offsets it is shown, and with a gap at the head it can
    commit past a record still in flight. So a record's ack waits until every earlier record of
    its partition is done: what Faust sees acked is always a contiguous run.
    """

    def __init__(self) -> None:
        self._pending: deque[list[Any]] = deque()  # [done, ack], in offset order

    def track(self, ack: Callable[[], object]) -> Callable[[], None]:
        entry: list[Any] = [False, ack]
        self._pending.append(entry)

        def complete() -> None:
            entry[0] = True
            while self._pending and self._pending[0][0]:
                self._pending.popleft()[1]()

        return complete


class Pipeline:
    def __init__(
        self,
        *,
        seen: MutableMapping[bytes, object],
        emitter: Emits,
        canonical_topic: str,
        dead_letter_topic: str,
        dedup_horizon_s: int,
        type_prefix: str,
        metrics: WorkerMetrics,
        on_emit_failure: Callable[[BaseException], None],
        replay_fence: Mapping[int, range] | None = None,
    ) -> None:
        self._seen = seen
        self._emitter = emitter
        self._canonical_topic = canonical_topic
        self._dead_letter_topic = dead_letter_topic
        self._horizon_ms = dedup_horizon_s * 1000
        self._type_prefix = type_prefix
        self._metrics = metrics
        self._on_emit_failure = on_emit_failure
        # Per partition, the offsets a `hookgate replay --to` left out of the replay.
        self._replay_fence = replay_fence or {}
        self._acks: dict[tuple[str, int], _InOrderAcks] = defaultdict(_InOrderAcks)
        self._tasks: set[asyncio.Task[None]] = set()

    async def process(self, record: RawRecord, ack: Callable[[], object]) -> None:
        """Handle one raw record; ``ack`` is called once it may be committed."""
        complete = self._acks[(record.topic, record.partition)].track(ack)
        try:
            delivery = _decode(record)
            if record.key is None:
                raise UndecodableRecord("raw record has no key")
            current = Seen(record.partition, record.offset, delivery.received_at_ms)
            decision = decide(Seen.from_json(self._seen.get(record.key)), current, self._horizon_ms)
            if decision is Decision.DROP_DUPLICATE:
                self._metrics.records.labels("duplicate").inc()
                self._metrics.duplicates.labels(delivery.source).inc()
                complete()
                return
            if decision is Decision.REEMIT and record.offset in self._replay_fence.get(
                record.partition, range(0)
            ):
                self._metrics.records.labels("past_replay_end").inc()
                complete()
                return
            event = canonical.with_origin(
                normalize(delivery, self._type_prefix),
                canonical.RawOrigin(record.topic, record.partition, record.offset),
                replay=decision is Decision.REEMIT,
            )
            # Encoded here, inside the try: an event that cannot be written is a dead letter.
            key, value, headers = event.key(), event.value(), event.headers()
            # Stored only once it can be emitted: a dead-lettered event, redriven after a fix,
            # must not be dropped as a duplicate of itself.
            if decision is Decision.EMIT:
                self._seen[record.key] = current.to_json()
        except StreamError as error:
            await self._dead_letter(record, error, complete)
            return
        except Exception as unexpected:
            # A bug or an input no normalizer foresaw: dead-letter it, never stop the stream.
            failure = NormalizationFailed(f"unexpected {type(unexpected).__name__}: {unexpected}")
            await self._dead_letter(record, failure, complete)
            return
        outcome = "emitted" if decision is Decision.EMIT else "reemitted"

        def done(error: BaseException | None) -> None:
            if isinstance(error, RecordRefused):
                # The broker will never take this event (e.g. too large): the raw record,
                # which it did take, goes to the dead-letter topic instead.
                self._spawn(self._dead_letter(record, error, complete))
                return
            self._finish(error, outcome, complete)

        await self._emitter.emit(self._canonical_topic, key, value, headers, done)

    async def _dead_letter(
        self, record: RawRecord, error: StreamError, complete: Callable[[], None]
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
            lambda failure: self._finish(failure, "dead_lettered", complete),
        )

    def _finish(
        self, error: BaseException | None, outcome: str, complete: Callable[[], None]
    ) -> None:
        if error is not None:
            # Not acked: the offset stays uncommitted and the record is read again after the
            # worker restarts. Continuing past it would lose it on the next commit.
            self._on_emit_failure(error)
            return
        self._metrics.records.labels(outcome).inc()
        complete()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _decode(record: RawRecord) -> raw_format.RawDelivery:
    try:
        return raw_format.decode(record.key, record.value, record.headers)
    except raw_format.RawRecordError as exc:
        raise UndecodableRecord(str(exc)) from None
