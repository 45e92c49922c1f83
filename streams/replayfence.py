"""Reads the replay fence (:mod:`schemas.replayfence`) when the worker starts."""

from __future__ import annotations

import logging

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException
from confluent_kafka.admin import AdminClient

from schemas import replayfence
from schemas.config import Settings

log = logging.getLogger("hookgate.streams")


def read(settings: Settings, timeout: float = 15.0) -> dict[int, range]:
    """Per raw partition, the offsets not to re-emit; empty when there is no fence.

    A fence that cannot be read is logged and ignored: the records in it are then re-emitted
    (marked as a replay), which is more output than asked for, never less.
    """
    group = replayfence.group(settings.worker.app_id)
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap, **settings.kafka.client})
    try:
        future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
        offsets = future.result(timeout)
    except KafkaException as exc:
        log.warning("replay fence %s not read: %s", group, exc)
        return {}
    fence: dict[int, range] = {}
    for tp in offsets.topic_partitions or []:
        if tp.topic != settings.topics.raw.name:
            continue
        fenced = replayfence.decode(tp.offset, tp.metadata)
        if fenced is not None:
            fence[tp.partition] = fenced
    if fence:
        log.info("replay fence: %s", {p: f"{r.start}..{r.stop - 1}" for p, r in fence.items()})
    return fence
