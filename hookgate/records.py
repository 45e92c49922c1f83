"""Reading Kafka records from the command line: whole topics to their end, headers as bytes."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from schemas import kafka_clients
from schemas.config import Settings


class RecordsError(Exception):
    """A topic cannot be read (missing, or Kafka does not answer)."""


def headers_of(message: Message) -> tuple[tuple[str, bytes], ...]:
    found = message.headers() or []
    pairs = list(found.items()) if isinstance(found, dict) else [(k, v) for k, v in found]
    return tuple(
        (name, value if isinstance(value, bytes) else (value or "").encode())
        for name, value in pairs
    )


def read_to_end(settings: Settings, topic: str, timeout: float = 30.0) -> list[Message]:
    consumer = Consumer(
        kafka_clients.librdkafka(
            settings.kafka,
            # Assigned partitions, never committed: reading moves nobody's offsets.
            **{"group.id": f"hookgate-dlq-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False},
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=15).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise RecordsError(f"topic {topic} does not exist")
        bounds = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)
            for p in metadata.partitions
        }
        pending = {p for p, (low, high) in bounds.items() if high > low}
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in bounds.items()])
        records: list[Message] = []
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                partition, offset = message.partition() or 0, message.offset() or 0
                if offset < bounds[partition][1]:
                    records.append(message)
            # By position, not by the last record's offset: a topic written in transactions
            # (the worker's, in exactly-once mode) ends with a commit marker, which takes an
            # offset but is never delivered.
            for position in consumer.position([TopicPartition(topic, p) for p in pending]):
                if position.offset >= bounds[position.partition][1]:
                    pending.discard(position.partition)
        if pending:
            raise RecordsError(f"could not read {topic} to its end within {timeout:.0f} s")
        return records
    except KafkaException as exc:
        raise RecordsError(f"Kafka: {exc.args[0].str()}") from None
    finally:
        consumer.close()
