"""The worker's emitter (streams/emitter.py) against the real broker: writes, room and flushes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin/__init__ uses it but does not re-export it

from streams.emitter import EmitFailed, Emitter
from streams.errors import RecordRefused
from tests.support import new_topic, read_all


def topic_refusing_over(bootstrap: str, max_bytes: int) -> str:
    """A topic the broker refuses records larger than ``max_bytes`` for."""
    name = f"t{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(name, 1, 1, config={"max.message.bytes": str(max_bytes)})
    for future in admin.create_topics([topic]).values():
        future.result(30)
    return name


@pytest.mark.kafka
async def test_a_flushed_record_is_in_the_topic(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap)
    emitter = Emitter(kafka_bootstrap, max_in_flight=10)
    await emitter.start()
    try:
        emitter.write(topic, b"k", b"{}", [("ce_id", b"1")])
        await asyncio.wait_for(emitter.flushed(), 60)
    finally:
        await emitter.stop()
    [record] = read_all(kafka_bootstrap, topic)
    assert (record.key(), record.value(), record.headers()) == (b"k", b"{}", [("ce_id", b"1")])


@pytest.mark.kafka
async def test_a_record_the_client_will_never_send_is_refused_at_once(kafka_bootstrap: str) -> None:
    emitter = Emitter(
        kafka_bootstrap, max_in_flight=10, client_config={"message.max.bytes": "1000"}
    )
    await emitter.start()
    try:
        with pytest.raises(RecordRefused):
            emitter.write(new_topic(kafka_bootstrap), b"k", b"x" * 2000, [])
    finally:
        await emitter.stop()


@pytest.mark.kafka
async def test_a_record_the_broker_refuses_makes_the_next_flush_fail(kafka_bootstrap: str) -> None:
    emitter = Emitter(kafka_bootstrap, max_in_flight=10)
    await emitter.start()
    try:
        emitter.write(topic_refusing_over(kafka_bootstrap, 2000), b"k", b"x" * 5000, [])
        with pytest.raises(EmitFailed, match="refused"):
            await asyncio.wait_for(emitter.flushed(), 60)
    finally:
        await emitter.stop()


@pytest.mark.kafka
async def test_a_failure_is_raised_by_one_flush_only(kafka_bootstrap: str) -> None:
    # The worker stops at the first; a later flush answers for the records written after it.
    emitter = Emitter(kafka_bootstrap, max_in_flight=10)
    await emitter.start()
    try:
        emitter.write(topic_refusing_over(kafka_bootstrap, 2000), b"k", b"x" * 5000, [])
        with pytest.raises(EmitFailed):
            await asyncio.wait_for(emitter.flushed(), 60)
        emitter.write(new_topic(kafka_bootstrap), b"k", b"v", [])
        await asyncio.wait_for(emitter.flushed(), 60)
    finally:
        await emitter.stop()


async def test_a_write_before_the_emitter_runs_fails() -> None:
    emitter = Emitter("127.0.0.1:9", max_in_flight=10)
    with pytest.raises(EmitFailed, match="not running"):
        emitter.write("t", b"k", b"v", [])


@pytest.mark.kafka
async def test_there_is_no_room_while_max_in_flight_records_are_unacknowledged(
    kafka_bootstrap: str,
) -> None:
    topic = new_topic(kafka_bootstrap)
    emitter = Emitter(kafka_bootstrap, max_in_flight=2)
    await emitter.start()
    try:
        # Microseconds apart: the records wait at least linger.ms (20) before they are sent.
        emitter.write(topic, b"k", b"1", [])
        assert emitter.has_room()
        emitter.write(topic, b"k", b"2", [])
        assert not emitter.has_room()
    finally:
        await emitter.stop()


@pytest.mark.kafka
async def test_room_is_back_once_the_broker_acknowledged(kafka_bootstrap: str) -> None:
    emitter = Emitter(kafka_bootstrap, max_in_flight=1)
    await emitter.start()
    try:
        emitter.write(new_topic(kafka_bootstrap), b"k", b"v", [])
        await asyncio.wait_for(emitter.room(), 60)
        assert emitter.has_room()
    finally:
        await emitter.stop()


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        Emitter("127.0.0.1:9", max_in_flight=0)
