"""At least once: outputs through one idempotent producer, offsets committed behind them.

The fast alternative to :mod:`streams.exactly_once` (``worker.guarantee: at_least_once``). A
record's offset becomes committable once its output (canonical event or dead letter) is
acknowledged by the broker and every earlier record of its partition is done too; the runner
commits the committable offsets every commit interval, after the state writes they depend on
are acknowledged. A crash between an output and the commit that covers it sends that output
again when the record is read again: with the same ``ce_source`` + ``ce_id``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from streams.emitter import Emits
from streams.errors import RecordRefused
from streams.pipeline import Output, RawRecord
from streams.state import DedupState

CommitOffsets = Callable[[dict[int, int]], Awaitable[bool]]


class OutputFailed(Exception):
    """An output failed after the producer's retries: the worker restarts from its last commit."""


@dataclass
class _Pending:
    offset: int
    state_upto: int
    ack: Callable[[], object]
    done: bool = False


@dataclass
class _Partition:
    pending: deque[_Pending] = field(default_factory=deque)
    #: The offset to commit (first record not yet done) and the state writes it depends on.
    committable: int | None = None
    state_upto: int = 0
    acks: list[Callable[[], object]] = field(default_factory=list)


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
        self._partitions: dict[int, _Partition] = defaultdict(_Partition)
        self._failure: BaseException | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Future[None]] = set()

    async def assign(self, partitions: set[int]) -> None:
        for partition in set(self._partitions) - partitions:
            del self._partitions[partition]
            self._state.forget(partition)

    async def write(
        self, record: RawRecord, output: Output | None, ack: Callable[[], object]
    ) -> bool:
        if self._failure is not None:
            raise OutputFailed(str(self._failure)) from self._failure
        partition = self._partitions[record.partition]
        entry = _Pending(record.offset, self._state.issued(record.partition), ack)
        partition.pending.append(entry)
        if output is None:
            self._complete(partition, entry)
        else:
            await self._emit(record, output, partition, entry)
        return True

    async def _emit(
        self, record: RawRecord, output: Output, partition: _Partition, entry: _Pending
    ) -> None:
        def done(error: BaseException | None) -> None:
            if isinstance(error, RecordRefused) and not output.dead_letter:
                # The broker will never take this event (e.g. too large): the raw record,
                # which it did take, goes to the dead-letter topic instead.
                letter = self._on_refused(record, error)
                task = asyncio.ensure_future(self._emit(record, letter, partition, entry))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
            if error is not None:
                if self._failure is None:
                    self._failure = error
                return
            self._complete(partition, entry)

        await self._emitter.emit(output.topic, output.key, output.value, output.headers, done)

    @staticmethod
    def _complete(partition: _Partition, entry: _Pending) -> None:
        entry.done = True
        while partition.pending and partition.pending[0].done:
            head = partition.pending.popleft()
            partition.committable = head.offset + 1
            partition.state_upto = head.state_upto
            partition.acks.append(head.ack)

    async def commit(self) -> int:
        async with self._lock:
            if self._failure is not None:
                raise OutputFailed(str(self._failure)) from self._failure
            # Taken before any wait: what completes meanwhile belongs to the next commit,
            # whose state writes this one has not waited for.
            work: list[tuple[int, int, int, list[Callable[[], object]]]] = []
            for number, partition in self._partitions.items():
                if partition.committable is not None:
                    work.append(
                        (number, partition.committable, partition.state_upto, partition.acks)
                    )
                    partition.committable, partition.acks = None, []
            if not work:
                return 0
            for number, _, state_upto, _ in work:
                await self._state.durable(number, state_upto)
            # Faust's commit answers False when the group already rebalanced: then the new
            # owner reads these records again, which at-least-once allows.
            await self._commit_offsets({number: offset for number, offset, _, _ in work})
            for _, _, _, acks in work:
                for ack in acks:
                    ack()
            return len(work)

    async def close(self) -> None:
        await self.commit()
