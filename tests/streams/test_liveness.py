"""The worker's check of itself (streams/liveness.py): when records wait and none is taken."""

from __future__ import annotations

from streams.liveness import Liveness, Progress, waiting
from streams.offsets import GroupOffsets, PartitionOffsets


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
