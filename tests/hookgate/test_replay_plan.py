"""The offset-reset plan of `hookgate replay`, the replay fence format and CLI times (no Kafka)."""

from __future__ import annotations

import pytest

from hookgate.replay import PartitionPlan, plan, table
from hookgate.timespec import TimeSpecError, iso, parse_ms
from schemas import replayfence

NOW = 1_795_000_000_000


def one(
    current: int | None, from_offset: int, end: int = 100, to: int | None = None
) -> PartitionPlan:
    return plan([0], {0: current}, {0: from_offset}, {0: end}, None if to is None else {0: to})[0]


def test_the_target_is_the_first_offset_at_or_after_the_time() -> None:
    assert one(current=90, from_offset=40).target == 40


def test_the_records_replayed_are_those_between_the_target_and_the_current_offset() -> None:
    assert one(current=90, from_offset=40).replayed == 50


def test_a_time_after_the_last_record_targets_the_end_and_replays_nothing() -> None:
    p = one(current=100, from_offset=-1, end=100)
    assert (p.target, p.replayed) == (100, 0)


def test_a_group_behind_the_time_is_never_moved_forward() -> None:
    # Moving it to 60 would skip records 30..59 it has not read yet.
    p = one(current=30, from_offset=60)
    assert (p.target, p.replayed) == (30, 0)


def test_a_group_without_an_offset_starts_at_the_target_and_reads_to_the_end() -> None:
    p = one(current=None, from_offset=40, end=100)
    assert (p.target, p.replayed) == (40, 60)


def test_to_fences_the_records_from_its_offset_to_the_current_one() -> None:
    p = one(current=90, from_offset=40, to=70)
    assert (p.replayed, p.fence) == (30, range(70, 90))


def test_to_after_the_current_offset_fences_nothing() -> None:
    assert one(current=90, from_offset=40, to=95).fence is None


def test_to_after_the_last_record_fences_nothing() -> None:
    assert one(current=90, from_offset=40, to=-1).fence is None


def test_the_table_has_a_row_per_partition_and_a_total() -> None:
    plans = plan([0, 1], {0: 10, 1: 20}, {0: 5, 1: 20}, {0: 10, 1: 20})
    lines = table(plans, with_fence=False)
    assert lines[0].split() == ["partition", "current", "target", "replayed"]
    assert [line.split() for line in lines[1:]] == [
        ["0", "10", "5", "5"],
        ["1", "20", "20", "0"],
        ["total", "5"],
    ]


def test_a_fence_reads_back_as_the_range_it_was_written_for() -> None:
    assert replayfence.decode(70, replayfence.metadata(90)) == range(70, 90)


@pytest.mark.parametrize("metadata", ["", None, "end=", "end=x", "end=70", "other"])
def test_metadata_this_tool_did_not_write_is_no_fence(metadata: str | None) -> None:
    assert replayfence.decode(70, metadata) is None


def test_an_iso_time_without_a_zone_is_utc() -> None:
    assert parse_ms("2026-11-30T10:00:00", NOW) == parse_ms("2026-11-30T10:00:00Z", NOW)


def test_a_duration_is_that_long_before_now() -> None:
    assert parse_ms("90m", NOW) == NOW - 90 * 60_000


def test_a_time_that_is_neither_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(TimeSpecError, match="ISO 8601"):
        parse_ms("yesterday", NOW)


def test_iso_round_trips_milliseconds() -> None:
    assert parse_ms(iso(NOW + 7), 0) == NOW + 7
