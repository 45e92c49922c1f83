"""At least once (streams.at_least_once.Acknowledged) under the runner: when records are acked.

No Kafka: the output emitter is a recording fake whose sends the test acknowledges by hand, the
state writer acknowledges every changelog write at once (or, where a test says so, by hand), and
``commit_offsets`` records what it is given. So each test states when the "broker" took what,
and checks that a raw record is acked, and its offset committed, only behind its output and the
state it depends on. The real emitter, consumer and broker are covered by the Kafka tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemas.deadletter import Header as DLQ
from streams.at_least_once import Acknowledged, OutputFailed
from streams.errors import RecordRefused
from streams.metrics import WorkerMetrics
from streams.pipeline import RawRecord, Stage
from streams.runner import Runner
from streams.state import DedupState, StateWriteFailed
from tests.fakes import AutoAckEmitter, HandEmitter, Sent, settle
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
    emitter: HandEmitter
    changelog: HandEmitter
    commits: Commits
    metrics: WorkerMetrics
    crashes: list[BaseException]
    acked: list[tuple[int, int]] = field(default_factory=list)

    async def handle(self, raw: RawRecord) -> None:
        await self.runner.handle(raw, lambda: self.acked.append((raw.partition, raw.offset)))

    @property
    def outputs(self) -> list[Sent]:
        return self.emitter.sent

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(f"{name}_total", labels) or 0.0


def make_worker(
    changelog: HandEmitter, starts: Callable[[set[int]], Mapping[int, int]] | None = None
) -> Worker:
    emitter = HandEmitter()
    metrics = WorkerMetrics()
    commits = Commits()
    crashes: list[BaseException] = []
    state = DedupState({}, changelog, CHANGELOG, HORIZON_S * 1000)
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
    return Worker(runner, sink, emitter, changelog, commits, metrics, crashes)


@pytest.fixture
def worker() -> Worker:
    return make_worker(AutoAckEmitter())


@pytest.fixture
def manual_state() -> Worker:
    """A worker whose changelog writes the test acknowledges by hand."""
    return make_worker(HandEmitter())


def event(offset: int, *, partition: int = 0, event_id: str = "") -> RawRecord:
    """A distinct event (its own key) at ``partition``/``offset``."""
    return record(
        delivery(event_id=event_id or f"msg_{partition}_{offset}"),
        offset=offset,
        partition=partition,
    )


# --- acked behind the output and a commit ------------------------------------------------------


async def test_a_record_is_not_acked_before_its_output_is_acknowledged(worker: Worker) -> None:
    await worker.handle(event(10))
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([], [])


async def test_a_record_whose_output_is_acknowledged_waits_for_a_commit_to_be_acked(
    worker: Worker,
) -> None:
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    assert worker.acked == []


async def test_a_record_is_acked_once_its_output_is_acknowledged_and_a_commit_ran(
    worker: Worker,
) -> None:
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    await worker.runner.commit()
    assert worker.acked == [(0, 10)]


async def test_the_committed_offset_is_the_one_after_the_last_done_record(worker: Worker) -> None:
    for offset in (10, 11, 12):
        await worker.handle(event(offset))
    worker.outputs[0].succeed()
    worker.outputs[1].succeed()
    await worker.runner.commit()
    assert worker.commits.calls == [{0: 12}]


async def test_a_record_is_acked_only_after_its_offset_is_committed(worker: Worker) -> None:
    worker.commits.probe = lambda: list(worker.acked)
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    await worker.runner.commit()
    assert (worker.commits.probes, worker.acked) == ([[]], [(0, 10)])


async def test_a_commit_with_nothing_done_commits_nothing(worker: Worker) -> None:
    await worker.runner.commit()
    assert worker.commits.calls == []


async def test_a_record_is_committed_once(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    await worker.runner.commit()
    await worker.runner.commit()
    assert (worker.commits.calls, worker.acked) == ([{0: 11}], [(0, 10)])


# --- order -------------------------------------------------------------------------------------


async def test_a_record_done_early_waits_for_the_earlier_records_of_its_partition(
    worker: Worker,
) -> None:
    await worker.handle(event(10))
    await worker.handle(event(11))
    worker.outputs[1].succeed()
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([], [])


async def test_records_are_acked_and_committed_in_offset_order_per_partition(
    worker: Worker,
) -> None:
    for offset in (10, 11, 12):
        await worker.handle(event(offset))
    for sent in reversed(worker.outputs):
        sent.succeed()
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([(0, 10), (0, 11), (0, 12)], [{0: 13}])


async def test_records_of_other_partitions_do_not_wait_for_each_other(worker: Worker) -> None:
    await worker.handle(event(10, partition=0))
    await worker.handle(event(20, partition=1))
    worker.outputs[1].succeed()
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([(1, 20)], [{1: 21}])


async def test_one_commit_covers_every_partition_with_progress(worker: Worker) -> None:
    await worker.handle(event(10, partition=0))
    await worker.handle(event(20, partition=1))
    for sent in worker.outputs:
        sent.succeed()
    await worker.runner.commit()
    assert worker.commits.calls == [{0: 11, 1: 21}]


# --- duplicates --------------------------------------------------------------------------------


async def test_a_dropped_duplicate_sends_nothing(worker: Worker) -> None:
    await worker.handle(event(10, event_id="msg_1"))
    await worker.handle(event(11, event_id="msg_1"))
    assert len(worker.outputs) == 1


async def test_a_dropped_duplicate_is_done_at_once(worker: Worker) -> None:
    await worker.handle(event(10, event_id="msg_1"))
    worker.outputs[0].succeed()
    await worker.handle(event(11, event_id="msg_1"))
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([(0, 10), (0, 11)], [{0: 12}])


async def test_a_dropped_duplicate_waits_for_the_records_before_it(worker: Worker) -> None:
    await worker.handle(event(10, event_id="msg_1"))
    await worker.handle(event(11, event_id="msg_1"))
    await worker.runner.commit()
    assert worker.acked == []


# --- state before commit -----------------------------------------------------------------------


async def test_an_emitted_record_writes_its_state_to_its_partitions_changelog(
    worker: Worker,
) -> None:
    await worker.handle(event(10, partition=2, event_id="msg_1"))
    sent = worker.changelog.last
    assert (sent.topic, sent.key, sent.partition) == (CHANGELOG, b"demo:msg_1", 2)


async def test_a_commit_waits_for_the_state_writes_of_the_records_it_covers(
    manual_state: Worker,
) -> None:
    worker = manual_state
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    committing = asyncio.ensure_future(worker.runner.commit())
    await settle()
    assert (worker.commits.calls, worker.acked) == ([], [])
    worker.changelog.last.succeed()
    await asyncio.wait_for(committing, 5)
    assert (worker.commits.calls, worker.acked) == ([{0: 11}], [(0, 10)])


async def test_a_commit_does_not_wait_for_state_writes_of_records_it_does_not_cover(
    manual_state: Worker,
) -> None:
    worker = manual_state
    await worker.handle(event(10))
    worker.changelog.sent[0].succeed()
    worker.outputs[0].succeed()
    await worker.handle(event(11))  # its state write stays unacknowledged, its output too
    await asyncio.wait_for(worker.runner.commit(), 5)
    assert worker.commits.calls == [{0: 11}]


async def test_a_commit_never_covers_a_record_whose_state_write_is_unacknowledged(
    manual_state: Worker,
) -> None:
    # Offset 11 becomes done while the commit is waiting for offset 10's state write.
    worker = manual_state
    await worker.handle(event(10))
    await worker.handle(event(11))
    state_of_10, state_of_11 = worker.changelog.sent
    worker.commits.probe = lambda: state_of_11.acknowledged
    worker.outputs[0].succeed()
    committing = asyncio.ensure_future(worker.runner.commit())
    await settle()
    worker.outputs[1].succeed()
    state_of_10.succeed()
    await settle()
    state_of_11.succeed()
    await asyncio.wait_for(committing, 5)
    premature = [
        offsets
        for offsets, state_acknowledged in zip(
            worker.commits.calls, worker.commits.probes, strict=True
        )
        if offsets[0] > 11 and not state_acknowledged
    ]
    assert premature == []


async def test_a_failed_state_write_crashes_the_worker_at_the_commit(
    manual_state: Worker,
) -> None:
    worker = manual_state
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    worker.changelog.last.fail(RuntimeError("changelog partition offline"))
    await worker.runner.commit()
    assert [type(error) for error in worker.crashes] == [StateWriteFailed]


async def test_a_record_whose_state_write_failed_is_not_acked(manual_state: Worker) -> None:
    worker = manual_state
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    worker.changelog.last.fail(RuntimeError("changelog partition offline"))
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([], [])


# --- failed outputs ----------------------------------------------------------------------------


async def test_a_failed_output_makes_the_commit_raise(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RuntimeError("broker unreachable"))
    with pytest.raises(OutputFailed, match="broker unreachable"):
        await worker.sink.commit()


async def test_a_failed_output_crashes_the_worker_at_the_commit(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RuntimeError("broker unreachable"))
    await worker.runner.commit()
    assert [type(error) for error in worker.crashes] == [OutputFailed]


async def test_a_record_whose_output_failed_is_not_acked(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RuntimeError("broker unreachable"))
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([], [])


async def test_a_failed_output_fails_the_commit_of_records_done_before_it(worker: Worker) -> None:
    # The worker restarts from its last commit: nothing after it is committed any more.
    await worker.handle(event(10, partition=1))
    await worker.handle(event(20, partition=0))
    worker.outputs[0].succeed()
    worker.outputs[1].fail(RuntimeError("broker unreachable"))
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([], [])


async def test_a_crashed_worker_commits_no_more(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RuntimeError("broker unreachable"))
    await worker.runner.commit()
    await worker.runner.commit()
    assert len(worker.crashes) == 1


async def test_a_commit_that_succeeds_says_commits_go_on(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].succeed()
    assert await worker.runner.commit() is True


async def test_after_a_failed_commit_the_runner_says_nothing_more_will_commit(
    worker: Worker,
) -> None:
    # The app's stop stops waiting for records to be acked on this answer (streams/overrides.py).
    await worker.handle(event(10))
    worker.outputs[0].fail(RuntimeError("broker unreachable"))
    assert await worker.runner.commit() is False
    assert await worker.runner.commit() is False


async def test_a_failed_output_stops_the_records_after_it(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RuntimeError("broker unreachable"))
    with pytest.raises(OutputFailed):
        await worker.handle(event(11))
    assert len(worker.outputs) == 1


# --- outputs the broker refuses for good -------------------------------------------------------


async def test_a_canonical_event_the_broker_refuses_is_dead_lettered_instead(
    worker: Worker,
) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RecordRefused("Kafka refused the record: message too large"))
    await settle()  # the dead letter is sent from a task
    assert [sent.topic for sent in worker.outputs] == [CANONICAL_TOPIC, DLQ_TOPIC]
    assert dict(worker.outputs[1].headers)[DLQ.REASON] == b"record_refused"


async def test_a_refused_canonical_event_does_not_crash_the_worker(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RecordRefused("message too large"))
    await settle()
    worker.outputs[1].succeed()
    await worker.runner.commit()
    assert worker.crashes == []


async def test_a_refused_event_is_acked_once_its_dead_letter_is_acknowledged(
    worker: Worker,
) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RecordRefused("message too large"))
    await settle()
    await worker.runner.commit()
    assert worker.acked == []
    worker.outputs[1].succeed()
    await worker.runner.commit()
    assert (worker.acked, worker.commits.calls) == ([(0, 10)], [{0: 11}])


async def test_a_dead_letter_the_broker_refuses_crashes_the_worker(worker: Worker) -> None:
    # Dead-lettering a dead letter again cannot help: the same record is refused again.
    await worker.handle(poison())
    worker.outputs[0].fail(RecordRefused("message too large"))
    await settle()
    await worker.runner.commit()
    assert [type(error) for error in worker.crashes] == [OutputFailed]


async def test_a_dead_letter_the_broker_refuses_is_not_dead_lettered_again(
    worker: Worker,
) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RecordRefused("message too large"))
    await settle()
    worker.outputs[1].fail(RecordRefused("message too large"))
    await settle()
    assert [sent.topic for sent in worker.outputs] == [CANONICAL_TOPIC, DLQ_TOPIC]


# --- metrics -----------------------------------------------------------------------------------


async def test_records_are_counted_by_outcome(worker: Worker) -> None:
    await worker.handle(event(10, event_id="msg_1"))
    await worker.handle(event(11, event_id="msg_1"))
    # A replay: the partition is handed out again from an earlier offset.
    await worker.runner.assign(set())
    await worker.runner.assign({0})
    await worker.handle(event(10, event_id="msg_1"))
    await worker.handle(replace(poison(), offset=11))
    assert [
        worker.count("hookgate_worker_records", outcome=outcome)
        for outcome in ("emitted", "duplicate", "reemitted", "dead_lettered")
    ] == [1, 1, 1, 1]


async def test_dropped_duplicates_are_counted_by_source(worker: Worker) -> None:
    await worker.handle(event(10, event_id="msg_1"))
    await worker.handle(event(11, event_id="msg_1"))
    assert worker.count("hookgate_worker_duplicates_dropped", source="demo") == 1


async def test_dead_letters_are_counted_by_reason(worker: Worker) -> None:
    await worker.handle(poison())
    assert worker.count("hookgate_worker_dead_letters", reason="undecodable_record") == 1


async def test_a_refused_event_is_counted_as_a_dead_letter_by_reason(worker: Worker) -> None:
    await worker.handle(event(10))
    worker.outputs[0].fail(RecordRefused("message too large"))
    await settle()
    assert worker.count("hookgate_worker_dead_letters", reason="record_refused") == 1


async def test_a_record_handed_out_again_within_an_assignment_is_skipped_and_acked(
    worker: Worker,
) -> None:
    await worker.handle(event(10, event_id="msg_1"))
    await worker.handle(event(10, event_id="msg_1"))
    assert (len(worker.outputs), worker.acked) == (1, [(0, 10)])


async def test_a_skipped_offset_within_an_assignment_stops_the_worker(worker: Worker) -> None:
    await worker.handle(event(10, event_id="msg_1"))
    await worker.handle(event(12, event_id="msg_2"))
    assert len(worker.outputs) == 1
    assert [str(error) for error in worker.crashes] == ["partition 0: got offset 12, expected 11"]


def resuming_at(offset: int) -> Worker:
    """A worker whose broker says partition 0 resumes at ``offset`` when it is assigned."""
    return make_worker(
        AutoAckEmitter(), starts=lambda partitions: dict.fromkeys(partitions, offset)
    )


async def test_a_first_record_past_where_the_partition_resumes_stops_the_worker() -> None:
    worker = resuming_at(10)
    await worker.runner.assign({0})
    await worker.handle(event(12, event_id="msg_2"))
    assert len(worker.outputs) == 0
    assert [str(error) for error in worker.crashes] == ["partition 0: got offset 12, expected 10"]


async def test_a_first_record_where_the_partition_resumes_is_processed() -> None:
    worker = resuming_at(10)
    await worker.runner.assign({0})
    await worker.handle(event(10, event_id="msg_1"))
    assert (len(worker.outputs), worker.crashes) == (1, [])


async def test_start_offsets_that_cannot_be_read_leave_the_first_record_to_set_the_position() -> (
    None
):
    def unreadable(partitions: set[int]) -> Mapping[int, int]:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT))

    worker = make_worker(AutoAckEmitter(), starts=unreadable)
    await worker.runner.assign({0})
    await worker.handle(event(12, event_id="msg_2"))
    assert (len(worker.outputs), worker.crashes) == (1, [])


# --- batches from the raw reader (streams/raw_reader.py) ------------------------------------


async def test_a_batch_is_processed_record_by_record_in_order(worker: Worker) -> None:
    await worker.runner.handle_batch([event(0), event(1)])
    assert [dict(sent.headers)["ce_id"] for sent in worker.outputs] == [b"msg_0_0", b"msg_0_1"]


async def test_records_of_a_batch_are_handed_out_until_a_commit_covers_them(
    worker: Worker,
) -> None:
    await worker.runner.handle_batch([event(0), event(1)])
    assert worker.runner.unacked == 2
    worker.outputs[0].succeed()
    await worker.runner.commit()
    assert worker.runner.unacked == 1
    worker.outputs[1].succeed()
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
