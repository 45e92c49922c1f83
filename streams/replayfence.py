"""Reads the replay fence (:mod:`schemas.replayfence`) when the worker starts."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaException, TopicPartition

from schemas import kafka_clients, replayfence
from schemas.config import Settings

log = logging.getLogger("hookgate.streams")


def read(settings: Settings, timeout: float = 15.0) -> dict[int, range]:
    """Per raw partition, the offsets not to re-emit; empty when there is no fence.

    A fence that cannot be read is logged and ignored: the records in it are then re-emitted
    (marked as a replay), which is more output than asked for, never less.
    """
    group = replayfence.group(settings.worker.app_id)
    raw = settings.topics.raw
    # A consumer that never subscribes only reads the group's committed offsets; closed
    # explicitly, so no librdkafka handle is left to be torn down under Faust.
    consumer = Consumer(
        kafka_clients.librdkafka(settings.kafka, **{"group.id": group, "enable.auto.commit": False})
    )
    try:
        offsets = consumer.committed(
            [TopicPartition(raw.name, p) for p in range(raw.partitions)], timeout=timeout
        )
    except KafkaException as exc:
        log.warning("replay fence %s not read: %s", group, exc)
        return {}
    finally:
        consumer.close()
    fence: dict[int, range] = {}
    for tp in offsets:
        fenced = replayfence.decode(tp.offset, tp.metadata)
        if fenced is not None:
            fence[tp.partition] = fenced
    if fence:
        log.info("replay fence: %s", {p: f"{r.start}..{r.stop - 1}" for p, r in fence.items()})
    return fence
