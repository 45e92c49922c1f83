"""The worker's output producer: idempotent, ``acks=all``, pipelined.

Faust's own producer is not idempotent outside exactly-once mode, and Faust commits a source
offset once the event is acked by the stream, whatever became of what the agent sent. So the
worker sends through this producer and acks each raw record only from the delivery callback of
what it emitted for it: a raw offset is committed only after its canonical event (or dead letter)
is in Kafka, while many sends are in flight at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer


class Emitter:
    def __init__(self, bootstrap_servers: str, *, max_in_flight: int) -> None:
        self._bootstrap = bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._slots = asyncio.Semaphore(max_in_flight)

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap.split(","),
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            compression_type=None,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()  # flushes what is in flight

    async def emit(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        on_done: Callable[[BaseException | None], None],
    ) -> None:
        """Queue one record; ``on_done`` gets ``None`` once the broker acknowledged it.

        Waits when ``max_in_flight`` records are unacknowledged, so a slow broker slows the
        stream down instead of growing memory.
        """
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        await self._slots.acquire()
        try:
            future = await self._producer.send(topic, value=value, key=key, headers=list(headers))
        except BaseException as exc:
            self._slots.release()
            on_done(exc)
            return

        def done(fut: asyncio.Future[Any]) -> None:
            self._slots.release()
            on_done(asyncio.CancelledError() if fut.cancelled() else fut.exception())

        future.add_done_callback(done)
