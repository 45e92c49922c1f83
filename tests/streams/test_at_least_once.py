"""At least once (streams.at_least_once.Acknowledged) under the runner: what a commit covers.

No Kafka: the emitter is a recording fake (outputs and state writes alike) whose flushes the test
controls, and ``commit_offsets`` records what it is given. So each test states what the "broker"
did with the writes, and checks that a raw record is acked, and its offset committed, only after
a flush found its output and its state written. The real emitter, consumer and broker are
covered by the Kafka tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemas.deadletter import Header as DLQ
from streams.at_least_once import Acknowledged
from streams.emitter import EmitFailed
from streams.metrics import WorkerMetrics
from streams.pipeline import RawRecord, Stage
from streams.runner import Runner
from streams.state import DedupState
from tests.fakes import FakeEmitter, Written, settle
from tests.streams.records import (
    CANONICAL_TOPIC,
    DLQ_TOPIC,
    HORIZON_S,
    delivery,
    poison,
    record,
)

CHANGELOG = "t-dedup-changelog"


@dataclass
class Commits:
    """Stands in for the consumer's offset commit; records each call."""

    calls: list[dict[int, int]] = field(default_factory=list)
    #: Called at each commit, to observe what else is true at that moment.
    probe: Callable[[], object] = lambda: None
    probes: list[object] = field(default_factory=list)

    async def __call__(self, offsets: dict[int, int]) -> bool:
        self.calls.append(dict(offsets))
        self.probes.append(self.probe())
        return True


@dataclass
class Worker:
    runner: Runner
    sink: Acknowledged
    emitter: FakeEmitter
    commits: Commits
    metrics: WorkerMetrics
    crashes: list[BaseException]
    acked: list[tuple[int, int]] = field(default_factory=list)

    def handle(self, raw: RawRecord) -> None:
        self.runner.handle(raw, lambda: self.acked.append((raw.partition, raw.offset)))

    @property
    def outputs(self) -> list[Written]:
        return [w for w in self.emitter.written if w.topic != CHANGELOG]

    @property
    def changelog(self) -> list[Written]:
        return self.emitter.to(CHANGELOG)

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(f"{name}_total", labels) or 0.0


def make_worker(starts: Callable[[set[int]], Mapping[int, int]] | None = None) -> Worker:
    emitter = FakeEmitter()
    metrics = WorkerMetrics()
    commits = Commits()
    crashes: list[BaseException] = []
    state = DedupState({}, emitter, CHANGELOG, HORIZON_S * 1000)
    stage = Stage(
        lookup=state.get,
        canonical_topic=CANONICAL_TOPIC,
        dead_letter_topic=DLQ_TOPIC,
        dedup_horizon_s=HORIZON_S,
        type_prefix="com.example.hooks.",
    )
    runner = Runner(
        stage=stage,
        state=state,
        emitter=emitter,
        metrics=metrics,
        highwater=lambda partition: None,
        crash=crashes.append,
        **({"starts": starts} if starts is not None else {}),
    )
    sink = Acknowledged(
        emitter=emitter,
        state=state,
        commit_offsets=commits,
        on_refused=runner.dead_letter,
    )
    runner.sink = sink
    return Worker(runner, sink, emitter, commits, metrics, crashes)


@pytest.fixture
def worker() -> Worker:
    return make_worker()


def event(offset: int, *, partition: int = 0, event_id: str = "") -> RawRecord:
    """A distinct event (its own key) at ``partition``/``offset``."""
    return record(
        delivery(event_id=event_id or f"msg_{partition}_{offset}"),
        offset=offset,
        partition=partition,
    )


# --- acked behind a flush and a commit --------------------------------------------------------


def test_a_record_is_not_acked_before_a_commit(worker: Worker) -> None:
    worker.handle(event(10))
    assert (worker.acked, worker.commits.calls) == ([], [])


async def test_a_record_is_acked_once_a_commit_ran(worker: Worker) -> None:
    worker.handle(event(10))
    await worker.runner.commit()
    assert worker.acked == [(0, 10)]


async def test_a_commit_flushes_every_write_before_it_commits_offsets(worker: Worker) -> None:
    worker.commits.probe = lambda: worker.emitter.flushed_upto
    worker.handle(event(10))
    worker.handle(event(11))
    await worker.runner.commit()
    # Two outputs and two state writes, all flushed when the offsets were committed.
    assert worker.commits.probes == [4]


async def test_the_committed_offset_is_the_one_after_the_last_record_written(
    worker: Worker,
) -> None:
    for offset in (10, 11, 12):
        worker.handle(event(offset))
    await worker.runner.commit()
    assert worker.commits.calls == [{0: 13}]


async def test_a_record_is_acked_only_after_its_offset_is_committed(worker: Worker) -> None:
    worker.commits.probe = lambda: list(worker.acked)
    worker.handle(event(10))
    await worker.runner.commit()
    assert (worker.commits.probes, worker.acked) == ([[]], [(0, 10)])


async def test_a_commit_with_nothing_written_neither_flushes_nor_commits(worker: Worker) -> None:
    await worker.runner.commit()
    assert (worker.emitter.flushes, worker.commits.calls) == (0, [])


async def test_a_record_is_committed_once(worker: Worker) -> None:
    worker.handle(event(10))
    await worker.runner.commit()
    await worker.runner.commit()
    assert (worker.commits.calls, worker.acked) == ([{0: 11}], [(0, 10)])


async def test_one_commit_covers_every_partition_with_progress(worker: Worker) -> None:
    worker.handle(event(10, partition=0))
    worker.handle(event(20, partition=1))
    await worker.runner.commit()
    assert worker.commits.calls == [{0: 11, 1: 21}]


async def test_records_are_acked_in_offset_order_per_partition(worker: Worker) -> None:
    for offset in (10, 11, 12):
        worker.handle(event(offset))
    await worker.runner.commit()
    assert worker.acked == [(0, 10), (0, 11), (0, 12)]


# --- no writes while a commit flushes ----------------------------------------------------------


async def test_no_record_is_written_while_a_commit_flushes(worker: Worker) -> None:
    # A flush waits for everything written: writes meanwhile could keep it waiting for good.
    await worker.runner.handle_batch([event(0)])
    worker.emitter.hold = asyncio.Event()
    committing = asyncio.ensure_future(worker.runner.commit())
    await settle()
    batch = asyncio.ensure_future(worker.runner.handle_batch([event(1)]))
    await settle()
    assert len(worker.outputs) == 1
    worker.emitter.hold.set()
    await asyncio.wait_for(asyncio.gather(committing, batch), 5)
    assert len(worker.outputs) == 2


async def test_a_record_written_after_a_commits_flush_is_left_for_the_next_commit(
    worker: Worker,
) -> None:
    await worker.runner.handle_batch([event(0)])
    worker.emitter.hold = asyncio.Event()
    committing = asyncio.ensure_future(worker.runner.commit())
    await settle()
    batch = asyncio.ensure_future(worker.runner.handle_batch([event(1)]))
    worker.emitter.hold.set()
    await asyncio.wait_for(asyncio.gather(committing, batch), 5)
    assert worker.commits.calls == [{0: 1}]
    await worker.runner.commit()
    assert worker.commits.calls == [{0: 1}, {0: 2}]


async def test_a_batch_waits_for_room_while_max_in_flight_records_are_unacknowledged(
    worker: Worker,
) -> None:
    worker.emitter.room_left.clear()
    batch = asyncio.ensure_future(worker.runner.handle_batch([event(0)]))
    await settle()
    assert worker.outputs == []
    worker.emitter.room_left.set()
    await asyncio.wait_for(batch, 5)
    assert len(worker.outputs) == 1


# --- duplicates --------------------------------------------------------------------------------


def test_a_dropped_duplicate_writes_nothing(worker: Worker) -> None:
    worker.handle(event(10, event_id="msg_1"))
    worker.handle(event(11, event_id="msg_1"))
    assert (len(worker.outputs), len(worker.changelog)) == (1, 1)


async def test_a_dropped_duplicate_is_committed_and_acked_like_any_record(worker: Worker) -> None:
    worker.handle(event(10, event_id="msg_1"))
    worker.handle(event(11, event_id="msg_1"))
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([(0, 10), (0, 11)], [{0: 12}])


# --- state -------------------------------------------------------------------------------------


def test_an_emitted_record_writes_its_state_to_its_partitions_changelog(worker: Worker) -> None:
    worker.handle(event(10, partition=2, event_id="msg_1"))
    written = worker.changelog[-1]
    assert (written.key, written.partition) == (b"demo:msg_1", 2)


def test_a_records_state_is_written_before_its_output(worker: Worker) -> None:
    # Either way one flush covers both; written first, the state can never lag its event.
    worker.handle(event(10))
    assert [w.topic for w in worker.emitter.written] == [CHANGELOG, CANONICAL_TOPIC]


# --- failed writes -----------------------------------------------------------------------------


async def test_a_write_the_broker_did_not_acknowledge_crashes_the_worker_at_the_commit(
    worker: Worker,
) -> None:
    worker.handle(event(10))
    worker.emitter.flush_error = RuntimeError("broker unreachable")
    await worker.runner.commit()
    assert [type(error) for error in worker.crashes] == [EmitFailed]


async def test_a_failed_flush_commits_and_acks_nothing(worker: Worker) -> None:
    worker.handle(event(10, partition=1))
    worker.handle(event(20, partition=0))
    worker.emitter.flush_error = RuntimeError("broker unreachable")
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([], [])


async def test_a_crashed_worker_commits_no_more(worker: Worker) -> None:
    worker.handle(event(10))
    worker.emitter.flush_error = RuntimeError("broker unreachable")
    await worker.runner.commit()
    await worker.runner.commit()
    assert len(worker.crashes) == 1


async def test_a_commit_that_succeeds_says_commits_go_on(worker: Worker) -> None:
    worker.handle(event(10))
    assert await worker.runner.commit() is True


async def test_after_a_failed_commit_the_runner_says_nothing_more_will_commit(
    worker: Worker,
) -> None:
    # The app's stop stops waiting for records to be acked on this answer (streams/overrides.py).
    worker.handle(event(10))
    worker.emitter.flush_error = RuntimeError("broker unreachable")
    assert await worker.runner.commit() is False
    assert await worker.runner.commit() is False


def test_a_producer_that_cannot_write_crashes_the_worker(worker: Worker) -> None:
    worker.emitter.write_error = EmitFailed("the producer failed and must be restarted")
    worker.handle(event(10))
    assert [type(error) for error in worker.crashes] == [EmitFailed]


async def test_a_batch_stops_at_a_write_that_fails(worker: Worker) -> None:
    worker.emitter.write_error = EmitFailed("the producer failed and must be restarted")
    await worker.runner.handle_batch([event(10), event(11)])
    assert (len(worker.crashes), worker.runner.positions()) == (1, {})


# --- outputs the client refuses for good -------------------------------------------------------


def test_a_canonical_event_the_client_refuses_is_dead_lettered_instead(worker: Worker) -> None:
    worker.emitter.refused_topics.add(CANONICAL_TOPIC)
    worker.handle(event(10))
    assert [written.topic for written in worker.outputs] == [DLQ_TOPIC]
    assert dict(worker.outputs[0].headers)[DLQ.REASON] == b"record_refused"


async def test_a_refused_canonical_event_does_not_crash_the_worker(worker: Worker) -> None:
    worker.emitter.refused_topics.add(CANONICAL_TOPIC)
    worker.handle(event(10))
    await worker.runner.commit()
    assert (worker.crashes, worker.acked) == ([], [(0, 10)])


def test_a_dead_letter_the_client_refuses_crashes_the_worker(worker: Worker) -> None:
    # Dead-lettering a dead letter again cannot help: the same record is refused again.
    worker.emitter.refused_topics.add(DLQ_TOPIC)
    worker.handle(poison())
    assert len(worker.crashes) == 1


def test_a_dead_letter_the_client_refuses_is_not_dead_lettered_again(worker: Worker) -> None:
    worker.emitter.refused_topics.update({CANONICAL_TOPIC, DLQ_TOPIC})
    worker.handle(event(10))
    assert (worker.outputs, len(worker.crashes)) == ([], 1)


# --- metrics -----------------------------------------------------------------------------------


async def test_records_are_counted_by_outcome(worker: Worker) -> None:
    worker.handle(event(10, event_id="msg_1"))
    worker.handle(event(11, event_id="msg_1"))
    # A replay: the partition is handed out again from an earlier offset.
    await worker.runner.assign(set())
    await worker.runner.assign({0})
    worker.handle(event(10, event_id="msg_1"))
    worker.handle(replace(poison(), offset=11))
    assert [
        worker.count("hookgate_worker_records", outcome=outcome)
        for outcome in ("emitted", "duplicate", "reemitted", "dead_lettered")
    ] == [1, 1, 1, 1]


async def test_dropped_duplicates_are_counted_by_source(worker: Worker) -> None:
    worker.handle(event(10, event_id="msg_1"))
    worker.handle(event(11, event_id="msg_1"))
    assert worker.count("hookgate_worker_duplicates_dropped", source="demo") == 1


async def test_dead_letters_are_counted_by_reason(worker: Worker) -> None:
    worker.handle(poison())
    assert worker.count("hookgate_worker_dead_letters", reason="undecodable_record") == 1


def test_a_refused_event_is_counted_as_a_dead_letter_by_reason(worker: Worker) -> None:
    worker.emitter.refused_topics.add(CANONICAL_TOPIC)
    worker.handle(event(10))
    assert worker.count("hookgate_worker_dead_letters", reason="record_refused") == 1


async def test_a_record_handed_out_again_within_an_assignment_is_skipped_and_acked(
    worker: Worker,
) -> None:
    worker.handle(event(10, event_id="msg_1"))
    worker.handle(event(10, event_id="msg_1"))
    assert (len(worker.outputs), worker.acked) == (1, [(0, 10)])


async def test_a_skipped_offset_within_an_assignment_stops_the_worker(worker: Worker) -> None:
    worker.handle(event(10, event_id="msg_1"))
    worker.handle(event(12, event_id="msg_2"))
    assert len(worker.outputs) == 1
    assert [str(error) for error in worker.crashes] == ["partition 0: got offset 12, expected 11"]


def resuming_at(offset: int) -> Worker:
    """A worker whose broker says partition 0 resumes at ``offset`` when it is assigned."""
    return make_worker(starts=lambda partitions: dict.fromkeys(partitions, offset))


async def test_a_first_record_past_where_the_partition_resumes_stops_the_worker() -> None:
    worker = resuming_at(10)
    await worker.runner.assign({0})
    worker.handle(event(12, event_id="msg_2"))
    assert len(worker.outputs) == 0
    assert [str(error) for error in worker.crashes] == ["partition 0: got offset 12, expected 10"]


async def test_a_first_record_where_the_partition_resumes_is_processed() -> None:
    worker = resuming_at(10)
    await worker.runner.assign({0})
    worker.handle(event(10, event_id="msg_1"))
    assert (len(worker.outputs), worker.crashes) == (1, [])


async def test_start_offsets_that_cannot_be_read_leave_the_first_record_to_set_the_position() -> (
    None
):
    def unreadable(partitions: set[int]) -> Mapping[int, int]:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT))

    worker = make_worker(starts=unreadable)
    await worker.runner.assign({0})
    worker.handle(event(12, event_id="msg_2"))
    assert (len(worker.outputs), worker.crashes) == (1, [])


# --- batches from the raw reader (streams/raw_reader.py) ------------------------------------


async def test_a_batch_is_processed_record_by_record_in_order(worker: Worker) -> None:
    await worker.runner.handle_batch([event(0), event(1)])
    assert [dict(w.headers)["ce_id"] for w in worker.outputs] == [b"msg_0_0", b"msg_0_1"]


async def test_records_of_a_batch_are_handed_out_until_a_commit_covers_them(
    worker: Worker,
) -> None:
    await worker.runner.handle_batch([event(0), event(1)])
    assert worker.runner.unacked == 2
    await worker.runner.commit()
    assert worker.runner.unacked == 0


async def test_records_of_a_partition_given_away_are_no_longer_handed_out(
    worker: Worker,
) -> None:
    await worker.runner.assign({0, 1})
    await worker.runner.handle_batch([event(0, partition=1)])
    await worker.runner.assign({0})
    assert worker.runner.unacked == 0


async def test_a_batch_stops_at_a_skipped_offset_and_processes_nothing_after_it(
    worker: Worker,
) -> None:
    batch = [event(offset) for offset in (0, 1, 5, 6)]
    await worker.runner.handle_batch(batch)
    assert len(worker.crashes) == 1
    assert len(worker.outputs) == 2


async def test_a_long_batch_lets_the_event_loop_run_meanwhile(worker: Worker) -> None:
    # A fetch brought ~9,000 records at once in the benchmark; commits, delivery reports and
    # /healthz must not wait until all are processed.
    outputs_when_it_ran: list[int] = []
    asyncio.get_running_loop().call_soon(lambda: outputs_when_it_ran.append(len(worker.outputs)))
    await worker.runner.handle_batch([event(offset) for offset in range(1000)])
    assert outputs_when_it_ran
    assert outputs_when_it_ran[0] < 1000
