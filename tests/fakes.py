"""Stand-ins used by tests that claim nothing about Kafka itself (HTTP behaviour, verifiers).

Tests that do claim Kafka behaviour run against the real broker (tests/support.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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
