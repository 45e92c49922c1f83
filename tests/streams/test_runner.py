"""The runner's commit (streams.runner.Runner), whatever the guarantee: the order of its steps.

No Kafka: the sink records when it is asked what to commit and when it commits, the emitter is a
recording fake whose flushes the test controls. What each sink then does is specified in
tests/streams/test_at_least_once.py and test_exactly_once.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.metrics import WorkerMetrics
from streams.pipeline import Output, RawRecord, Stage
from streams.runner import Runner
from streams.state import DedupState
from tests.fakes import FakeEmitter, settle
from tests.streams.records import CANONICAL_TOPIC, DLQ_TOPIC, HORIZON_S, delivery, record


@dataclass
class RecordingSink:
    """A sink that says what happened in which order (``steps``)."""

    emitter: FakeEmitter
    steps: list[str] = field(default_factory=list)
    written: list[int] = field(default_factory=list)

    async def assign(self, partitions: set[int]) -> None:
        pass

    def write(self, record: RawRecord, output: Output | None, ack: Callable[[], object]) -> bool:
        self.written.append(record.offset)
        return True

    def progress(self) -> list[int] | None:
        taken, self.written = self.written, []
        self.steps.append(f"progress {taken} (flushed {self.emitter.flushes})")
        return taken or None

    async def commit(self, progress: list[int]) -> int:
        self.steps.append(f"commit {progress} (flushed {self.emitter.flushes})")
        return 1

    async def close(self) -> None:
        pass


def runner_with(emitter: FakeEmitter) -> tuple[Runner, RecordingSink]:
    stage = Stage(
        lookup=lambda key: None,
        canonical_topic=CANONICAL_TOPIC,
        dead_letter_topic=DLQ_TOPIC,
        dedup_horizon_s=HORIZON_S,
        type_prefix="com.example.hooks.",
    )
    state = DedupState({}, emitter, "t-changelog", HORIZON_S * 1000)
    runner = Runner(
        stage=stage,
        state=state,
        emitter=emitter,
        metrics=WorkerMetrics(),
        highwater=lambda partition: None,
        crash=lambda error: None,
    )
    sink = RecordingSink(emitter)
    runner.sink = sink
    return runner, sink


def event(offset: int) -> RawRecord:
    return record(delivery(event_id=f"msg_{offset}"), offset=offset)


async def test_a_commit_takes_the_progress_then_flushes_then_has_the_sink_commit() -> None:
    emitter = FakeEmitter()
    runner, sink = runner_with(emitter)
    await runner.handle_batch([event(0), event(1)])
    await runner.commit()
    assert sink.steps == ["progress [0, 1] (flushed 0)", "commit [0, 1] (flushed 1)"]


async def test_records_go_on_while_the_sink_commits_what_was_flushed() -> None:
    # Only the flush pauses the records: a transaction's commit takes a round trip or more.
    emitter = FakeEmitter()
    runner, sink = runner_with(emitter)
    committed = asyncio.Event()

    async def slow_commit(progress: list[int]) -> int:
        await committed.wait()
        return 1

    sink.commit = slow_commit  # type: ignore[method-assign]
    await runner.handle_batch([event(0)])
    committing = asyncio.ensure_future(runner.commit())
    await settle()
    await asyncio.wait_for(runner.handle_batch([event(1)]), 5)
    committed.set()
    await asyncio.wait_for(committing, 5)
    assert sink.written == [1]


async def test_a_second_commit_takes_its_progress_only_after_the_first_one_ended() -> None:
    # On revocation everything processed must be committed: what the first commit left (records
    # written while it ran) is the second one's to take.
    emitter = FakeEmitter()
    runner, sink = runner_with(emitter)
    release = asyncio.Event()
    original = sink.commit

    async def held_commit(progress: list[int]) -> int:
        await release.wait()
        return await original(progress)

    sink.commit = held_commit  # type: ignore[method-assign]
    await runner.handle_batch([event(0)])
    first = asyncio.ensure_future(runner.commit())
    await settle()
    await runner.handle_batch([event(1)])
    second = asyncio.ensure_future(runner.commit())
    await settle()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert sink.steps == [
        "progress [0] (flushed 0)",
        "commit [0] (flushed 1)",
        "progress [1] (flushed 1)",
        "commit [1] (flushed 2)",
    ]
