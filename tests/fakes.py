"""Stand-ins for the seams tests replace, used by tests that claim nothing about Kafka itself.

The ingress's producer (:class:`ingress.producer.RawProducer`): :class:`FakeProducer`. The
worker's emitter (:class:`streams.emitter.Emits`, also the de-duplication state's changelog
writer): :class:`HandEmitter`, whose sends the test acknowledges, and :class:`AutoAckEmitter`.
Tests that do claim Kafka behaviour run against the real broker (tests/support.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ingress.producer import Delivered


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
    error: Exception | None = None
    #: While set to an unset event, every produce waits for it (a broker slow to acknowledge).
    hold: asyncio.Event | None = None
    started: bool = False
    stopped: bool = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def produce(
        self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> Delivered:
        if self.hold is not None:
            await self.hold.wait()
        if self.error is not None:
            raise self.error
        self.produced.append(Produced(topic, key, value, list(headers)))
        return Delivered(partition=0, offset=len(self.produced) - 1)

    async def ready(self, topic: str) -> bool:
        self.ready_asked.append(topic)
        return self.ready_answer


@dataclass
class Sent:
    """One send to a :class:`HandEmitter`, waiting for the test to acknowledge or fail it."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    on_done: Callable[[BaseException | None], None]
    partition: int | None
    acknowledged: bool = False

    def succeed(self) -> None:
        self.acknowledged = True
        self.on_done(None)

    def fail(self, error: BaseException) -> None:
        self.on_done(error)


@dataclass
class HandEmitter:
    """Stands in for streams.emitter.Emitter: records each send; the test acknowledges it."""

    sent: list[Sent] = field(default_factory=list)

    async def emit(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        on_done: Callable[[BaseException | None], None],
        *,
        partition: int | None = None,
    ) -> None:
        self.sent.append(Sent(topic, key, value, list(headers), on_done, partition))

    @property
    def last(self) -> Sent:
        return self.sent[-1]


@dataclass
class AutoAckEmitter(HandEmitter):
    """A writer whose every write is acknowledged as soon as it is sent."""

    async def emit(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        on_done: Callable[[BaseException | None], None],
        *,
        partition: int | None = None,
    ) -> None:
        await super().emit(topic, key, value, headers, on_done, partition=partition)
        on_done(None)


async def settle() -> None:
    """Let every task that can run, run (no clock involved)."""
    for _ in range(5):
        await asyncio.sleep(0)
