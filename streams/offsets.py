"""What the broker says about the raw partitions: the group's committed offsets and log bounds.

One librdkafka consumer that never subscribes (so it never joins the group): it reads where
the worker resumes each partition it takes over (the runner's start positions) and how far the
logs reach (the liveness check). Its calls block; callers run them in a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PartitionOffsets:
    #: The group's committed offset (the next record to take), ``None`` if it has none.
    committed: int | None
    #: The first offset still in the log, and the offset the next record will get.
    low: int
    high: int
    #: False when the group's coordinator could not say (``committed`` is then meaningless).
    committed_known: bool = True

    @property
    def start(self) -> int:
        """Where a new owner resumes: the committed offset, else the log's start (Faust's
        ``auto_offset_reset`` is earliest), never before the log's start."""
        return max(self.committed if self.committed is not None else self.low, self.low)


class GroupOffsets:
    def __init__(self, client_config: Mapping[str, Any], group: str, topic: str) -> None:
        self._config = {**client_config, "group.id": group, "enable.auto.commit": False}
        self._topic = topic
        self._consumer: Consumer | None = None
        # A read (in a thread) and close (at stop) never use the client at once.
        self._lock = threading.Lock()

    def read(self, partitions: Iterable[int]) -> dict[int, PartitionOffsets]:
        """Every partition's offsets, or ``KafkaException`` if any cannot be read."""
        return self._read(partitions, partial=False)

    def read_available(self, partitions: Iterable[int]) -> dict[int, PartitionOffsets]:
        """The offsets the cluster can give now: a partition whose leader is away is left out,
        and committed offsets are marked unknown while the group's coordinator is away (a
        broker outage blinds a check for those partitions only, not for all)."""
        return self._read(partitions, partial=True)

    def _read(self, partitions: Iterable[int], *, partial: bool) -> dict[int, PartitionOffsets]:
        owned = sorted(partitions)
        if not owned:
            return {}
        with self._lock:
            if self._consumer is None:
                self._consumer = Consumer(self._config)
            consumer = self._consumer
            known = True
            try:
                committed = {
                    tp.partition: tp.offset
                    for tp in consumer.committed(
                        [TopicPartition(self._topic, p) for p in owned], timeout=_TIMEOUT_S
                    )
                }
            except KafkaException:
                if not partial:
                    raise
                committed, known = {}, False
            result = {}
            for p in owned:
                try:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(self._topic, p), timeout=_TIMEOUT_S
                    )
                except KafkaException:
                    if not partial:
                        raise
                    continue
                offset = committed.get(p, OFFSET_INVALID)
                result[p] = PartitionOffsets(offset if offset >= 0 else None, low, high, known)
            return result

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None
