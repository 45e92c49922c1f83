"""Exactly once on the canonical topic: one Kafka transaction per input partition at a time.

For each raw-topic partition it owns, the worker keeps a transactional librdkafka producer with
``transactional.id = {app_id}-{raw topic}-{partition}``. Everything one partition's records
produce (canonical events, dead letters) goes into that partition's open transaction, and the
commit puts the partition's next offset into the same transaction
(``send_offsets_to_transaction``), so output and progress become visible together or not at all
to ``read_committed`` consumers.

Fencing: the id follows the partition, not the process. When a partition moves, its new owner's
``init_transactions`` bumps the id's epoch, which aborts the old owner's open transaction (or
waits for one being committed) and makes every later call of the old owner fail. The new owner
does this before Faust fetches the committed offsets (see ``streams/overrides.py``), so it starts
exactly where the last committed transaction ended.

Faust's own offset commits are switched off in this mode: a plain offset commit racing a
transactional one could move the group's offset backwards.

The de-duplication state is written outside the transactions (:mod:`streams.state`); the
runner flushes it before it hands this module what to commit (:meth:`Transactions.progress`).
While a commit runs (in a thread: librdkafka's calls block), new records of that partition are
held and produced into the next transaction, so processing does not stop for commits.

A commit that does not return within the transaction timeout plus a margin fails the worker
(``TransactionFailed``), which its supervisor restarts: librdkafka 2.16's
``send_offsets_to_transaction`` can wait past its own timeout while the group's coordinator is
lost (confluentinc/librdkafka#5456, #5511; RELIABILITY.md, "A broker that can fail").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from schemas.producer_bridge import PERMANENT_REFUSALS
from streams.emitter import LINGER_MS
from streams.errors import RecordRefused
from streams.metrics import WorkerMetrics
from streams.pipeline import Output, RawRecord
from streams.state import DedupState

log = logging.getLogger("hookgate.streams.transactions")

#: How long a partition's takeover may keep retrying ``init_transactions``.
_INIT_PATIENCE_S = 300.0
#: What a transaction may take beyond one commit interval before the broker aborts it: Kafka
#: Streams' exactly-once default. A commit after a broker loss was seen to take ~5 s here.
_TRANSACTION_SLACK_MS = 10_000
#: How long past the transaction timeout a commit is awaited before it is given up: by then
#: the broker has aborted it, and librdkafka usually says so itself (a clearer error).
COMMIT_DEADLINE_MARGIN_S = 5.0

_T = TypeVar("_T")


def transaction_timeout_ms_for(commit_interval_ms: int) -> int:
    """``transaction.timeout.ms`` for a worker committing every ``commit_interval_ms``.

    A transaction stays open one commit interval and then for its commit, so the timeout must
    exceed the interval. It also bounds the requests of a commit (librdkafka caps its
    ``socket.timeout.ms`` by it) and how long the other partitions' transactions stay open
    behind a stuck one before the broker aborts them; a call stuck on a lost group coordinator
    is not woken by that abort (RELIABILITY.md), hence :func:`call_with_deadline`.
    """
    return commit_interval_ms + _TRANSACTION_SLACK_MS


async def call_with_deadline(call: Callable[[], _T], deadline_s: float) -> _T:
    """``call()`` in a thread of its own; ``TimeoutError`` if it has not returned by then.

    A blocked librdkafka call cannot be interrupted. In a daemon thread it does not keep the
    process from exiting, where ``asyncio.to_thread``'s executor joins its threads at exit.
    """
    outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def run() -> None:
        if not outcome.set_running_or_notify_cancel():
            return
        try:
            outcome.set_result(call())
        except BaseException as exc:
            outcome.set_exception(exc)

    threading.Thread(target=run, name="hookgate-commit", daemon=True).start()
    return await asyncio.wait_for(asyncio.wrap_future(outcome), deadline_s)


class TransactionFailed(Exception):
    """A transaction could not be committed (fenced, aborted, timed out): the worker restarts,
    and the records of the transaction are read again from the last committed offset."""


OnRefused = Callable[[RawRecord, RecordRefused], Output]


class _PartitionTransaction:
    def __init__(self, partition: int, producer: Producer, on_refused: OnRefused) -> None:
        self.partition = partition
        self.producer = producer
        self.on_refused = on_refused
        #: The offset to commit: last record put into the open transaction + 1.
        self.next_offset: int | None = None
        self.acks: list[Callable[[], object]] = []
        self.records = 0
        self.committing = False
        #: Outputs of records read while the previous transaction was being committed.
        self.held: list[tuple[RawRecord, Output]] = []

    def produce(self, record: RawRecord, output: Output) -> None:
        if self.committing:
            self.held.append((record, output))
            return
        try:
            _produce(self.producer, output)
        except RecordRefused as refused:
            if output.dead_letter:
                raise
            # The client will never send this event (e.g. larger than message.max.bytes):
            # the raw record, which Kafka did take, goes to the dead-letter topic instead.
            _produce(self.producer, self.on_refused(record, refused))

    def release_held(self) -> None:
        held, self.held = self.held, []
        for record, output in held:
            self.produce(record, output)


def _produce(producer: Producer, output: Output) -> None:
    while True:
        try:
            producer.produce(
                output.topic,
                value=output.value,
                key=output.key,
                headers=output.headers,  # type: ignore[arg-type]
            )
            return
        except BufferError:
            # The local queue is full: serve delivery reports until there is room. Rare: a
            # commit every commit interval empties the queue.
            producer.poll(0.05)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() in PERMANENT_REFUSALS:
                raise RecordRefused(f"Kafka refused the record: {error.str()}") from None
            raise


@dataclass(frozen=True)
class _Commit:
    """One partition's open transaction as :meth:`Transactions.progress` took it."""

    txn: _PartitionTransaction
    offset: int
    acks: list[Callable[[], object]]
    records: int


class Transactions:
    def __init__(
        self,
        *,
        client_config: Mapping[str, Any],
        app_id: str,
        raw_topic: str,
        state: DedupState,
        metrics: WorkerMetrics,
        on_refused: OnRefused,
        timeout_s: float = 30.0,
        transaction_timeout_ms: int = transaction_timeout_ms_for(100),
        commit_deadline_s: float | None = None,
    ) -> None:
        self._on_refused = on_refused
        self._client_config = dict(client_config)
        self._app_id = app_id
        self._raw_topic = raw_topic
        self._state = state
        self._metrics = metrics
        self._timeout_s = timeout_s
        # An operator's own (kafka.client) wins: librdkafka refuses a message.timeout.ms or
        # socket.timeout.ms above it, so one who raised those must be able to raise it too.
        transaction_timeout_ms = int(
            self._client_config.pop("transaction.timeout.ms", transaction_timeout_ms)
        )
        self._transaction_timeout_ms = transaction_timeout_ms
        self._commit_deadline_s = (
            transaction_timeout_ms / 1000 + COMMIT_DEADLINE_MARGIN_S
            if commit_deadline_s is None
            else commit_deadline_s
        )
        self._open: dict[int, _PartitionTransaction] = {}
        self._group: object | None = None
        self._lock = asyncio.Lock()

    def owns(self, partition: int) -> bool:
        return partition in self._open

    async def assign(self, partitions: set[int]) -> None:
        """Own exactly ``partitions``: fence the previous owner of each new one, drop the rest."""
        async with self._lock:
            gone = set(self._open) - partitions
            for partition in gone:
                txn = self._open.pop(partition)
                self._state.forget(partition)
                # Committed at revocation; anything left is from records read after it.
                await asyncio.to_thread(_abandon, txn.producer, self._timeout_s)
            new = sorted(partitions - set(self._open))
            if new and self._group is None:
                self._group = await asyncio.to_thread(self._group_metadata)
            producers = await asyncio.gather(
                *(asyncio.to_thread(self._start_producer, p) for p in new)
            )
            for partition, producer in zip(new, producers, strict=True):
                self._open[partition] = _PartitionTransaction(partition, producer, self._on_refused)
            if new or gone:
                log.info("transactions: own partitions %s", sorted(self._open))

    def write(self, record: RawRecord, output: Output | None, ack: Callable[[], object]) -> bool:
        """Put one record's output and progress into its partition's open transaction.

        Returns ``False`` for a record of a partition this worker no longer owns: it is not
        processed here (its new owner reads it from the committed offset).
        """
        txn = self._open.get(record.partition)
        if txn is None:
            return False
        if output is not None:
            txn.produce(record, output)
        txn.next_offset = record.offset + 1
        txn.acks.append(ack)
        txn.records += 1
        return True

    def progress(self) -> list[_Commit] | None:
        """Take every open transaction that holds records: from here on, records of those
        partitions are held for the next one until :meth:`commit` ends."""
        work: list[_Commit] = []
        for txn in self._open.values():
            if txn.next_offset is not None:
                work.append(_Commit(txn, txn.next_offset, txn.acks, txn.records))
                txn.next_offset, txn.acks, txn.records = None, [], 0
                txn.committing = True
        return work or None

    async def commit(self, progress: list[_Commit]) -> int:
        """Commit the transactions :meth:`progress` took; returns how many."""
        async with self._lock:
            try:
                await asyncio.gather(*(self._commit(work) for work in progress))
            finally:
                for work in progress:
                    work.txn.committing = False
            return len(progress)

    async def close(self) -> None:
        async with self._lock:
            for txn in self._open.values():
                await asyncio.to_thread(_abandon, txn.producer, self._timeout_s)
            self._open.clear()

    async def _commit(self, work: _Commit) -> None:
        txn, offset, records = work.txn, work.offset, work.records
        started = time.monotonic()
        try:
            await call_with_deadline(
                lambda: self._commit_blocking(txn.producer, txn.partition, offset),
                self._commit_deadline_s,
            )
        except TimeoutError:
            self._metrics.transactions.labels("aborted").inc()
            raise TransactionFailed(
                f"partition {txn.partition}: commit up to offset {offset} did not return "
                f"within {self._commit_deadline_s:.0f} s"
            ) from None
        except BaseException:
            self._metrics.transactions.labels("aborted").inc()
            raise
        txn.committing = False
        txn.release_held()
        self._metrics.transactions.labels("committed").inc()
        self._metrics.transaction_records.observe(records)
        self._metrics.commit_seconds.observe(time.monotonic() - started)
        for ack in work.acks:
            ack()

    def _commit_blocking(self, producer: Producer, partition: int, offset: int) -> None:
        offsets = [TopicPartition(self._raw_topic, partition, offset)]
        try:
            producer.send_offsets_to_transaction(offsets, self._group, self._timeout_s)
            producer.commit_transaction(self._timeout_s)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.txn_requires_abort():
                _abandon(producer, self._timeout_s)
            raise TransactionFailed(
                f"partition {partition}: commit up to offset {offset} failed: {error.str()}"
            ) from None
        producer.begin_transaction()

    def _start_producer(self, partition: int) -> Producer:
        producer = Producer(
            {
                **self._client_config,
                "transactional.id": f"{self._app_id}-{self._raw_topic}-{partition}",
                # Last, so client settings cannot weaken the guarantee.
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": LINGER_MS,
                # Errors reach commit_transaction(); successes need no callback per record.
                "delivery.report.only.error": True,
                "transaction.timeout.ms": self._transaction_timeout_ms,
            }
        )
        deadline = time.monotonic() + _INIT_PATIENCE_S
        while True:
            try:
                # Fences the partition's previous owner and settles its open transaction.
                producer.init_transactions(self._timeout_s)
                producer.begin_transaction()
                return producer
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                # A young cluster creates its transaction-state topic on first use, and a
                # previous owner's transaction may take a while to abort: both are retriable.
                if error.retriable() and time.monotonic() < deadline:
                    log.info("transactions: partition %d: %s; retrying", partition, error.str())
                    continue
                raise TransactionFailed(
                    f"partition {partition}: cannot start transactions: {error.str()}"
                ) from None

    def _group_metadata(self) -> object:
        # The group's metadata without joining it: offsets are fenced by transactional id
        # (one per input partition), so no generation is needed.
        consumer = Consumer({**self._client_config, "group.id": self._app_id})
        try:
            return consumer.consumer_group_metadata()
        finally:
            consumer.close()


def _abandon(producer: Producer, timeout_s: float) -> None:
    try:
        producer.abort_transaction(timeout_s)
    except KafkaException as exc:
        log.info("transactions: abort on close: %s", exc.args[0].str())
