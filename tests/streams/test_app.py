"""streams.app.create_app without a broker: what it prepares before Faust starts."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable
from collections.abc import Set as AbstractSet
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from mode.utils.queues import FlowControlQueue

from schemas import config
from streams.app import create_app
from streams.overrides import _Consumer, _ConsumerThread


def test_the_worker_creates_its_data_directory_with_its_parents(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "worker"
    settings = config.parse({"worker": {"data_dir": str(data_dir)}}, env={})
    create_app(settings)
    assert data_dir.is_dir()


def queued_after(*steps: str) -> int:
    """How many of two queued records are left after the app's flow control takes ``steps``."""
    app = create_app(config.parse({}, env={}))
    flow = app.flow_control
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()
    queue.put_nowait(1)
    queue.put_nowait(2)
    for step in steps:
        getattr(flow, step)()
    return queue.qsize()


def test_a_resume_while_records_flow_keeps_the_queued_records() -> None:
    assert queued_after("resume") == 2


def test_a_resume_after_a_suspension_drops_the_stale_records() -> None:
    assert queued_after("suspend", "resume") == 0


class BufferedFetcher:
    """aiokafka's fetcher as far as Faust's fetch uses it: buffered records per partition, and
    an empty partition set read as "every partition"."""

    def __init__(self, buffered: set[TP], during_fetch: Callable[[], None]) -> None:
        self.buffered = buffered
        self.during_fetch = during_fetch
        self._closed = False
        self._subscriptions = SimpleNamespace(fetch_context=contextlib.nullcontext)

    async def fetched_records(
        self,
        partitions: AbstractSet[TP],
        timeout: float,  # noqa: ASYNC109 - aiokafka's signature
        max_records: int | None,
    ) -> dict[TP, list[str]]:
        self.during_fetch()  # the main thread changes the active partitions meanwhile
        await asyncio.sleep(0)
        return {tp: ["record"] for tp in self.buffered if not partitions or tp in partitions}


async def fetched(active: set[TP], buffered: set[TP]) -> set[TP]:
    thread = _ConsumerThread.__new__(_ConsumerThread)
    thread.consumer = SimpleNamespace(flow_active=True)  # type: ignore[assignment]
    fetcher = BufferedFetcher(buffered, during_fetch=active.clear)
    client = SimpleNamespace(_closed=False, _fetcher=fetcher)
    return set(await thread._fetch_records(client, active, timeout=1.0))


RAW = TP("raw", 0)
CHANGELOG = TP("changelog", 0)


async def test_a_fetch_takes_records_of_the_partitions_active_when_it_was_asked_for() -> None:
    assert await fetched({CHANGELOG}, {CHANGELOG, RAW}) == {CHANGELOG}


async def test_a_fetch_with_no_active_partition_takes_nothing() -> None:
    assert await fetched(set(), {CHANGELOG, RAW}) == set()


class Drain:
    """Just enough of Faust's consumer for one round of the fetcher's loop (overrides 6.)."""

    def __init__(self, fetched: list[tuple[TP, int]], read_offsets: dict[TP, int]) -> None:
        self.fetched = fetched
        self.handed_over: list[list[tuple[str, int]]] = []
        self.one_by_one: list[tuple[str, int]] = []
        self._read_offset: dict[TP, int | None] = collections.defaultdict(lambda: None)
        self._read_offset.update(read_offsets)
        self._stopped = asyncio.Event()
        self.should_stop = False
        self.consumer_stopped_errors = ()
        self.suspend_flow = asyncio.Event()
        self.app = SimpleNamespace(raw_topic_name=RAW.topic, hand_over=self._hand_over)
        self.transport = SimpleNamespace(app=self.app)

    async def _hand_over(self, batch: list[Any]) -> None:
        self.handed_over.append([(m.topic, m.offset) for m in batch])

    async def callback(self, message: Any) -> None:
        self.one_by_one.append((message.topic, message.offset))

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:  # noqa: ASYNC109
        self._stopped.set()  # one round
        for tp, offset in self.fetched:
            yield tp, SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_first(self, *coros: Any) -> None:
        first, *rest = coros
        for coro in rest:
            coro.close()
        await first


async def drained(fetched: list[tuple[TP, int]], read_offsets: dict[TP, int]) -> Drain:
    consumer = Drain(fetched, read_offsets)
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    await _Consumer._drain_messages(consumer, fetcher)  # type: ignore[arg-type]
    return consumer


async def test_the_raw_records_of_one_fetch_are_handed_over_as_one_batch() -> None:
    consumer = await drained([(RAW, 0), (RAW, 1), (RAW, 2)], {})
    assert consumer.handed_over == [[("raw", 0), ("raw", 1), ("raw", 2)]]
    assert consumer.one_by_one == []


async def test_other_topics_records_go_faust_s_way_between_raw_batches() -> None:
    consumer = await drained([(RAW, 0), (CHANGELOG, 7), (RAW, 1)], {})
    assert consumer.handed_over == [[("raw", 0)], [("raw", 1)]]
    assert consumer.one_by_one == [("changelog", 7)]


async def test_records_before_the_read_offset_are_not_handed_over() -> None:
    consumer = await drained([(RAW, 3), (RAW, 4), (RAW, 5)], {RAW: 4})
    assert consumer.handed_over == [[("raw", 4), ("raw", 5)]]
    assert consumer._read_offset[RAW] == 5


def test_the_table_has_no_standby_copies_unless_configured(tmp_path: Path) -> None:
    # Standbys replay the other workers' state writes: measured 2.4x CPU per event with two.
    default = config.parse({"worker": {"data_dir": str(tmp_path)}}, env={})
    assert create_app(default).conf.table_standby_replicas == 0
    one = config.parse({"worker": {"data_dir": str(tmp_path), "standby_replicas": 1}}, env={})
    assert create_app(one).conf.table_standby_replicas == 1
