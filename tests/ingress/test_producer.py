"""The ingress's producer (ingress/producer.py): what each Kafka outcome answers the sender.

2xx only once the record is acknowledged; 413 for a record Kafka refuses as too large; 503 when no
acknowledgement comes in time, the queue is full, or the producer failed for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ingress.errors import BrokerUnavailable, IngressError, PayloadTooLarge
from ingress.producer import Delivered, KafkaProducer, _answer
from schemas.producer_bridge import BridgeFailed, DeliveryFailed, QueueFull, RecordRefused
from tests.support import new_topic, read_all, unreachable_bootstrap

HEADERS = [("hookgate-format", b"1")]


async def produce(producer: KafkaProducer, topic: str, key: bytes, value: bytes) -> Delivered:
    """Submit one record and wait for its outcome, raising the IngressError it answers."""
    outcome: asyncio.Future[Delivered | IngressError] = asyncio.get_running_loop().create_future()
    producer.submit(topic, key, value, HEADERS, outcome.set_result)
    result = await outcome
    if isinstance(result, IngressError):
        raise result
    return result


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[KafkaProducer]:
    producer = KafkaProducer(kafka_bootstrap, max_message_bytes=10_000)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.mark.kafka
async def test_a_record_is_delivered_once_it_is_in_the_topic(
    producer: KafkaProducer, kafka_bootstrap: str
) -> None:
    topic = new_topic(kafka_bootstrap)
    delivered = await produce(producer, topic, b"demo:msg_1", b"{}")
    [record] = read_all(kafka_bootstrap, topic)
    assert (record.offset(), record.key(), record.value()) == (
        delivered.offset,
        b"demo:msg_1",
        b"{}",
    )


@pytest.mark.kafka
async def test_a_record_larger_than_kafka_accepts_is_payload_too_large(
    producer: KafkaProducer, kafka_bootstrap: str
) -> None:
    topic = new_topic(kafka_bootstrap)
    with pytest.raises(PayloadTooLarge) as refused:
        await produce(producer, topic, b"demo:msg_1", b"x" * 20_000)
    assert refused.value.status == 413


@pytest.mark.kafka
async def test_the_producer_is_ready_when_kafka_answers_for_the_topic(
    producer: KafkaProducer, kafka_bootstrap: str
) -> None:
    assert await producer.ready(new_topic(kafka_bootstrap)) is True


async def test_no_acknowledgement_in_time_is_broker_unavailable() -> None:
    producer = KafkaProducer(unreachable_bootstrap(), delivery_timeout_ms=300)
    await producer.start()
    try:
        with pytest.raises(BrokerUnavailable) as refused:
            await produce(producer, "t", b"k", b"v")
    finally:
        await producer.stop(0)
    assert (refused.value.status, refused.value.retriable) == (503, True)


async def test_a_full_queue_is_broker_unavailable_at_once() -> None:
    producer = KafkaProducer(
        unreachable_bootstrap(),
        delivery_timeout_ms=5000,
        client_config={"queue.buffering.max.messages": "1"},
    )
    await producer.start()
    outcomes: list[Delivered | IngressError] = []
    try:
        producer.submit("t", b"k", b"1", HEADERS, outcomes.append)  # fills the queue
        with pytest.raises(BrokerUnavailable, match="queue is full"):
            producer.submit("t", b"k", b"2", HEADERS, outcomes.append)
    finally:
        await producer.stop(0)
    # The first was queued, so it has an outcome (not acknowledged); the second never had one.
    assert [type(outcome) for outcome in outcomes] == [BrokerUnavailable]


async def test_a_producer_that_is_not_running_is_broker_unavailable() -> None:
    producer = KafkaProducer(unreachable_bootstrap())
    with pytest.raises(BrokerUnavailable):
        producer.submit("t", b"k", b"v", HEADERS, lambda outcome: None)
    assert await producer.ready("t") is False


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RecordRefused("too large", too_large=True), 413),
        (RecordRefused("invalid record", too_large=False), 503),
        (QueueFull("full"), 503),
        (DeliveryFailed("timed out"), 503),
        (BridgeFailed("fenced"), 503),
    ],
)
def test_each_bridge_outcome_has_its_answer(error: Exception, status: int) -> None:
    assert isinstance(error, RecordRefused | QueueFull | DeliveryFailed | BridgeFailed)
    answer: IngressError = _answer(error)
    assert answer.status == status


def test_records_linger_5_ms_for_a_batch_unless_kafka_client_says_otherwise() -> None:
    # 2 ms batched a handful of records at a time: a broker-thread wake-up per record
    # (BENCHMARKS.md). The operator's kafka.client setting wins.
    assert KafkaProducer("x:9092")._bridge._config["linger.ms"] == 5
    tuned = KafkaProducer("x:9092", client_config={"linger.ms": "20"})
    assert tuned._bridge._config["linger.ms"] == "20"
