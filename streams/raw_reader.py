"""The raw topic's records, read through librdkafka from the partitions Faust assigned.

Faust keeps the consumer group: it is subscribed to the raw topic, so the group assigns raw
partitions to this worker, and the ``dedup`` table's partitions follow them (recovery, standbys).
It does not fetch the raw topic's records any more (:mod:`streams.overrides` 6): its fetch path
(aiokafka parsing each fetch in Python in the consumer thread, then the hand-over to the event
loop) was the largest share of the worker's profile after the stage itself, about a fifth of the
thread holding the GIL (``py-spy --gil``, bench/README.md). librdkafka parses fetches in C in its
own threads and keeps the next ones queued, so taking a batch here costs little and never waits.

The reader never joins the group (it never subscribes): it is assigned exactly the partitions
Faust assigned, at the positions the runner resumes from, and it commits nothing (the runner
commits, in a transaction or through Faust's consumer). :meth:`take` is non-blocking and runs on
the event loop, as does :meth:`assign`; librdkafka drops what it had fetched for partitions that
leave the assignment or are sought elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from confluent_kafka import OFFSET_STORED, Consumer, KafkaError, TopicPartition

from streams.pipeline import RawRecord

log = logging.getLogger("hookgate.streams.raw_reader")

#: librdkafka's default for one partition's fetch; larger when a record may be larger.
_PARTITION_FETCH_BYTES = 1_048_576
#: Records librdkafka keeps fetched ahead per partition (its default is 64 MiB per partition).
_QUEUED_KBYTES = 16_384


class ReaderFailed(Exception):
    """The raw topic cannot be read any more (a fatal consumer error): the worker restarts."""


class RawReader:
    def __init__(
        self, client_config: Mapping[str, Any], topic: str, group: str, max_record_bytes: int
    ) -> None:
        partition_bytes = max(_PARTITION_FETCH_BYTES, max_record_bytes)
        self._topic = topic
        self._config = {
            **client_config,
            # Only for OFFSET_STORED (a start the runner could not read): the group's committed
            # offset. Never subscribing, this consumer never joins the group.
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            # Where a partition has no committed offset: Faust's consumer_auto_offset_reset.
            "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": partition_bytes,
            "fetch.max.bytes": max(52_428_800, partition_bytes),
            "receive.message.max.bytes": max(100_000_000, partition_bytes + 1_000_000),
            "queued.max.messages.kbytes": max(_QUEUED_KBYTES, 2 * partition_bytes // 1024),
            "enable.partition.eof": False,
        }
        #: Made on the first assignment: a worker that never gets one never connects.
        self._consumer: Consumer | None = None
        self._assigned: set[int] = set()

    def assign(self, starts: Mapping[int, int | None]) -> None:
        """Read exactly these partitions, each from its offset (``None``: the group's committed
        offset, else the log's start). Replaces the previous assignment."""
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        self._consumer.assign(
            [
                TopicPartition(self._topic, p, OFFSET_STORED if o is None else o)
                for p, o in sorted(starts.items())
            ]
        )
        self._assigned = set(starts)
        log.info("raw reader: reading partitions %s", sorted(starts))

    def take(self, limit: int) -> list[RawRecord]:
        """Up to ``limit`` records already fetched, in offset order per partition; never waits."""
        if not self._assigned or self._consumer is None:
            return []
        records: list[RawRecord] = []
        append = records.append
        topic = self._topic
        for message in self._consumer.consume(limit, 0):
            error = message.error()
            if error is not None:
                self._on_error(error)
                continue
            append(
                RawRecord(
                    topic=topic,
                    # Always set on a consumed record; the stubs say Optional for produced ones.
                    partition=cast(int, message.partition()),
                    offset=cast(int, message.offset()),
                    key=message.key(),
                    value=message.value(),
                    # A list of (name, bytes) pairs as the ingress wrote them (None: no headers).
                    headers=cast(list[tuple[str, bytes]], message.headers() or []),
                )
            )
        return records

    def highwater(self, partition: int) -> int | None:
        """The partition's end as the last fetch saw it (no request), ``None`` before one."""
        if self._consumer is None:
            return None
        try:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, partition), cached=True
            )
        except Exception:  # a metric's input: unknown will do
            return None
        return int(high) if high is not None and high >= 0 else None

    def close(self) -> None:
        self._assigned = set()
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise ReaderFailed(f"reading {self._topic}: {error.str()}")
        # Transient (a broker away, a leader moving): librdkafka retries by itself.
        log.warning("raw reader: %s", error.str())
