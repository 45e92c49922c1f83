"""At least once: outputs through one idempotent producer, offsets committed behind them.

The fast alternative to :mod:`streams.exactly_once` (``worker.guarantee: at_least_once``).
Canonical events and dead letters go through the worker's producer (:mod:`streams.emitter`),
like the de-duplication state. Every commit interval the runner pauses the records, flushes that
producer and, once everything written so far is acknowledged, commits the offset after the last
record written of each partition (:meth:`Acknowledged.commit`). A crash between an output and
the commit that covers it sends that output again when the record is read again: with the same
``ce_source`` + ``ce_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from streams.emitter import Emits
from streams.errors import RecordRefused
from streams.pipeline import Output, RawRecord
from streams.state import DedupState

CommitOffsets = Callable[[dict[int, int]], Awaitable[bool]]


@dataclass
class _Partition:
    #: The offset to commit: the last record written + 1 (None: nothing since the last commit).
    next_offset: int | None = None
    acks: list[Callable[[], object]] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    """What one commit covers: per partition, the offset to commit and the records' acks."""

    offsets: dict[int, int]
    acks: list[Callable[[], object]]


class Acknowledged:
    def __init__(
        self,
        *,
        emitter: Emits,
        state: DedupState,
        commit_offsets: CommitOffsets,
        on_refused: Callable[[RawRecord, RecordRefused], Output],
    ) -> None:
        self._emitter = emitter
        self._state = state
        self._commit_offsets = commit_offsets
        self._on_refused = on_refused
        self._partitions: dict[int, _Partition] = {}

    async def assign(self, partitions: set[int]) -> None:
        for partition in set(self._partitions) - partitions:
            del self._partitions[partition]
            self._state.forget(partition)

    def write(self, record: RawRecord, output: Output | None, ack: Callable[[], object]) -> bool:
        """Queue the record's output; its offset is committed once a flush after it succeeded.

        Raises what the emitter raises (:class:`~streams.emitter.EmitFailed`): the worker stops.
        """
        if output is not None:
            try:
                self._emitter.write(output.topic, output.key, output.value, output.headers)
            except RecordRefused as refused:
                if output.dead_letter:
                    raise
                # The client will never send this event (e.g. larger than message.max.bytes):
                # the raw record, which Kafka did take, goes to the dead-letter topic instead.
                letter = self._on_refused(record, refused)
                self._emitter.write(letter.topic, letter.key, letter.value, letter.headers)
        partition = self._partitions.get(record.partition)
        if partition is None:
            partition = self._partitions[record.partition] = _Partition()
        partition.next_offset = record.offset + 1
        partition.acks.append(ack)
        return True

    def progress(self) -> Progress | None:
        """Take what the records written so far let commit (once flushed); None if nothing."""
        offsets: dict[int, int] = {}
        acks: list[Callable[[], object]] = []
        for number, partition in self._partitions.items():
            if partition.next_offset is not None:
                offsets[number] = partition.next_offset
                acks.extend(partition.acks)
                partition.next_offset, partition.acks = None, []
        return Progress(offsets, acks) if offsets else None

    async def commit(self, progress: Progress) -> int:
        """Commit the offsets of ``progress``, whose outputs and state were flushed; returns the
        number of partitions."""
        # Faust's commit answers False when the group already rebalanced: then the new owner
        # reads these records again, which at-least-once allows.
        await self._commit_offsets(progress.offsets)
        for ack in progress.acks:
            ack()
        return len(progress.offsets)

    async def close(self) -> None:
        self._partitions.clear()
