"""The worker's own bounds on a transactional commit (streams.exactly_once): the transaction
timeout it gives its producers, and the deadline after which a blocked commit is given up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from streams.exactly_once import call_with_deadline, transaction_timeout_ms_for

#: The broker's default ``transaction.max.timeout.ms``: a longer timeout fails init_transactions.
BROKER_MAX_TRANSACTION_TIMEOUT_MS = 900_000


@pytest.mark.parametrize("interval_ms", [10, 100, 5_000, 60_000])
def test_a_transaction_may_outlive_its_commit_interval_by_ten_seconds(interval_ms: int) -> None:
    assert transaction_timeout_ms_for(interval_ms) - interval_ms >= 10_000


def test_the_longest_commit_interval_stays_within_what_the_broker_accepts() -> None:
    assert transaction_timeout_ms_for(60_000) <= BROKER_MAX_TRANSACTION_TIMEOUT_MS


def test_the_default_interval_bounds_a_transaction_to_about_ten_seconds() -> None:
    # The stall after losing the group's coordinator lasts about this long (RELIABILITY.md).
    assert transaction_timeout_ms_for(100) <= 11_000


async def test_a_call_that_returns_in_time_gives_its_result() -> None:
    assert await call_with_deadline(lambda: 42, 5) == 42


async def test_a_call_that_fails_in_time_raises_its_error() -> None:
    def fail() -> None:
        raise ValueError("fenced")

    with pytest.raises(ValueError, match="fenced"):
        await call_with_deadline(fail, 5)


async def test_a_call_still_blocked_at_the_deadline_raises_timeout_then() -> None:
    release = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            await call_with_deadline(lambda: release.wait(60), 0.3)
        assert time.monotonic() - started < 3
    finally:
        release.set()


def test_a_process_whose_librdkafka_call_is_still_blocked_exits_promptly() -> None:
    # init_transactions with no broker to reach blocks for its whole timeout (600 s), as a
    # commit waiting on a lost coordinator does. Through asyncio.to_thread the process would
    # wait for it at exit (the executor joins its threads): measured, still running after 40 s.
    script = textwrap.dedent(
        """
        import asyncio
        from confluent_kafka import Producer
        from streams.exactly_once import call_with_deadline

        async def main():
            producer = Producer(
                {"bootstrap.servers": "127.0.0.1:1", "transactional.id": "t", "log_level": 0}
            )
            try:
                await call_with_deadline(lambda: producer.init_transactions(600), 1)
            except TimeoutError:
                print("gave up", flush=True)

        asyncio.run(main())
        """
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, timeout=120, check=False
    )
    elapsed = time.monotonic() - started
    assert done.stdout.strip() == b"gave up", done.stderr.decode()[-2000:]
    assert done.returncode == 0
    # Importing the worker's modules takes seconds on a busy machine; 600 s is the failure.
    assert elapsed < 60, elapsed
