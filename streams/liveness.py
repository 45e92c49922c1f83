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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streams.offsets import GroupOffsets, PartitionOffsets

log = logging.getLogger("hookgate.streams.liveness")

#: The worker's exit status when it stopped itself for being stuck (``EX_TEMPFAIL``: try again).
EXIT_STALLED = 75


class WorkerStalled(Exception):
    """Records waited on owned partitions and none was taken for the stall timeout."""


def waiting(
    positions: Mapping[int, int], offsets: Mapping[int, PartitionOffsets]
) -> dict[int, int]:
    """Per partition with records to take, how many: from the runner's position once it has
    one, else from where the partition resumes (committed offset or the log's start). A
    partition with neither a position nor a known committed offset is left out: nobody can say."""
    result: dict[int, int] = {}
    for partition, bounds in offsets.items():
        position = positions.get(partition)
        if position is None and not bounds.committed_known:
            continue
        start = max(position if position is not None else bounds.start, bounds.low)
        if bounds.high > start:
            result[partition] = bounds.high - start
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
        offsets: GroupOffsets,
        stall_timeout_s: float,
        progress: Progress,
        describe: Callable[[], str],
    ) -> None:
        self._offsets = offsets
        self._stall_timeout_s = stall_timeout_s
        self._progress = progress
        self._describe = describe
        self._busy_until = 0.0

    def note_busy(self, now: float) -> None:
        """Rebalancing or recovering right now: the stall clock starts again from here."""
        self._busy_until = now

    def probe(self) -> dict[int, int]:
        """Ask the broker how many records wait on the owned partitions (blocking)."""
        owned = self._progress.owned()
        return waiting(self._progress.positions(), self._offsets.read_available(owned))

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
