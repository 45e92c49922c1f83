"""The de-duplication state (streams.state.DedupState) alone: store, changelog writes, expiry.

No Kafka: the store is a plain dict and the changelog writer is a recording fake. That a commit
waits for the state writes it covers is the runner's flush (tests/streams/test_at_least_once.py,
test_exactly_once.py); the real changelog is covered by the Kafka tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from streams.dedup import Seen
from streams.state import DedupState
from tests.fakes import FakeEmitter

CHANGELOG = "t-dedup-changelog"
HORIZON_MS = 3_600_000
T0_MS = 1_795_000_000_000


@dataclass
class Harness:
    state: DedupState
    store: dict[bytes, object]
    writer: FakeEmitter


@pytest.fixture
def harness() -> Harness:
    store: dict[bytes, object] = {}
    writer = FakeEmitter()
    return Harness(DedupState(store, writer, CHANGELOG, HORIZON_MS), store, writer)


# --- put ---------------------------------------------------------------------------------------


def test_put_stores_the_entry_at_once(harness: Harness) -> None:
    harness.state.put(b"demo:msg_1", Seen(2, 10, T0_MS))
    assert harness.state.get(b"demo:msg_1") == [2, 10, T0_MS]


def test_put_writes_the_entry_to_the_changelog_partition_of_its_record(
    harness: Harness,
) -> None:
    harness.state.put(b"demo:msg_1", Seen(2, 10, T0_MS))
    sent = harness.writer.written[-1]
    assert (sent.topic, sent.key, sent.partition) == (CHANGELOG, b"demo:msg_1", 2)
    assert orjson.loads(sent.value or b"") == [2, 10, T0_MS]


def test_a_changelog_write_the_writer_refuses_is_raised_to_the_caller(
    harness: Harness,
) -> None:
    harness.writer.write_error = RuntimeError("the producer failed")
    with pytest.raises(RuntimeError, match="the producer failed"):
        harness.state.put(b"a", Seen(0, 1, T0_MS))


# --- expire ------------------------------------------------------------------------------------


async def test_expire_tombstones_entries_older_than_the_horizon(harness: Harness) -> None:
    harness.state.put(b"old", Seen(0, 1, T0_MS))
    harness.state.put(b"new", Seen(0, 2, T0_MS + HORIZON_MS + 1))
    assert await harness.state.expire({0}) == 1
    tombstone = harness.writer.written[-1]
    assert (tombstone.topic, tombstone.key, tombstone.value, tombstone.partition) == (
        CHANGELOG,
        b"old",
        None,
        0,
    )


async def test_expire_removes_expired_entries_from_the_store(harness: Harness) -> None:
    harness.state.put(b"old", Seen(0, 1, T0_MS))
    harness.state.put(b"new", Seen(0, 2, T0_MS + HORIZON_MS + 1))
    await harness.state.expire({0})
    assert harness.store == {b"new": [0, 2, T0_MS + HORIZON_MS + 1]}


async def test_expire_keeps_entries_exactly_one_horizon_old(harness: Harness) -> None:
    harness.state.put(b"old", Seen(0, 1, T0_MS))
    harness.state.put(b"new", Seen(0, 2, T0_MS + HORIZON_MS))
    assert await harness.state.expire({0}) == 0
    assert set(harness.store) == {b"old", b"new"}


async def test_expire_goes_by_each_partitions_own_clock(harness: Harness) -> None:
    # Partition 1 has seen nothing newer since T0: by its clock, its entry is not old yet.
    harness.state.put(b"quiet", Seen(1, 1, T0_MS))
    harness.state.put(b"busy", Seen(0, 1, T0_MS + 10 * HORIZON_MS))
    assert await harness.state.expire({0, 1}) == 0
    assert set(harness.store) == {b"quiet", b"busy"}


async def test_expire_touches_only_the_given_partitions(harness: Harness) -> None:
    harness.state.put(b"old", Seen(1, 1, T0_MS))
    harness.state.put(b"new", Seen(1, 2, T0_MS + HORIZON_MS + 1))
    writes = len(harness.writer.written)
    assert await harness.state.expire({0}) == 0
    assert (set(harness.store), len(harness.writer.written)) == ({b"old", b"new"}, writes)


async def test_expire_ignores_entries_of_partitions_without_a_write_since_start(
    harness: Harness,
) -> None:
    # Recovered entries and no new record yet: the partition has no clock to judge age by.
    harness.store[b"recovered"] = [0, 1, T0_MS]
    assert await harness.state.expire({0}) == 0
    assert b"recovered" in harness.store


class UnreadableStore(dict[bytes, object]):
    def items(self) -> Any:
        raise AssertionError("the store was read")


async def test_expire_does_not_read_the_store_while_no_partition_has_a_clock() -> None:
    # After a restart the store may hold millions of recovered entries (bench/state_size.py):
    # with no record since, no entry can be judged, and reading them all is pure cost.
    state = DedupState(UnreadableStore(), FakeEmitter(), CHANGELOG, HORIZON_MS)
    assert await state.expire({0, 1}) == 0


async def test_expire_removes_at_most_limit_entries(harness: Harness) -> None:
    for offset in range(5):
        harness.state.put(f"old-{offset}".encode(), Seen(0, offset, T0_MS))
    harness.state.put(b"new", Seen(0, 9, T0_MS + HORIZON_MS + 1))
    assert await harness.state.expire({0}, limit=2) == 2
    assert len(harness.store) == 4
