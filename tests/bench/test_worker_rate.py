"""How the worker benchmark turns the reader's timestamps into a rate
(``bench/worker_throughput.event_rate``)."""

from __future__ import annotations

import pytest

from bench.worker_throughput import event_rate


def test_the_rate_leaves_out_the_first_batch_when_most_events_came_after_it() -> None:
    rate, basis, seconds = event_rate(
        events=1000, filled_at=0.0, first=2.0, first_count=100, last=4.0
    )

    assert basis == "first-batch-to-last"
    assert seconds == pytest.approx(2.0)
    assert rate == pytest.approx(900 / 2.0)


def test_a_first_batch_holding_every_event_is_timed_from_the_fill() -> None:
    # One exactly-once transaction made all 500 events visible at once: from the first batch
    # to the last event nothing was left to time, and the rate came out 0 (a CI failure).
    rate, basis, seconds = event_rate(
        events=500, filled_at=1.0, first=1.5, first_count=500, last=1.5
    )

    assert basis == "fill-to-last"
    assert seconds == pytest.approx(0.5)
    assert rate == pytest.approx(1000.0)


def test_a_first_batch_holding_most_events_is_timed_from_the_fill() -> None:
    rate, basis, _ = event_rate(events=500, filled_at=0.0, first=0.5, first_count=400, last=1.0)

    assert basis == "fill-to-last"
    assert rate == pytest.approx(500.0)
