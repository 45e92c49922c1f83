"""The worker's emitter (streams/emitter.py) against the real broker: what ``on_done`` is told."""

from __future__ import annotations

import asyncio

import pytest

from schemas.producer_bridge import BridgeNotRunning
from streams.emitter import Emitter
from streams.errors import RecordRefused
from tests.support import new_topic, read_all


class Done:
    def __init__(self) -> None:
        self.errors: list[BaseException | None] = []
        self.called = asyncio.Event()

    def __call__(self, error: BaseException | None) -> None:
        self.errors.append(error)
        self.called.set()

    async def wait(self) -> BaseException | None:
        async with asyncio.timeout(60):
            await self.called.wait()
        return self.errors[0]


@pytest.mark.kafka
async def test_on_done_gets_none_once_the_record_is_in_the_topic(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap)
    emitter = Emitter(kafka_bootstrap, max_in_flight=10)
    await emitter.start()
    done = Done()
    try:
        # emit starts the emitter when it is not running yet
        await emitter.emit(topic, b"k", b"{}", [("ce_id", b"1")], done)
        assert await done.wait() is None
    finally:
        await emitter.stop()
    [record] = read_all(kafka_bootstrap, topic)
    assert (record.key(), record.value(), record.headers()) == (b"k", b"{}", [("ce_id", b"1")])


@pytest.mark.kafka
async def test_a_record_kafka_will_never_take_is_record_refused(kafka_bootstrap: str) -> None:
    emitter = Emitter(
        kafka_bootstrap, max_in_flight=10, client_config={"message.max.bytes": "1000"}
    )
    await emitter.start()
    done = Done()
    try:
        await emitter.emit(new_topic(kafka_bootstrap), b"k", b"x" * 2000, [], done)
    finally:
        await emitter.stop()
    assert isinstance(await done.wait(), RecordRefused)


async def test_an_emit_before_the_emitter_runs_is_reported_as_not_written() -> None:
    emitter = Emitter("127.0.0.1:9", max_in_flight=10)
    done = Done()
    await emitter.emit("t", b"k", b"v", [], done)
    assert isinstance(await done.wait(), BridgeNotRunning)
