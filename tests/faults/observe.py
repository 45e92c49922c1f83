"""Watching the pipeline from outside, as its consumers and operators would.

- :class:`OutputObserver` follows the canonical and dead-letter topics with ``read_committed``
  while the run goes on (progress for the fault script, "is everything out yet").
- :class:`CommitWatch` follows the worker group's committed offsets on the raw topic against the
  topic's end offsets (OffsetFetch, without joining the group): the commit-stall detector's eyes.
- :func:`read_outputs` reads both topics once more from the start, for the reconciliation.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)

from schemas.config import TopicSpec
from tests.faults.pipeline import SOURCE

CANONICAL_SOURCE = f"/hookgate/{SOURCE}"
_KEY_PREFIX = f"{SOURCE}:".encode()


def _quiet(config: dict[str, Any]) -> dict[str, Any]:
    # The broker is stopped on purpose in some scenarios: no connection-refused log spam.
    return {**config, "log_level": 0, "error_cb": lambda error: None}


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        _quiet(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"faults-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
    )


@dataclass
class Outputs:
    #: (ce_source, ce_id) -> how many canonical records carry it.
    canonical: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: event id -> dead letters of our source's records.
    dead_letters: Counter[str] = field(default_factory=Counter)
    #: Dead letters by ``hookgate-dlq-reason``.
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, message: Message, *, dead_letter: bool) -> None:
        found = message.headers() or []
        pairs = found.items() if isinstance(found, dict) else found
        headers = {k: v for k, v in pairs if isinstance(v, bytes)}
        if dead_letter:
            key = message.key()
            if isinstance(key, bytes) and key.startswith(_KEY_PREFIX):
                self.dead_letters[key[len(_KEY_PREFIX) :].decode(errors="replace")] += 1
                reason = headers.get("hookgate-dlq-reason", b"?").decode(errors="replace")
                self.dead_letter_reasons[reason] += 1
            return
        source = headers.get("ce_source", b"").decode(errors="replace")
        event_id = headers.get("ce_id", b"").decode(errors="replace")
        self.canonical[(source, event_id)] += 1

    def ids_out(self) -> set[str]:
        """Our source's event ids that came out, as a canonical event or a dead letter."""
        ours = {event_id for source, event_id in self.canonical if source == CANONICAL_SOURCE}
        return ours | set(self.dead_letters)


class OutputObserver:
    def __init__(self, bootstrap: str, canonical: TopicSpec, dead_letter: TopicSpec) -> None:
        self._bootstrap = bootstrap
        self._canonical = canonical
        self._dead_letter = dead_letter
        self._outputs = Outputs()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="observer", daemon=True)
        #: Why the observer stopped following, if it failed.
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def ids_out(self) -> set[str]:
        with self._lock:
            return self._outputs.ids_out()

    def _follow(self) -> None:
        try:
            consumer = _consumer(self._bootstrap)
        except BaseException as exc:
            self.error = exc
            return
        try:
            # Partitions from the config, not from metadata: a topic created a moment ago may
            # not list its partitions yet.
            consumer.assign(_beginnings(self._canonical, self._dead_letter))
            while not self._stop.is_set():
                batch = consumer.consume(500, 0.2)
                with self._lock:
                    for message in batch:
                        if message.error() is None:
                            dead_letter = message.topic() == self._dead_letter.name
                            self._outputs.add(message, dead_letter=dead_letter)
        except BaseException as exc:
            self.error = exc
        finally:
            consumer.close()


def _beginnings(*topics: TopicSpec) -> list[TopicPartition]:
    return [
        TopicPartition(topic.name, p, OFFSET_BEGINNING)
        for topic in topics
        for p in range(topic.partitions)
    ]


def read_outputs(
    bootstrap: str, canonical: TopicSpec, dead_letter: TopicSpec, timeout: float = 120
) -> Outputs:
    """Both topics from the start to their current end, ``read_committed``."""
    outputs = Outputs()
    consumer = _consumer(bootstrap)
    try:
        assignment = _beginnings(canonical, dead_letter)
        ends = {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=30)[1]
            for tp in assignment
        }
        consumer.assign(assignment)
        pending = {tp for tp, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                if message.error() is None:
                    outputs.add(message, dead_letter=message.topic() == dead_letter.name)
            # Positions, not the last record's offset: under read_committed a partition may
            # end in a transaction marker, which the consumer skips without returning it.
            positions = consumer.position([TopicPartition(t, p) for t, p in pending])
            pending = {
                (tp.topic, tp.partition)
                for tp in positions
                if tp.offset < ends[(tp.topic, tp.partition)]
            }
        if pending:
            raise AssertionError(f"could not read {sorted(pending)} to the end in {timeout:g} s")
        return outputs
    finally:
        consumer.close()


@dataclass(frozen=True)
class CommitSample:
    at: float
    #: Raw records not yet covered by the group's committed offsets (end - committed).
    lag: int
    #: Seconds since the committed offsets last moved.
    standstill: float


class CommitWatch:
    """Samples the worker group's committed offsets on the raw topic against its end offsets."""

    def __init__(
        self, bootstrap: str, group: str, topic: str, partitions: int, every: float = 0.5
    ) -> None:
        self._bootstrap = bootstrap
        self._group = group
        self._topic = topic
        self._partitions = partitions
        self._every = every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="commit-watch", daemon=True)
        self.latest: CommitSample | None = None
        #: The longest time the committed offsets stood still while behind the end, in seconds.
        self.max_standstill = 0.0
        #: Why the watch stopped sampling, if it failed.
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _watch(self) -> None:
        try:
            self._sample_until_stopped()
        except BaseException as exc:
            self.error = exc

    def _sample_until_stopped(self) -> None:
        # The group's committed offsets through a consumer of that group that never joins it
        # (an OffsetFetch, as the admin API's list_consumer_group_offsets sends): the admin
        # client of librdkafka 2.16 aborted the process (rd_kafka_enq_once_del_source_return
        # assertion) while the broker restarted under it.
        offsets_reader = Consumer(
            _quiet(
                {
                    "bootstrap.servers": self._bootstrap,
                    "group.id": self._group,
                    "enable.auto.commit": False,
                }
            )
        )
        ends_reader = _consumer(self._bootstrap)
        partitions = [TopicPartition(self._topic, p) for p in range(self._partitions)]
        last_committed: list[int] | None = None
        moved_at = time.monotonic()
        try:
            while not self._stop.wait(self._every):
                try:
                    committed = [
                        tp.offset for tp in offsets_reader.committed(partitions, timeout=5)
                    ]
                    ends = [
                        ends_reader.get_watermark_offsets(tp, timeout=5, cached=False)[1]
                        for tp in partitions
                    ]
                except (KafkaException, RuntimeError, TimeoutError):
                    continue  # broker down or slow: no sample
                now = time.monotonic()
                if committed != last_committed:
                    last_committed, moved_at = committed, now
                lag = sum(end - max(c, 0) for end, c in zip(ends, committed, strict=True))
                sample = CommitSample(now, lag, now - moved_at)
                with self._lock:
                    self.latest = sample
                    # From the group's first commit on: before it, the wait is start-up.
                    if lag > 0 and max(committed) >= 0:
                        self.max_standstill = max(self.max_standstill, sample.standstill)
        finally:
            ends_reader.close()
            offsets_reader.close()

    def sample(self) -> CommitSample | None:
        with self._lock:
            return self.latest
