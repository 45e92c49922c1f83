"""streams.raw_reader.RawReader on the real broker: exactly the assigned partitions, from the
given offsets, records as the ingress wrote them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin/__init__ uses it but does not re-export it

from streams.pipeline import RawRecord
from streams.raw_reader import RawReader

pytestmark = pytest.mark.kafka

RECORDS_PER_PARTITION = 5


class Topic:
    """A fresh two-partition raw topic holding five records per partition, and a fresh group."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        name = f"reader{uuid.uuid4().hex[:8]}"
        self.name, self.group = f"{name}.raw", f"{name}-group"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(self.name, 2, 1)]).values():
            future.result(30)
        producer = Producer({"bootstrap.servers": bootstrap})
        for partition in (0, 1):
            for i in range(RECORDS_PER_PARTITION):
                producer.produce(
                    self.name,
                    key=f"k{partition}-{i}".encode(),
                    value=f"v{partition}-{i}".encode(),
                    headers=[("hookgate-format", b"1"), ("webhook-id", f"{i}".encode())],
                    partition=partition,
                )
        assert producer.flush(30) == 0

    def reader(self) -> RawReader:
        return RawReader({"bootstrap.servers": self.bootstrap}, self.name, self.group, 1_000_000)

    def commit(self, partition: int, offset: int) -> None:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group})
        try:
            consumer.commit(
                offsets=[TopicPartition(self.name, partition, offset)], asynchronous=False
            )
        finally:
            consumer.close()


@pytest.fixture
def topic(kafka_bootstrap: str) -> Topic:
    return Topic(kafka_bootstrap)


@pytest.fixture
def reader(topic: Topic) -> Iterator[RawReader]:
    made = topic.reader()
    yield made
    made.close()


def take_all(reader: RawReader, expected: int, timeout: float = 30) -> list[RawRecord]:
    """What the reader hands over until ``expected`` records came (take() itself never waits)."""
    taken: list[RawRecord] = []
    deadline = time.monotonic() + timeout
    while len(taken) < expected and time.monotonic() < deadline:
        taken.extend(reader.take(100))
        time.sleep(0.01)
    return taken


def positions(records: list[RawRecord]) -> list[tuple[int, int]]:
    return [(r.partition, r.offset) for r in records]


def test_assigned_partitions_are_read_from_the_given_offsets_in_order(
    topic: Topic, reader: RawReader
) -> None:
    reader.assign({0: 2, 1: 0})
    taken = take_all(reader, 3 + 5)
    assert sorted(positions(taken)) == [(0, 2), (0, 3), (0, 4)] + [(1, i) for i in range(5)]
    for partition in (0, 1):
        offsets = [r.offset for r in taken if r.partition == partition]
        assert offsets == sorted(offsets)


def test_a_record_comes_with_its_key_value_and_headers_as_written(
    topic: Topic, reader: RawReader
) -> None:
    reader.assign({1: 3})
    (first, *_) = take_all(reader, 2)
    assert first == RawRecord(
        topic.name, 1, 3, b"k1-3", b"v1-3", [("hookgate-format", b"1"), ("webhook-id", b"3")]
    )


def test_a_partition_not_assigned_is_not_read(topic: Topic, reader: RawReader) -> None:
    reader.assign({1: 0})
    taken = take_all(reader, 5)
    time.sleep(0.5)
    taken += reader.take(100)
    assert {r.partition for r in taken} == {1}
    assert len(taken) == 5


def test_no_start_offset_means_the_group_s_committed_offset(
    topic: Topic, reader: RawReader
) -> None:
    topic.commit(0, 4)
    reader.assign({0: None})
    assert positions(take_all(reader, 1)) == [(0, 4)]


def test_a_new_assignment_replaces_the_previous_one(topic: Topic, reader: RawReader) -> None:
    reader.assign({0: 0})
    take_all(reader, 1)
    reader.assign({1: 4})
    taken = take_all(reader, 1)
    time.sleep(0.5)
    taken += reader.take(100)
    assert positions(taken) == [(1, 4)]


def test_nothing_is_taken_before_an_assignment(topic: Topic, reader: RawReader) -> None:
    assert reader.take(100) == []
    assert reader.highwater(0) is None


def test_the_highwater_is_the_partition_s_end_once_fetched(topic: Topic, reader: RawReader) -> None:
    reader.assign({0: 0})
    take_all(reader, RECORDS_PER_PARTITION)
    assert reader.highwater(0) == RECORDS_PER_PARTITION
