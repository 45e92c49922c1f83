"""Stand-ins for the seams tests replace, used by tests that claim nothing about Kafka itself.

The ingress's producer (:class:`ingress.producer.RawProducer`): :class:`FakeProducer`. The
worker's emitter (:class:`streams.emitter.Emits`, also the de-duplication state's changelog
writer): :class:`FakeEmitter`, which records writes and whose flushes the test controls.
Tests that do claim Kafka behaviour run against the real broker (tests/support.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ingress.errors import IngressError
from ingress.producer import Delivered, OnOutcome
from streams.emitter import EmitFailed
from streams.errors import RecordRefused


class Produced(NamedTuple):
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass
class FakeProducer:
    """Stands in for ingress.producer.KafkaProducer: no Kafka, records every produce."""

    produced: list[Produced] = field(default_factory=list)
    ready_answer: bool = True
    ready_asked: list[str] = field(default_factory=list)
    #: An IngressError is every record's outcome (Kafka refused it); another exception is raised
    #: by submit() itself (a bug, not a refusal).
    error: Exception | None = None
    #: While set to an unset event, every produce waits for it (a broker slow to acknowledge).
    hold: asyncio.Event | None = None
    started: bool = False
    stopped: bool = False
    _held: set[asyncio.Future[None]] = field(default_factory=set)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def submit(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        on_outcome: OnOutcome,
    ) -> None:
        if self.error is not None and not isinstance(self.error, IngressError):
            raise self.error  # a bug, not a refusal: raised where the call is
        record = Produced(topic, key, value, list(headers))
        if self.hold is None:
            self._settle(record, on_outcome)
        else:
            task = asyncio.ensure_future(self._after(self.hold, record, on_outcome))
            self._held.add(task)  # referenced until done, as asyncio asks
            task.add_done_callback(self._held.discard)

    async def _after(self, hold: asyncio.Event, record: Produced, on_outcome: OnOutcome) -> None:
        await hold.wait()
        self._settle(record, on_outcome)

    def _settle(self, record: Produced, on_outcome: OnOutcome) -> None:
        # Answered from the loop, as the real producer's reports are, never from the call.
        if isinstance(self.error, IngressError):
            asyncio.get_running_loop().call_soon(on_outcome, self.error)
            return
        self.produced.append(record)
        delivered = Delivered(partition=0, offset=len(self.produced) - 1)
        asyncio.get_running_loop().call_soon(on_outcome, delivered)

    async def ready(self, topic: str) -> bool:
        self.ready_asked.append(topic)
        return self.ready_answer


class Written(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    partition: int | None


@dataclass
class FakeEmitter:
    """Stands in for streams.emitter.Emitter: records each write; the test decides what the
    client refuses, whether there is room, and what a flush finds."""

    written: list[Written] = field(default_factory=list)
    #: Topics whose records the client refuses at once (larger than it sends, say).
    refused_topics: set[str] = field(default_factory=set)
    #: What the next write raises (the producer failed), when set.
    write_error: Exception | None = None
    #: What the next flush raises (a write the broker did not acknowledge), when set.
    flush_error: Exception | None = None
    #: While set to an unset event, a flush waits for it (a broker slow to acknowledge).
    hold: asyncio.Event | None = None
    #: Cleared: ``max_in_flight`` records are unacknowledged; room() waits until it is set.
    room_left: asyncio.Event = field(default_factory=asyncio.Event)
    #: How many writes the flushes so far covered (all written before the last one began).
    flushed_upto: int = 0
    flushes: int = 0

    def __post_init__(self) -> None:
        self.room_left.set()

    def write(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        *,
        partition: int | None = None,
    ) -> None:
        if self.write_error is not None:
            raise self.write_error
        if topic in self.refused_topics:
            raise RecordRefused("Kafka refused the record: message too large")
        self.written.append(Written(topic, key, value, list(headers), partition))

    def has_room(self) -> bool:
        return self.room_left.is_set()

    async def room(self) -> None:
        await self.room_left.wait()

    async def flushed(self) -> None:
        upto = len(self.written)
        self.flushes += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.flush_error is not None:
            raise EmitFailed(str(self.flush_error))
        self.flushed_upto = upto

    def to(self, topic: str) -> list[Written]:
        return [written for written in self.written if written.topic == topic]


async def settle() -> None:
    """Let every task that can run, run (no clock involved)."""
    for _ in range(5):
        await asyncio.sleep(0)
