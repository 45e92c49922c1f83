"""streams.exactly_once.Transactions on the real broker: what read_committed consumers see.

Each test owns fresh topics and a fresh group. The state writer is a recording stand-in (that a
commit flushes the state first is the runner's part, tests/streams/test_runner.py);
everything else is real Kafka.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin/__init__ uses it but does not re-export it

from streams.errors import RecordRefused
from streams.exactly_once import TransactionFailed, Transactions
from streams.metrics import WorkerMetrics
from streams.pipeline import Output, RawRecord
from streams.state import DedupState
from tests.fakes import FakeEmitter
from tests.support import read_all, value_of, wait_until

pytestmark = pytest.mark.kafka


class Setup:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        name = f"eos{uuid.uuid4().hex[:8]}"
        self.raw, self.out, self.group = f"{name}.raw", f"{name}.out", f"{name}-group"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        futures = admin.create_topics(
            [NewTopic(self.raw, 2, 1), NewTopic(self.out, 1, 1)], operation_timeout=30
        )
        for future in futures.values():
            future.result(30)

    def transactions(self, client: dict[str, Any] | None = None, **options: Any) -> Transactions:
        state = DedupState({}, FakeEmitter(), f"{self.group}-changelog", 3_600_000)

        def refused(record: RawRecord, error: RecordRefused) -> Output:
            return Output(self.out, record.key, b"refused", [], dead_letter=True)

        return Transactions(
            client_config={**(client or {}), "bootstrap.servers": self.bootstrap},
            app_id=self.group,
            raw_topic=self.raw,
            state=state,
            metrics=WorkerMetrics(),
            on_refused=refused,
            timeout_s=20,
            **options,
        )

    def record(self, partition: int, offset: int) -> RawRecord:
        return RawRecord(self.raw, partition, offset, b"k", b"v", [])

    def output(self, value: bytes) -> Output:
        return Output(self.out, b"k", value, [("h", b"1")])

    def committed(self, partition: int) -> int:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group})
        try:
            (tp,) = consumer.committed([TopicPartition(self.raw, partition)], timeout=20)
            return int(tp.offset)
        finally:
            consumer.close()

    def visible(self, at_least: int = 0) -> list[bytes]:
        """What a read_committed consumer sees. Commit markers land just after the commit
        returns, so wait for ``at_least`` records, or a moment when expecting none."""
        if at_least == 0:
            time.sleep(2)

        def read() -> list[bytes]:
            return [value_of(m) for m in read_all(self.bootstrap, self.out, timeout=20)]

        if at_least:
            wait_until(lambda: len(read()) >= at_least, 20, f"{at_least} committed records")
        return read()


@pytest.fixture
def setup(kafka_bootstrap: str) -> Setup:
    return Setup(kafka_bootstrap)


async def commit(txns: Transactions) -> int:
    """What the runner does once it has flushed the state: commit what progress() takes."""
    progress = txns.progress()
    return 0 if progress is None else await txns.commit(progress)


async def test_a_commit_makes_the_output_and_the_next_offset_visible_together(
    setup: Setup,
) -> None:
    txns = setup.transactions()
    await txns.assign({0})
    acked: list[int] = []
    for offset in (0, 1, 2):
        txns.write(setup.record(0, offset), setup.output(b"e%d" % offset), lambda: None)
    txns.write(setup.record(0, 3), None, lambda: acked.append(3))
    assert setup.visible() == []
    await commit(txns)
    assert setup.visible(3) == [b"e0", b"e1", b"e2"]
    assert setup.committed(0) == 4
    assert acked == [3]
    await txns.close()


async def test_output_of_a_transaction_never_committed_is_never_visible(setup: Setup) -> None:
    txns = setup.transactions()
    await txns.assign({0})
    txns.write(setup.record(0, 0), setup.output(b"lost-with-the-crash"), lambda: None)
    await txns.close()
    assert setup.visible() == []
    assert setup.committed(0) < 0


async def test_a_new_owner_fences_the_old_one_which_can_no_longer_commit(setup: Setup) -> None:
    old, new = setup.transactions(), setup.transactions()
    await old.assign({1})
    old.write(setup.record(1, 0), setup.output(b"from-the-zombie"), lambda: None)
    await new.assign({1})
    with pytest.raises(TransactionFailed):
        await commit(old)
    new.write(setup.record(1, 0), setup.output(b"from-the-owner"), lambda: None)
    await commit(new)
    assert setup.visible(1) == [b"from-the-owner"]
    assert setup.committed(1) == 1
    await new.close()


async def test_a_commit_not_done_by_its_deadline_fails_the_transaction(setup: Setup) -> None:
    # Far shorter than any real commit: stands in for one stuck on a lost group coordinator.
    txns = setup.transactions(commit_deadline_s=0.001)
    await txns.assign({0})
    txns.write(setup.record(0, 0), setup.output(b"late"), lambda: None)
    with pytest.raises(TransactionFailed, match="did not return within"):
        await commit(txns)


async def test_the_producers_transaction_timeout_is_the_one_given(setup: Setup) -> None:
    # Above the broker's transaction.max.timeout.ms (900 s by default): init_transactions is
    # refused, which only happens if the setting reaches the producer.
    txns = setup.transactions(transaction_timeout_ms=900_001)
    with pytest.raises(TransactionFailed, match="cannot start transactions"):
        await txns.assign({0})


async def test_an_operators_own_transaction_timeout_wins(setup: Setup) -> None:
    # Theirs is refused by the broker (above 900 s), ours alone would not be.
    txns = setup.transactions(client={"transaction.timeout.ms": 900_001})
    with pytest.raises(TransactionFailed, match="cannot start transactions"):
        await txns.assign({0})


async def test_a_record_of_a_partition_not_owned_is_not_written(setup: Setup) -> None:
    txns = setup.transactions()
    await txns.assign({0})
    assert not txns.write(setup.record(1, 0), setup.output(b"x"), lambda: None)
    await txns.close()


async def test_an_event_larger_than_the_client_accepts_becomes_its_dead_letter(
    setup: Setup,
) -> None:
    txns = setup.transactions()
    await txns.assign({0})
    huge = Output(setup.out, b"k", b"x" * 2_000_000, [])
    txns.write(setup.record(0, 0), huge, lambda: None)
    await commit(txns)
    assert setup.visible(1) == [b"refused"]
    await txns.close()


async def test_a_record_written_while_its_partition_commits_goes_into_the_next_transaction(
    setup: Setup,
) -> None:
    txns = setup.transactions()
    await txns.assign({0})
    txns.write(setup.record(0, 0), setup.output(b"first"), lambda: None)
    progress = txns.progress()
    assert progress is not None
    txns.write(setup.record(0, 1), setup.output(b"second"), lambda: None)  # held meanwhile
    await txns.commit(progress)
    assert (setup.visible(1), setup.committed(0)) == ([b"first"], 1)
    await commit(txns)
    assert (setup.visible(2), setup.committed(0)) == ([b"first", b"second"], 2)
    await txns.close()


def test_progress_takes_nothing_when_no_record_was_written_since_the_last(setup: Setup) -> None:
    assert setup.transactions().progress() is None
