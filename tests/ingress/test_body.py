"""The body-read deadline's sweep (:class:`ingress.body.BodyDeadlines`): what it cancels, what it
leaves alone, and that it does not outlive the reads it watches; and a body the server already
holds (``check_received``). The 408 itself is tested through the app in
test_limits.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ingress.body import BodyDeadlines, check_received
from ingress.errors import BodyTimeout, Overloaded, PayloadTooLarge
from ingress.limits import InFlight

SWEEPER = "ingress-body-deadlines"


async def never() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def one_message() -> dict[str, Any]:
    return {"type": "http.request", "body": b"{}", "more_body": False}


def sweepers() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == SWEEPER]


async def read(deadlines: BodyDeadlines, receive: Any) -> bytes:
    with InFlight(max_body_bytes=1 << 20, max_produces=10).holding() as held:
        return await deadlines.read(receive, 1024, held)


async def test_a_stalled_read_is_a_body_timeout_and_its_task_is_not_left_cancelled() -> None:
    deadlines = BodyDeadlines(0.1)

    async def reader() -> int:
        with pytest.raises(BodyTimeout):
            await read(deadlines, never)
        await asyncio.sleep(0.01)  # a task left cancelling would be cancelled again here
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    assert await asyncio.wait_for(reader(), 5) == 0


async def test_a_cancellation_from_outside_is_not_turned_into_a_body_timeout() -> None:
    deadlines = BodyDeadlines(10)
    task = asyncio.create_task(read(deadlines, never))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_sweep_ends_once_no_read_is_pending() -> None:
    deadlines = BodyDeadlines(0.1)
    assert await read(deadlines, one_message) == b"{}"
    assert len(sweepers()) == 1
    await asyncio.sleep(deadlines.sweep_s * 3)
    assert sweepers() == []


async def test_a_body_already_received_is_taken_without_a_read_or_a_deadline() -> None:
    with InFlight(max_body_bytes=1 << 20, max_produces=10).holding() as held:
        body = check_received("2", 1024, held, b"{}")
        assert (body, held.size) == (b"{}", 2)
    assert sweepers() == []  # nothing registered: there was nothing to wait for


def test_a_body_already_received_over_the_limit_is_refused() -> None:
    held = InFlight(max_body_bytes=1 << 20, max_produces=10).holding()
    with held, pytest.raises(PayloadTooLarge):
        check_received(None, 8, held, b"x" * 9)


def test_a_body_already_received_over_its_declared_limit_is_refused() -> None:
    held = InFlight(max_body_bytes=1 << 20, max_produces=10).holding()
    with held, pytest.raises(PayloadTooLarge):
        check_received("9", 8, held, b"x" * 9)


def test_a_body_already_received_counts_against_the_bytes_in_flight() -> None:
    in_flight = InFlight(max_body_bytes=8, max_produces=10)
    with in_flight.holding() as held, pytest.raises(Overloaded):
        check_received(None, 1024, held, b"x" * 9)


def test_released_bytes_are_given_back_once() -> None:
    in_flight = InFlight(max_body_bytes=8, max_produces=10)
    held = in_flight.holding()
    held.reserve(5)
    held.release()
    held.release()
    assert in_flight.body_bytes == 0
