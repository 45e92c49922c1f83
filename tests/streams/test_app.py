"""streams.app.create_app without a broker: what it prepares before Faust starts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from mode.utils.queues import FlowControlQueue

from schemas import config
from streams.app import create_app
from streams.overrides import _ConsumerThread


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
    thread.app = SimpleNamespace(raw_topic_name=RAW.topic)  # type: ignore[assignment]
    fetcher = BufferedFetcher(buffered, during_fetch=active.clear)
    client = SimpleNamespace(_closed=False, _fetcher=fetcher)
    return set(await thread._fetch_records(client, active, timeout=1.0))


RAW = TP("raw", 0)
CHANGELOG = TP("changelog", 0)


async def test_a_fetch_takes_records_of_the_partitions_active_when_it_was_asked_for() -> None:
    assert await fetched({CHANGELOG}, {CHANGELOG, RAW}) == {CHANGELOG}


async def test_a_fetch_with_no_active_partition_takes_nothing() -> None:
    assert await fetched(set(), {CHANGELOG, RAW}) == set()


async def test_a_fetch_never_takes_the_raw_topic_s_records() -> None:
    # The raw reader (streams/raw_reader.py) reads them; Faust's fetch would hand them over twice.
    assert await fetched({CHANGELOG, RAW}, {CHANGELOG, RAW}) == {CHANGELOG}


async def test_a_fetch_with_only_raw_partitions_active_takes_nothing() -> None:
    assert await fetched({RAW}, {CHANGELOG, RAW}) == set()


async def test_a_fetch_with_nothing_to_fetch_waits_before_it_answers() -> None:
    # Faust asks again as soon as a fetch answers: answering at once made its loop spin
    # (~40 % of a core per worker, with the raw partitions left to the reader).
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fetched({RAW}, {RAW})
    assert loop.time() - started >= 0.05


def test_the_table_has_no_standby_copies_unless_configured(tmp_path: Path) -> None:
    # Standbys replay the other workers' state writes: measured 2.4x CPU per event with two.
    default = config.parse({"worker": {"data_dir": str(tmp_path)}}, env={})
    assert create_app(default).conf.table_standby_replicas == 0
    one = config.parse({"worker": {"data_dir": str(tmp_path), "standby_replicas": 1}}, env={})
    assert create_app(one).conf.table_standby_replicas == 1


async def test_raw_partitions_are_paused_in_aiokafka_as_they_are_assigned() -> None:
    # Else aiokafka reads ahead a buffer of every raw partition that nobody ever takes.
    paused: list[Any] = []
    passed_on: list[set[TP]] = []

    async def assigned(loop: Any, tps: set[TP], generation_id: int) -> None:
        passed_on.append(tps)

    thread = _ConsumerThread.__new__(_ConsumerThread)
    thread.app = SimpleNamespace(raw_topic_name=RAW.topic)  # type: ignore[assignment]
    thread.thread_loop = None  # type: ignore[assignment]
    thread.consumer = SimpleNamespace(threadsafe_partitions_assigned=assigned)  # type: ignore[assignment]
    thread._ensure_consumer = lambda: SimpleNamespace(pause=lambda *tps: paused.extend(tps))  # type: ignore[method-assign]

    await thread.on_partitions_assigned({RAW, TP("raw", 1), CHANGELOG}, 3)

    assert sorted((tp.topic, tp.partition) for tp in paused) == [("raw", 0), ("raw", 1)]
    assert passed_on == [{RAW, TP("raw", 1), CHANGELOG}]
