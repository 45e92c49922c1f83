"""The worker's check of itself (streams/liveness.py): when records wait and none is taken."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException

from streams.liveness import Liveness, Progress, waiting
from streams.offsets import GroupOffsets, PartitionOffsets
from tests.support import new_topic


def test_records_past_the_runners_position_are_waiting() -> None:
    assert waiting({0: 5}, {0: PartitionOffsets(committed=2, low=0, high=8)}) == {0: 3}


def test_without_a_position_the_committed_offset_says_where_taking_resumes() -> None:
    assert waiting({}, {0: PartitionOffsets(committed=6, low=0, high=8)}) == {0: 2}


def test_without_position_or_commit_the_whole_log_waits() -> None:
    assert waiting({}, {0: PartitionOffsets(committed=None, low=3, high=8)}) == {0: 5}


def test_a_partition_taken_to_its_end_has_nothing_waiting() -> None:
    offsets = {
        0: PartitionOffsets(committed=None, low=0, high=8),
        1: PartitionOffsets(committed=4, low=0, high=4),
    }
    assert waiting({0: 8}, offsets) == {}


def test_a_committed_offset_below_the_log_start_counts_from_the_start() -> None:
    assert waiting({}, {0: PartitionOffsets(committed=1, low=5, high=8)}) == {0: 3}


def test_a_partition_resumes_at_its_committed_offset() -> None:
    assert PartitionOffsets(committed=6, low=2, high=9).start == 6


def test_a_partition_without_a_commit_resumes_at_the_log_start() -> None:
    assert PartitionOffsets(committed=None, low=2, high=9).start == 2


def check(taken_at: float, timeout: float = 60.0) -> Liveness:
    return Liveness(
        offsets=GroupOffsets({}, "g", "t"),
        stall_timeout_s=timeout,
        progress=Progress(owned=lambda: {0}, positions=dict, taken_at=lambda: taken_at),
        describe=lambda: "state",
    )


def test_waiting_records_and_none_taken_for_the_timeout_is_a_stall() -> None:
    stalled = check(taken_at=100.0).verdict(161.0, {0: 3})
    assert stalled is not None
    assert "partition 0: 3" in str(stalled)


def test_a_record_taken_within_the_timeout_is_not_a_stall() -> None:
    assert check(taken_at=100.0).verdict(159.0, {0: 3}) is None


def test_nothing_waiting_is_not_a_stall_however_long_the_quiet() -> None:
    assert check(taken_at=0.0).verdict(10_000.0, {}) is None


def test_time_spent_rebalancing_or_recovering_does_not_count() -> None:
    liveness = check(taken_at=0.0)
    liveness.note_busy(150.0)
    assert liveness.verdict(200.0, {0: 3}) is None


def test_a_partition_with_no_position_and_no_known_commit_is_not_judged() -> None:
    # The group's coordinator is away: where taking resumes is unknown, so nothing is claimed.
    offsets = {0: PartitionOffsets(committed=None, low=0, high=8, committed_known=False)}
    assert waiting({}, offsets) == {}


def test_a_partition_with_a_position_is_judged_without_its_commit() -> None:
    offsets = {0: PartitionOffsets(committed=None, low=0, high=8, committed_known=False)}
    assert waiting({0: 5}, offsets) == {0: 3}


@pytest.mark.kafka
def test_the_check_reads_the_partitions_it_can_while_others_cannot_be_read(
    kafka_bootstrap: str,
) -> None:
    # A partition the cluster cannot answer for (here: one that does not exist, as a partition
    # whose leader is down answers during an outage) no longer blinds the check for the others.
    topic = new_topic(kafka_bootstrap, partitions=1)
    offsets = GroupOffsets({"bootstrap.servers": kafka_bootstrap}, "liveness-partial", topic)
    try:
        with pytest.raises(KafkaException):
            offsets.read({0, 7})
        available = offsets.read_available({0, 7})
    finally:
        offsets.close()
    assert set(available) == {0}
    assert available[0].committed_known
