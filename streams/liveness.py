"""The worker's check of itself: records waiting on an owned partition, and none taken, is stuck.

Measured (RELIABILITY.md, "a worker sometimes stops taking records"): now and then, after a
start or a rebalance, Faust's consumer hands the agent nothing although the worker owns
partitions with records waiting, and a restart always resumes it. A stuck worker is silent: it
keeps its partitions, its group session and its health page. So the worker watches its own
progress against the broker, the way an operator's lag alert would, and when records have
waited ``stall_timeout_s`` without one being taken it logs what Faust's consumer looked like and
stops with an error, for its supervisor (Kubernetes, compose's restart policy) to start it
again from the last commit. Nothing is lost or duplicated by that: the stop commits what was
processed, the rest is read again.

Time spent rebalancing or recovering the table does not count: a worker recovering a large
store is slow, not stuck.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

log = logging.getLogger("hookgate.streams.liveness")

#: The worker's exit status when it stopped itself for being stuck (``EX_TEMPFAIL``: try again).
EXIT_STALLED = 75


class WorkerStalled(Exception):
    """Records waited on owned partitions and none was taken for the stall timeout."""


def waiting(
    owned: set[int],
    positions: Mapping[int, int],
    committed: Mapping[int, int],
    watermarks: Mapping[int, tuple[int, int]],
) -> dict[int, int]:
    """Per owned partition with records to take, how many.

    The next record to take is the runner's position once it took one since the partition was
    assigned, else the group's committed offset, else the start of the log.
    """
    result: dict[int, int] = {}
    for partition in owned:
        if partition not in watermarks:
            continue
        low, high = watermarks[partition]
        start = positions.get(partition, committed.get(partition, low))
        if high > max(start, low):
            result[partition] = high - max(start, low)
    return result


@dataclass
class Progress:
    """What the runner tells the check: partitions, positions, when it last took a record."""

    owned: Callable[[], set[int]]
    positions: Callable[[], Mapping[int, int]]
    taken_at: Callable[[], float]


class Liveness:
    """Called every check interval from a timer; ``probe`` runs in a thread (it blocks)."""

    def __init__(
        self,
        *,
        client_config: Mapping[str, Any],
        group: str,
        topic: str,
        stall_timeout_s: float,
        progress: Progress,
        describe: Callable[[], str],
    ) -> None:
        self._client_config = dict(client_config)
        self._group = group
        self._topic = topic
        self._stall_timeout_s = stall_timeout_s
        self._progress = progress
        self._describe = describe
        self._busy_until = 0.0
        self._consumer: Consumer | None = None
        # A probe (in a thread) and close (at stop) never use the client at once.
        self._client_lock = threading.Lock()

    def note_busy(self, now: float) -> None:
        """Rebalancing or recovering right now: the stall clock starts again from here."""
        self._busy_until = now

    def probe(self) -> dict[int, int]:
        """Ask the broker how many records wait on the owned partitions (blocking)."""
        owned = self._progress.owned()
        if not owned:
            return {}
        with self._client_lock:
            consumer = self._client()
            partitions = [TopicPartition(self._topic, p) for p in sorted(owned)]
            committed = {
                tp.partition: tp.offset
                for tp in consumer.committed(partitions, timeout=10)
                if tp.offset != OFFSET_INVALID and tp.offset >= 0
            }
            watermarks = {
                p: consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=10)
                for p in sorted(owned)
            }
        return waiting(owned, self._progress.positions(), committed, watermarks)

    def verdict(self, now: float, waiting_records: Mapping[int, int]) -> WorkerStalled | None:
        """The error to stop with, or ``None`` while the worker is not stuck."""
        if not waiting_records:
            return None
        quiet_for = now - max(self._progress.taken_at(), self._busy_until)
        if quiet_for < self._stall_timeout_s:
            return None
        summary = ", ".join(f"partition {p}: {n}" for p, n in sorted(waiting_records.items()))
        log.error(
            "no record taken for %.0f s while records wait (%s); stopping for a restart. "
            "Consumer state: %s",
            quiet_for,
            summary,
            self._describe(),
        )
        return WorkerStalled(
            f"no record taken for {quiet_for:.0f} s while records wait ({summary})"
        )

    def close(self) -> None:
        with self._client_lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None

    def _client(self) -> Consumer:
        # Never subscribes: it only reads the group's committed offsets and the log's ends.
        if self._consumer is None:
            self._consumer = Consumer(
                {**self._client_config, "group.id": self._group, "enable.auto.commit": False}
            )
        return self._consumer
