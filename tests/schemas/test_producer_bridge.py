"""The asyncio <-> librdkafka bridge (schemas/producer_bridge.py), against the real broker.

The fatal-error policy is tested with a real fatal error: confluent-kafka exposes no hook to
inject one, so the bridge's producer is made transactional (through ``producer_factory``) and a
newer producer with the same ``transactional.id`` fences it, as a second instance of a process
would. librdkafka then fails the producer for good, as it does when idempotence breaks.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from confluent_kafka import Producer

from schemas.producer_bridge import (
    GUARANTEES,
    BridgeError,
    BridgeFailed,
    BridgeNotRunning,
    Delivered,
    DeliveryFailed,
    ProducerBridge,
    QueueFull,
    RecordRefused,
)
from tests.support import new_topic, read_all, unreachable_bootstrap

HEADERS = [("h", b"1")]


class Outcomes:
    """An ``on_delivery`` that records what it was told, and lets a test await it."""

    def __init__(self) -> None:
        self.seen: list[Delivered | BridgeError] = []
        self._changed = asyncio.Event()

    def __call__(self, outcome: Delivered | BridgeError) -> None:
        self.seen.append(outcome)
        self._changed.set()

    async def wait_for(self, count: int, within: float = 30) -> list[Delivered | BridgeError]:
        async with asyncio.timeout(within):
            while len(self.seen) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.seen


async def deliver(
    bridge: ProducerBridge,
    topic: str,
    key: bytes,
    value: bytes,
    headers: list[tuple[str, bytes]],
    *,
    ack_timeout: float,
) -> Delivered:
    """Submit one record and wait for its outcome, raising it when it is an error."""
    outcomes = Outcomes()
    bridge.submit(topic, key, value, headers, outcomes, ack_timeout=ack_timeout)
    [outcome] = await outcomes.wait_for(1, within=ack_timeout + 30)
    if isinstance(outcome, BridgeError):
        raise outcome
    return outcome


@pytest.fixture
async def bridge(kafka_bootstrap: str) -> AsyncIterator[ProducerBridge]:
    bridge = ProducerBridge({"bootstrap.servers": kafka_bootstrap}, name="test")
    await bridge.start()
    yield bridge
    await bridge.stop()


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    return new_topic(kafka_bootstrap)


# --- no broker needed ---------------------------------------------------------------------------


async def test_the_config_cannot_weaken_idempotence_or_acks() -> None:
    given: list[dict[str, Any]] = []

    def factory(config: dict[str, Any]) -> Producer:
        given.append(config)
        return Producer({"bootstrap.servers": config["bootstrap.servers"]})

    weak = {"bootstrap.servers": unreachable_bootstrap(), "acks": "0", "enable.idempotence": False}
    bridge = ProducerBridge(weak, producer_factory=factory)
    await bridge.start()
    await bridge.stop(0)
    assert {k: given[0][k] for k in GUARANTEES} == {"enable.idempotence": True, "acks": "all"}


async def test_a_send_before_start_is_refused() -> None:
    bridge = ProducerBridge({"bootstrap.servers": unreachable_bootstrap()})
    with pytest.raises(BridgeNotRunning):
        await bridge.send("t", b"k", b"v", HEADERS, Outcomes())


async def test_a_bridge_that_reports_each_record_has_no_write() -> None:
    with pytest.raises(RuntimeError, match="write"):
        ProducerBridge({}).write("t", b"k", b"v", HEADERS)


async def test_a_bridge_that_reports_errors_only_has_no_send() -> None:
    with pytest.raises(RuntimeError, match="send"):
        await ProducerBridge({}, reports="errors").send("t", b"k", b"v", HEADERS, Outcomes())


async def test_a_record_no_broker_acknowledges_is_reported_as_not_delivered() -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": unreachable_bootstrap(), "message.timeout.ms": 300}
    )
    await bridge.start()
    try:
        with pytest.raises(DeliveryFailed):
            await deliver(bridge, "t", b"k", b"v", HEADERS, ack_timeout=30)
    finally:
        await bridge.stop(1)


async def test_an_acknowledgement_that_never_comes_fails_at_the_ack_timeout() -> None:
    # librdkafka would report it only after a minute: the backstop (one periodic sweep, not a
    # timer per record) answers first, and forgets the record.
    bridge = ProducerBridge(
        {"bootstrap.servers": unreachable_bootstrap(), "message.timeout.ms": 60_000}
    )
    await bridge.start()
    try:
        with pytest.raises(DeliveryFailed, match="in time"):
            await deliver(bridge, "t", b"k", b"v", HEADERS, ack_timeout=0.3)
        assert bridge._waiting == {}
    finally:
        await bridge.stop(0)


async def test_a_record_the_sweep_failed_is_not_failed_again_at_stop() -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": unreachable_bootstrap(), "message.timeout.ms": 60_000}
    )
    await bridge.start()
    outcomes = Outcomes()
    bridge.submit("t", b"k", b"v", HEADERS, outcomes, ack_timeout=0.3)
    await outcomes.wait_for(1)
    await bridge.stop(0)
    await asyncio.sleep(0.1)
    assert [type(outcome) for outcome in outcomes.seen] == [DeliveryFailed]


async def test_stop_fails_the_deliveries_nothing_will_report_any_more() -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": unreachable_bootstrap(), "message.timeout.ms": 60_000}
    )
    await bridge.start()
    outcomes = Outcomes()
    bridge.submit("t", b"k", b"v", HEADERS, outcomes, ack_timeout=60)
    await asyncio.sleep(0.1)
    await bridge.stop(0)
    [outcome] = await outcomes.wait_for(1, within=5)
    assert isinstance(outcome, DeliveryFailed)
    assert "stopped" in str(outcome)


async def test_a_full_librdkafka_queue_is_refused_at_once_by_submit() -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": unreachable_bootstrap(), "queue.buffering.max.messages": 1}
    )
    await bridge.start()
    try:
        bridge.submit("t", b"k", b"1", HEADERS, Outcomes(), ack_timeout=60)
        with pytest.raises(QueueFull, match="queue is full"):
            bridge.submit("t", b"k", b"2", HEADERS, Outcomes(), ack_timeout=60)
        assert len(bridge._waiting) == 1  # the refused record is not waited for
    finally:
        await bridge.stop(0)


async def test_a_full_librdkafka_queue_is_refused_at_once_with_no_room_timeout() -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": unreachable_bootstrap(), "queue.buffering.max.messages": 1}
    )
    await bridge.start()
    try:
        await bridge.send("t", b"k", b"1", HEADERS, Outcomes())
        with pytest.raises(QueueFull, match="queue is full"):
            await bridge.send("t", b"k", b"2", HEADERS, Outcomes(), room_timeout=0)
    finally:
        await bridge.stop(0)


async def test_a_bridge_without_a_broker_is_not_ready() -> None:
    bridge = ProducerBridge({"bootstrap.servers": unreachable_bootstrap()})
    await bridge.start()
    try:
        assert await bridge.ready("t") is False
    finally:
        await bridge.stop(0)


# --- against the real broker ----------------------------------------------------------------------


@pytest.mark.kafka
async def test_an_acknowledged_record_is_in_the_topic_where_the_report_says(
    bridge: ProducerBridge, topic: str, kafka_bootstrap: str
) -> None:
    delivered = await deliver(bridge, topic, b"key", b"value", HEADERS, ack_timeout=30)
    [record] = read_all(kafka_bootstrap, topic)
    assert (record.partition(), record.offset()) == (delivered.partition, delivered.offset)
    assert (record.key(), record.value(), record.headers()) == (b"key", b"value", HEADERS)


@pytest.mark.kafka
async def test_records_waited_for_leave_no_garbage_for_the_cyclic_collector(
    bridge: ProducerBridge, topic: str
) -> None:
    # Garbage in reference cycles is freed only by the collector, whose passes over a busy
    # ingress cost ~10 % of its CPU when each record left a cycle behind.
    outcomes = Outcomes()
    gc.collect()
    gc.disable()
    try:
        for i in range(200):
            bridge.submit(topic, b"k", b"%d" % i, HEADERS, outcomes, ack_timeout=30)
        await outcomes.wait_for(200)
        await asyncio.sleep(0.1)  # the last batch of reports is let go
        found = gc.collect()
    finally:
        gc.enable()
    assert found < 200  # five objects a record when each left a cycle


@pytest.mark.kafka
async def test_every_sent_record_gets_exactly_one_report_in_send_order(
    bridge: ProducerBridge, topic: str
) -> None:
    outcomes = Outcomes()
    for i in range(50):
        await bridge.send(topic, b"k", str(i).encode(), HEADERS, outcomes)
    seen = await outcomes.wait_for(50)
    assert all(isinstance(o, Delivered) for o in seen)
    assert [o.offset for o in seen if isinstance(o, Delivered)] == list(range(50))


@pytest.mark.kafka
async def test_reports_reach_the_event_loop_in_batches_not_one_wake_up_per_record(
    bridge: ProducerBridge, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    wake_ups = 0
    original = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal wake_ups
        wake_ups += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    outcomes = Outcomes()
    for i in range(200):
        await bridge.send(topic, b"k", str(i).encode(), HEADERS, outcomes)
    await outcomes.wait_for(200)
    assert wake_ups < 200


@pytest.mark.kafka
async def test_a_full_librdkafka_queue_makes_a_send_wait_for_room(
    kafka_bootstrap: str, topic: str
) -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": kafka_bootstrap, "queue.buffering.max.messages": 1}
    )
    await bridge.start()
    try:
        outcomes = Outcomes()
        for i in range(20):
            await bridge.send(topic, b"k", str(i).encode(), HEADERS, outcomes)
        seen = await outcomes.wait_for(20)
    finally:
        await bridge.stop()
    assert all(isinstance(o, Delivered) for o in seen)


@pytest.mark.kafka
async def test_a_record_larger_than_the_client_accepts_is_refused_as_too_large(
    kafka_bootstrap: str, topic: str
) -> None:
    bridge = ProducerBridge({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 1000})
    await bridge.start()
    try:
        with pytest.raises(RecordRefused) as refused:
            await bridge.send(topic, b"k", b"x" * 2000, HEADERS, Outcomes())
    finally:
        await bridge.stop()
    assert refused.value.too_large


@pytest.mark.kafka
async def test_stop_delivers_what_is_in_flight_and_reports_it(
    kafka_bootstrap: str, topic: str
) -> None:
    bridge = ProducerBridge({"bootstrap.servers": kafka_bootstrap, "linger.ms": 500})
    await bridge.start()
    outcomes = Outcomes()
    for i in range(10):
        await bridge.send(topic, b"k", str(i).encode(), HEADERS, outcomes)
    await bridge.stop()
    assert len(outcomes.seen) == 10
    assert all(isinstance(o, Delivered) for o in outcomes.seen)
    with pytest.raises(BridgeNotRunning):
        await bridge.send(topic, b"k", b"late", HEADERS, outcomes)


@pytest.mark.kafka
async def test_a_bridge_is_ready_when_the_broker_answers_for_the_topic(
    bridge: ProducerBridge, topic: str
) -> None:
    assert await bridge.ready(topic) is True


# --- reports="errors": write, then flushed ------------------------------------------------------


@pytest.fixture
async def writer(kafka_bootstrap: str) -> AsyncIterator[ProducerBridge]:
    bridge = ProducerBridge({"bootstrap.servers": kafka_bootstrap}, reports="errors")
    await bridge.start()
    yield bridge
    await bridge.stop()


@pytest.mark.kafka
async def test_records_written_are_in_the_topic_in_order_once_flushed(
    kafka_bootstrap: str, writer: ProducerBridge, topic: str
) -> None:
    for i in range(50):
        writer.write(topic, b"k", str(i).encode(), HEADERS)
    await writer.flushed(60)
    assert [m.value() for m in read_all(kafka_bootstrap, topic)] == [
        str(i).encode() for i in range(50)
    ]


@pytest.mark.kafka
async def test_a_record_can_be_written_to_a_partition_of_its_own(
    kafka_bootstrap: str, writer: ProducerBridge
) -> None:
    topic = new_topic(kafka_bootstrap, partitions=3)
    writer.write(topic, b"k", b"v", HEADERS, partition=2)
    await writer.flushed(60)
    assert [m.partition() for m in read_all(kafka_bootstrap, topic)] == [2]


@pytest.mark.kafka
async def test_written_records_count_as_in_flight_until_acknowledged(
    writer: ProducerBridge, topic: str
) -> None:
    writer.write(topic, b"k", b"v", HEADERS)
    assert writer.in_flight == 1
    await writer.flushed(60)
    assert writer.in_flight == 0


async def test_a_flush_raises_when_records_are_still_unacknowledged_at_its_end() -> None:
    bridge = ProducerBridge({"bootstrap.servers": unreachable_bootstrap()}, reports="errors")
    await bridge.start()
    try:
        bridge.write("t", b"k", b"v", HEADERS)
        with pytest.raises(DeliveryFailed, match="1 records not acknowledged"):
            await bridge.flushed(0.2)
    finally:
        await bridge.stop(0)


async def test_a_flush_after_stop_answers_for_what_the_stops_flush_left() -> None:
    # The worker's last commit runs after its producer stopped (streams/overrides.py).
    bridge = ProducerBridge({"bootstrap.servers": unreachable_bootstrap()}, reports="errors")
    await bridge.start()
    bridge.write("t", b"k", b"v", HEADERS)
    await bridge.stop(0)
    with pytest.raises(DeliveryFailed, match="1 records not acknowledged"):
        await bridge.flushed(1)


@pytest.mark.kafka
async def test_a_flush_after_a_stop_that_delivered_everything_succeeds(
    writer: ProducerBridge, topic: str
) -> None:
    writer.write(topic, b"k", b"v", HEADERS)
    await writer.stop()
    await writer.flushed(1)


@pytest.mark.kafka
async def test_a_record_larger_than_the_client_accepts_is_refused_at_write(
    kafka_bootstrap: str, topic: str
) -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 1000}, reports="errors"
    )
    await bridge.start()
    try:
        with pytest.raises(RecordRefused):
            bridge.write(topic, b"k", b"x" * 2000, HEADERS)
    finally:
        await bridge.stop()


async def test_a_full_librdkafka_queue_refuses_a_write_at_once() -> None:
    bridge = ProducerBridge(
        {"bootstrap.servers": unreachable_bootstrap(), "queue.buffering.max.messages": 1},
        reports="errors",
    )
    await bridge.start()
    try:
        bridge.write("t", b"k", b"1", HEADERS)
        with pytest.raises(QueueFull):
            bridge.write("t", b"k", b"2", HEADERS)
    finally:
        await bridge.stop(0)


# --- the fatal-error policy --------------------------------------------------------------------


@pytest.mark.kafka
async def test_a_fatal_error_fails_the_bridge_for_good_and_tells_its_owner(
    kafka_bootstrap: str, topic: str
) -> None:
    transactional_id = f"bridge-test-{topic}"

    def in_a_transaction(config: dict[str, Any]) -> Producer:
        producer = Producer({**config, "transactional.id": transactional_id})
        producer.init_transactions(60)
        producer.begin_transaction()
        return producer

    told: list[BridgeFailed] = []
    bridge = ProducerBridge(
        {"bootstrap.servers": kafka_bootstrap},
        on_fatal=told.append,
        producer_factory=in_a_transaction,
    )
    await bridge.start()
    try:
        # A newer instance with the same transactional id fences this one.
        newer = Producer(
            {"bootstrap.servers": kafka_bootstrap, "transactional.id": transactional_id}
        )
        await asyncio.to_thread(newer.init_transactions, 60)

        with pytest.raises(BridgeFailed):
            await deliver(bridge, topic, b"k", b"v", HEADERS, ack_timeout=60)
        await asyncio.sleep(0)  # on_fatal is scheduled on the loop
        assert told == [bridge.failure]
        with pytest.raises(BridgeFailed):
            await bridge.send(topic, b"k", b"again", HEADERS, Outcomes())
        assert await bridge.ready(topic) is False
    finally:
        await bridge.stop(1)
