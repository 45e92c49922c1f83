"""The de-duplication rule (streams/dedup.py): a pure function of stored state and record."""

from __future__ import annotations

import json

import pytest

from streams.dedup import Decision, Seen, decide

HOUR_MS = 3_600_000
HORIZON_MS = 24 * HOUR_MS
T0 = 1_795_000_000_000

FIRST = Seen(partition=1, offset=100, received_at_ms=T0)


def test_the_first_record_of_an_event_is_emitted() -> None:
    assert decide(None, FIRST, HORIZON_MS) is Decision.EMIT


def test_the_same_record_read_again_is_emitted_again() -> None:
    assert decide(FIRST, Seen(1, 100, T0), HORIZON_MS) is Decision.REEMIT


def test_the_same_record_read_again_long_after_is_still_emitted_again() -> None:
    # A replay compares the record's own coordinates, whatever the time stored with them.
    assert decide(FIRST, Seen(1, 100, T0 + 10 * HORIZON_MS), HORIZON_MS) is Decision.REEMIT


def test_a_second_delivery_within_the_horizon_is_dropped() -> None:
    assert decide(FIRST, Seen(1, 250, T0 + HOUR_MS), HORIZON_MS) is Decision.DROP_DUPLICATE


def test_a_second_delivery_at_exactly_the_horizon_is_dropped() -> None:
    assert decide(FIRST, Seen(1, 250, T0 + HORIZON_MS), HORIZON_MS) is Decision.DROP_DUPLICATE


def test_a_second_delivery_received_at_the_same_moment_is_dropped() -> None:
    assert decide(FIRST, Seen(1, 101, T0), HORIZON_MS) is Decision.DROP_DUPLICATE


def test_a_record_at_the_same_offset_of_another_partition_is_another_record() -> None:
    assert decide(FIRST, Seen(2, 100, T0 + HOUR_MS), HORIZON_MS) is Decision.DROP_DUPLICATE


def test_a_delivery_beyond_the_horizon_is_emitted() -> None:
    assert decide(FIRST, Seen(1, 900, T0 + HORIZON_MS + 1), HORIZON_MS) is Decision.EMIT


def test_an_older_record_beyond_the_horizon_met_in_a_replay_is_emitted() -> None:
    # Stored state came from a later emit; replaying from the start meets the first delivery.
    later = Seen(1, 900, T0 + 2 * HORIZON_MS)
    assert decide(later, Seen(1, 100, T0), HORIZON_MS) is Decision.EMIT


def test_an_older_record_within_the_horizon_met_in_a_replay_is_dropped() -> None:
    later = Seen(1, 900, T0 + HOUR_MS)
    assert decide(later, Seen(1, 50, T0), HORIZON_MS) is Decision.DROP_DUPLICATE


def test_seen_round_trips_through_json() -> None:
    stored = json.loads(json.dumps(FIRST.to_json()))
    assert Seen.from_json(stored) == FIRST


def test_seen_is_stored_as_partition_offset_and_time() -> None:
    assert FIRST.to_json() == [1, 100, T0]


@pytest.mark.parametrize(
    "stored",
    [None, "garbage", {"partition": 1}, [1, 100], [1, 100, T0, 4], [1, "100", T0], [1.0, 100, T0]],
)
def test_unreadable_stored_state_reads_as_none(stored: object) -> None:
    assert Seen.from_json(stored) is None


def test_unreadable_stored_state_leads_to_emitting() -> None:
    assert decide(Seen.from_json("garbage"), FIRST, HORIZON_MS) is Decision.EMIT
