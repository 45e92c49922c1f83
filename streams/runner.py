"""Runs the stage over the stream and commits progress in the configured guarantee's way.

Per raw record, in plain calls: the stage decides (:mod:`streams.pipeline`), the de-duplication
entry is written (:mod:`streams.state`), the output goes to the sink: a partition's Kafka
transaction (:mod:`streams.exactly_once`) or the idempotent producer
(:mod:`streams.at_least_once`). Writes only queue records in librdkafka; nothing waits per record
but for room when ``max_in_flight`` records are unacknowledged.

Every commit interval, and before Faust gives partitions away, the runner commits: it pauses the
records, takes what the sink may commit, flushes the worker's producer (every canonical event,
dead letter and state write so far acknowledged, else the worker stops), and lets the records go
on while the sink commits what it took. Raw records are acked to Faust only once committed,
which is what Faust waits for before it hands partitions over in a rebalance.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from confluent_kafka import KafkaException

from streams.emitter import Emits
from streams.errors import RecordRefused
from streams.metrics import WorkerMetrics
from streams.overrides import in_partition
from streams.pipeline import Output, RawRecord, Stage
from streams.state import DedupState

log = logging.getLogger("hookgate.streams.runner")

#: Records of a batch between two turns of the event loop.
_YIELD_EVERY = 200


P = TypeVar("P")


class Sink(Protocol[P]):
    async def assign(self, partitions: set[int]) -> None: ...

    def write(self, record: RawRecord, output: Output | None, ack: Callable[[], object]) -> bool:
        """Queue the record's output; ``False`` if its partition is no longer owned here."""
        ...

    def progress(self) -> P | None:
        """Take what the records written so far let commit once flushed (records are paused)."""
        ...

    async def commit(self, progress: P) -> int:
        """Commit what :meth:`progress` took (records go on meanwhile); raises on failure."""
        ...

    async def close(self) -> None: ...


class Runner:
    def __init__(
        self,
        *,
        stage: Stage,
        state: DedupState,
        emitter: Emits,
        metrics: WorkerMetrics,
        highwater: Callable[[int], int | None],
        crash: Callable[[BaseException], None],
        starts: Callable[[set[int]], Mapping[int, int]] = lambda partitions: {},
    ) -> None:
        self.stage = stage
        self.state = state
        self.sink: Sink[Any] | None = None
        self._emitter = emitter
        #: Held while records are written, and while a commit takes the sink's progress and
        #: flushes: a flush waits for everything written, so nothing is written meanwhile.
        self._writing = asyncio.Lock()
        self._committing = asyncio.Lock()
        self._metrics = metrics
        self._highwater = highwater
        self._crash = crash
        self._starts = starts
        self._owned: set[int] = set()
        #: Per owned partition, the next offset to process.
        self._position: dict[int, int] = {}
        self._committed_at = time.monotonic()
        #: When the last record was taken (or partitions were assigned): the liveness clock.
        self.taken_at = time.monotonic()
        self._failed = False
        #: Per partition, records taken and not yet acked (committed, skipped or given away).
        self._unacked: dict[int, int] = {}
        self._acks: dict[int, Callable[[], None]] = {}
        # Seconds since all processed work was last committed, read at scrape time.
        metrics.commit_age.set_function(lambda: time.monotonic() - self._committed_at)

    def dead_letter(self, record: RawRecord, error: RecordRefused) -> Output:
        result = self.stage.dead_letter(record, error)
        self._metrics.dead_letters.labels(result.reason).inc()
        if result.output is None:  # pragma: no cover - dead_letter always has one
            raise RuntimeError("a dead letter without output")
        return result.output

    @property
    def unacked(self) -> int:
        """Records taken and not yet committed (Faust waits for none before a rebalance)."""
        return sum(self._unacked.values())

    async def handle_batch(self, records: Sequence[RawRecord]) -> None:
        """Raw records as the reader took them, in offset order per partition."""
        emitter = self._emitter
        for start in range(0, len(records), _YIELD_EVERY):
            if start:
                # A batch can hold a thousand records and nothing below suspends while the
                # producer has room: let commits and /healthz run between the slices.
                await asyncio.sleep(0)
            async with self._writing:
                for record in records[start : start + _YIELD_EVERY]:
                    if not emitter.has_room():
                        await emitter.room()
                    partition = record.partition
                    ack = self._acks.get(partition)
                    if ack is None:
                        ack = self._acks[partition] = functools.partial(self._ack, partition)
                    self._unacked[partition] = self._unacked.get(partition, 0) + 1
                    self.handle(record, ack)
                    if self._failed:
                        return  # stopping: the rest is read again after the restart

    def _ack(self, partition: int) -> None:
        if partition in self._unacked:
            self._unacked[partition] -= 1

    def handle(self, record: RawRecord, ack: Callable[[], object]) -> None:
        """One record, from the stage to the sink; a write that fails stops the worker."""
        sink = self._sink()
        self.taken_at = time.monotonic()
        expected = self._position.get(record.partition)
        if expected is not None and record.offset != expected:
            if record.offset < expected:
                # Handed out again within one assignment (Faust re-reads from the committed
                # offset after its seek): already in the open transaction or committed.
                ack()
                return
            # A record was skipped: committing past it would lose it.
            self._failed = True
            error = RuntimeError(
                f"partition {record.partition}: got offset {record.offset}, expected {expected}"
            )
            log.error("stopping the worker: %s", error)
            self._crash(error)
            return
        in_partition(record.partition)  # for the table's store (overrides 7.)
        result = self.stage.handle(record)
        try:
            if result.state is not None:
                self.state.put(*result.state)
            written = sink.write(record, result.output, ack)
        except Exception as exc:
            # The producer failed, or refused a dead letter: what was not written is read
            # again after the restart, from the last commit.
            self._failed = True
            log.error("stopping the worker: writing %s failed: %s", _coordinates(record), exc)
            self._crash(exc)
            return
        if not written:
            ack()  # the partition moved away: its new owner reads the record
            return
        self._position[record.partition] = record.offset + 1
        self._metrics.records.labels(result.outcome).inc()
        if result.outcome == "duplicate":
            self._metrics.duplicates.labels(result.source).inc()
        elif result.outcome == "dead_lettered":
            self._metrics.dead_letters.labels(result.reason).inc()

    async def assign(self, partitions: set[int]) -> None:
        await self._sink().assign(partitions)
        # Everything processed of a kept partition was committed when it was revoked, so it
        # resumes at the recorded position; a partition that moved away forgets it.
        for gone in set(self._position) - partitions:
            del self._position[gone]
        for gone in set(self._unacked) - partitions:
            # Given away uncommitted: the new owner reads those records again.
            del self._unacked[gone]
        # A new partition resumes where the broker says (its committed offset, which the sink's
        # takeover just settled, or the log's start), so a first record past that shows records
        # were dropped on the way and stops the worker instead of committing past them.
        fresh = partitions - set(self._position)
        if fresh:
            try:
                starts = await asyncio.to_thread(self._starts, fresh)
            except KafkaException as exc:
                log.warning("start offsets not read (%s): the first records set them", exc)
            else:
                self._position.update({p: o for p, o in starts.items() if p in fresh})
        for gone in self._owned - partitions:
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(str(gone))
        self._owned = set(partitions)
        self.taken_at = time.monotonic()

    @property
    def owned(self) -> set[int]:
        return set(self._owned)

    def positions(self) -> dict[int, int]:
        """Per owned partition that took a record since it was assigned, the next offset."""
        return dict(self._position)

    async def commit(self) -> bool:
        """Commit what was processed; a failure stops the worker (restart = redo from commit).

        Returns ``False`` once a commit has failed: nothing will be committed any more.
        """
        if self._failed:
            return False
        sink = self.sink
        if sink is None:
            return True
        try:
            # One commit at a time, so the next one takes what this one left (on revocation,
            # everything processed); records go on while the sink commits.
            async with self._committing:
                async with self._writing:
                    progress = sink.progress()
                    if progress is not None:
                        await self._emitter.flushed()
                if progress is not None:
                    await sink.commit(progress)
        except Exception as exc:
            self._failed = True
            log.error("commit failed, stopping the worker: %s", exc)
            self._crash(exc)
            return False
        self._committed_at = time.monotonic()
        self._observe()
        return True

    async def expire(self) -> None:
        async with self._writing:
            removed = await self.state.expire(set(self._owned))
        if removed:
            self._metrics.state_expired.inc(removed)
            log.info("expired %d de-duplication entries", removed)

    async def close(self) -> None:
        if self.sink is not None and not self._failed:
            await self.commit()
            await self.sink.close()

    def _observe(self) -> None:
        for partition in self._owned:
            highwater = self._highwater(partition)
            position = self._position.get(partition)
            if highwater is not None and position is not None:
                self._metrics.consumer_lag.labels(str(partition)).set(max(highwater - position, 0))

    def _sink(self) -> Sink[Any]:
        if self.sink is None:
            raise RuntimeError("the runner has no sink: create_app() sets one")
        return self.sink


def _coordinates(record: RawRecord) -> str:
    return f"the output of {record.topic}[{record.partition}]@{record.offset}"
