"""The few places where the worker changes Faust's behaviour, each with its reason.

Faust stays the framework: app, agent, table, changelog, recovery, consumer group. What it gets
wrong for this worker (issue 7, measured under SIGKILL; upstream faust-streaming #177, #517) is
progress: its exactly-once mode sends output outside the transactions and commits before its
buffer is flushed, and its ack-based offset commits were seen to stall for minutes after a
restart. So progress is the runner's (:mod:`streams.runner`), and Faust is told so (1-3); what
it got wrong at the end of a table recovery is mended (4, 5); and its per-record delivery, the
largest cost in the worker's profile, is not used for the raw topic (6, 7):

1. **Do not commit offsets.** The runner commits them (in a transaction, or behind the output
   acknowledgements). A second committer could move the group's offset backwards.
2. **Before giving partitions away, or stopping, let the runner commit** what it processed, so
   the next owner starts after it. Faust waits there until every record it handed out is acked
   (``_consumer_wait_empty``; for the records of 6., until the runner holds no record taken and
   not committed), and the runner acks only what it committed; Faust's timers have
   already stopped when the app stops, so the runner commits from inside that wait.
3. **Before resuming newly assigned partitions, let the runner take them over**: in exactly-once
   mode that fences their previous owner and settles its open transaction, before Faust reads
   the committed offsets it resumes from (which it does after table recovery).
4. **Empty the agent's queue only when flow resumes after a suspension.** Faust's flow control
   empties every stream queue on each ``resume()``, and table recovery calls it twice: to read
   the changelog, and again after it resumed the stream partitions and sought them to their
   committed offsets. Records fetched in between and not yet taken by a busy agent were dropped:
   a partition with a committed offset read them again only if the seek came after them, one
   without never did, and the worker sat on them until restarted (measured: the stuck worker
   of RELIABILITY.md; ``tests/e2e/test_worker_restart_window.py``). What a suspension makes stale
   (records of the previous assignment) is still dropped on the first resume.
5. **Fetch for the partitions that were active when the fetch was asked for.** Faust hands the
   consumer thread its live set of active partitions, and aiokafka reads an empty set as "every
   partition". Table recovery pauses everything for a moment (changelog read, stream partitions
   not yet resumed); a fetch waiting then drained the stream partitions' records, which Faust
   then dropped as not active: the same stuck worker. The thread gets a snapshot, and an empty
   one fetches nothing (after a short wait, as an empty fetch would).
6. **Do not fetch the raw topic.** Faust stays subscribed to it, so the group assigns its
   partitions here (and the table's partitions follow them), but its records are read through
   librdkafka by :mod:`streams.raw_reader`. Faust delivered each record on its own (a
   ``wait_first`` per record in the fetcher, then the conductor, the agent's stream queue and
   its iterator: several times the worker's own work per record), and once that was batched,
   aiokafka's parsing of each fetch in Python was still a fifth of the GIL's time
   (bench/README.md). The consumer thread pauses the raw partitions in aiokafka as they are
   assigned and leaves them out of every fetch; other topics (a table's changelog during
   recovery) still go Faust's way.
7. **Name the partition of a table write.** Faust's RocksDB store (one database per partition)
   takes a write's partition from the event being processed, which records read beside Faust
   (6.) do not have:
   :func:`in_partition` sets what the store reads, before the runner touches the table for a
   record. The memory store ignores it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence, Set
from types import SimpleNamespace
from typing import Any, cast

import faust
from aiokafka.structs import TopicPartition
from faust import streams as faust_streams
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP
from mode import ServiceT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

_COMMIT_ROUNDS = 200
#: How long a fetch with no partition to fetch waits before it answers nothing (5., 6.).
_NOTHING_TO_FETCH_S = 0.1


class _PartitionEvent:
    """The part of a Faust event its stores read: ``event.message.partition``."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


_PARTITION_EVENTS: dict[int, tuple[_PartitionEvent, weakref.ref[_PartitionEvent]]] = {}


def in_partition(partition: int) -> None:
    """Table reads and writes from here on are for ``partition`` (7.)."""
    entry = _PARTITION_EVENTS.get(partition)
    if entry is None:
        event = _PartitionEvent(partition)
        entry = _PARTITION_EVENTS[partition] = (event, weakref.ref(event))
    faust_streams._current_event.set(entry[1])  # type: ignore[arg-type]


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: Set[TP],
        timeout: float | None = None,  # noqa: ASYNC109 - Faust's signature, passed through
        max_records: int | None = None,
    ) -> Any:
        raw_topic = cast(WorkerApp, self.app).raw_topic_name
        snapshot = frozenset(tp for tp in active_partitions if tp.topic != raw_topic)  # 5., 6.
        if not snapshot:
            # Nothing to fetch is the normal state now (the raw partitions are the reader's):
            # wait as an empty fetch would, or Faust's fetch loop asks again at once, forever
            # (measured: ~40 % of a core per worker process).
            await asyncio.sleep(
                _NOTHING_TO_FETCH_S if timeout is None else min(timeout, _NOTHING_TO_FETCH_S)
            )
            return {}
        return await super()._fetch_records(
            consumer,
            snapshot,  # type: ignore[arg-type]
            timeout=timeout,
            max_records=max_records,
        )

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # 6. In the consumer thread, before anything is fetched for the new assignment:
        # aiokafka would otherwise read ahead a buffer of each raw partition that nobody takes.
        raw_topic = cast(WorkerApp, self.app).raw_topic_name
        raw = [TopicPartition(tp.topic, tp.partition) for tp in assigned if tp.topic == raw_topic]
        if raw:
            self._ensure_consumer().pause(*raw)
        await super().on_partitions_assigned(assigned, generation_id)


class _Consumer(aiokafka_driver.Consumer):
    async def commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        return False  # 1.

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(aiokafka_driver.Transport):
    Consumer = _Consumer


class _FlowControl(FlowControlEvent):
    def resume(self) -> None:
        if self.is_active():
            return  # 4. already flowing: the queued records are current
        super().resume()


class WorkerApp(faust.App):
    """The Faust app with the runner's hooks into rebalancing."""

    #: Called with the raw-topic partitions this worker owns after a rebalance.
    on_assigned: Callable[[set[int]], Awaitable[None]] | None = None
    #: Called before partitions are given away and when stopping: commit what was processed;
    #: ``False`` once a commit has failed (nothing more will be committed).
    on_revoking: Callable[[], Awaitable[bool]] | None = None
    #: Called once when the app stops, after the agents.
    on_stopped: Callable[[], Awaitable[None]] | None = None
    #: How many raw records the runner took and did not commit yet (2.).
    handed_out: Callable[[], int] = staticmethod(lambda: 0)
    raw_topic_name: str = ""
    #: Services of the worker's own, started before Faust's and stopped after them.
    own_services: Sequence[ServiceT] = ()

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return _FlowControl(loop=self.loop)

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        # mode stops dependencies in reverse order of start.
        return [*self.own_services, *super().on_init_dependencies()]

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        if self.on_revoking is not None:
            # 2. The agent may be inside one last record when the flow stops: commit until
            # nothing handed out is unacked (bounded; Faust's own wait follows).
            for _ in range(_COMMIT_ROUNDS):
                if not await self.on_revoking():
                    # A commit failed: nothing handed out will be acked, and waiting for it
                    # only delays the restart that redoes it from the last commit.
                    break
                if not consumer._unacked_messages and not self.handed_out():
                    break
                await asyncio.sleep(0.05)
        await super()._consumer_wait_empty(consumer, logger)

    async def _on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        if self.on_assigned is not None and not self.should_stop:
            owned = {tp.partition for tp in assigned if tp.topic == self.raw_topic_name}
            try:
                await self.on_assigned(owned)  # 3.
            except Exception as exc:
                await self.crash(exc)
                return
        await super()._on_partitions_assigned(assigned, generation_id)

    async def on_shutdown(self) -> None:
        if self.on_stopped is not None:
            await self.on_stopped()

    def busy(self) -> bool:
        """Rebalancing or recovering tables: not taking records, and rightly so."""
        recovery: Any = self.tables.recovery  # type: ignore[attr-defined]
        return bool(self.rebalancing) or not recovery.completed.is_set()


def consumer_state(app: WorkerApp) -> str:
    """What Faust's consumer looks like, for the log line of a stuck worker (read-only)."""
    consumer: Any = app.consumer
    recovery: Any = app.tables.recovery  # type: ignore[attr-defined]
    parts = {
        "generation": app.consumer_generation_id,
        "rebalancing": app.rebalancing,
        "recovery_completed": recovery.completed.is_set(),
        "flow_control_active": app.flow_control.is_active(),
        "consumer_flow_active": consumer.flow_active,
        "assignment": sorted(map(str, consumer.assignment())),
        "paused": sorted(map(str, consumer._paused_partitions)),
        "active": sorted(map(str, consumer._active_partitions or ())),
        "unacked": len(consumer._unacked_messages),
        "read_offsets": {str(tp): o for tp, o in consumer._read_offset.items()},
        "fetcher": app._fetcher.state,
    }
    try:
        client = consumer._thread._ensure_consumer()
        parts["aiokafka_assignment"] = sorted(map(str, client.assignment()))
        parts["aiokafka_paused"] = sorted(map(str, client.paused()))
        assignment = client._subscription.subscription.assignment
        fetcher = client._fetcher
        for tp in sorted(assignment.tps):
            if tp.topic != app.raw_topic_name:
                continue
            state = assignment.state_value(tp)
            position = state.position if state.has_valid_position else None
            parts[f"aiokafka_{tp.partition}"] = {
                "position": position,
                "buffered": tp in fetcher._records,
            }
    except Exception as exc:  # a diagnostic never fails the check
        parts["aiokafka"] = repr(exc)
    return repr(parts)
