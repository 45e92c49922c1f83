"""The worker's check of itself (streams/liveness.py): when records wait and none is taken."""

from __future__ import annotations

from streams.liveness import Liveness, Progress, waiting


def test_records_past_the_runners_position_are_waiting() -> None:
    assert waiting({0}, {0: 5}, {0: 2}, {0: (0, 8)}) == {0: 3}


def test_without_a_position_the_committed_offset_says_where_taking_resumes() -> None:
    assert waiting({0}, {}, {0: 6}, {0: (0, 8)}) == {0: 2}


def test_without_position_or_commit_the_whole_log_waits() -> None:
    assert waiting({0}, {}, {}, {0: (3, 8)}) == {0: 5}


def test_a_partition_taken_to_its_end_has_nothing_waiting() -> None:
    assert waiting({0, 1}, {0: 8}, {1: 4}, {0: (0, 8), 1: (0, 4)}) == {}


def test_a_committed_offset_below_the_log_start_counts_from_the_start() -> None:
    assert waiting({0}, {}, {0: 1}, {0: (5, 8)}) == {0: 3}


def test_partitions_not_owned_are_not_looked_at() -> None:
    assert waiting({1}, {}, {}, {0: (0, 8)}) == {}


def check(taken_at: float, timeout: float = 60.0) -> Liveness:
    return Liveness(
        client_config={},
        group="g",
        topic="t",
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
