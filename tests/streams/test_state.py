"""The de-duplication state (streams.state.DedupState) alone: store, changelog writes, expiry.

No Kafka: the store is a plain dict and the changelog writer is a recording fake whose writes
the test acknowledges (or fails) by hand. The real changelog is covered by the Kafka tests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from streams.dedup import Seen
from streams.state import DedupState, StateWriteFailed
from tests.fakes import AutoAckEmitter, HandEmitter, settle

CHANGELOG = "t-dedup-changelog"
HORIZON_MS = 3_600_000
T0_MS = 1_795_000_000_000


@dataclass
class Harness:
    state: DedupState
    store: dict[bytes, object]
    writer: HandEmitter


@pytest.fixture
def harness() -> Harness:
    store: dict[bytes, object] = {}
    writer = HandEmitter()
    return Harness(DedupState(store, writer, CHANGELOG, HORIZON_MS), store, writer)


# --- put ---------------------------------------------------------------------------------------


async def test_put_stores_the_entry_at_once(harness: Harness) -> None:
    await harness.state.put(b"demo:msg_1", Seen(2, 10, T0_MS))
    assert harness.state.get(b"demo:msg_1") == [2, 10, T0_MS]


async def test_put_writes_the_entry_to_the_changelog_partition_of_its_record(
    harness: Harness,
) -> None:
    await harness.state.put(b"demo:msg_1", Seen(2, 10, T0_MS))
    sent = harness.writer.last
    assert (sent.topic, sent.key, sent.partition) == (CHANGELOG, b"demo:msg_1", 2)
    assert orjson.loads(sent.value or b"") == [2, 10, T0_MS]


async def test_issued_counts_the_writes_of_each_partition(harness: Harness) -> None:
    await harness.state.put(b"a", Seen(0, 1, T0_MS))
    await harness.state.put(b"b", Seen(0, 2, T0_MS))
    await harness.state.put(b"c", Seen(1, 1, T0_MS))
    assert (harness.state.issued(0), harness.state.issued(1), harness.state.issued(2)) == (2, 1, 0)


# --- durable -----------------------------------------------------------------------------------


async def test_durable_waits_until_the_writes_are_acknowledged(harness: Harness) -> None:
    await harness.state.put(b"a", Seen(0, 1, T0_MS))
    waiting = asyncio.ensure_future(harness.state.durable(0, 1))
    await settle()
    assert not waiting.done()
    harness.writer.last.succeed()
    await asyncio.wait_for(waiting, 5)


async def test_durable_does_not_wait_for_writes_issued_after_upto(harness: Harness) -> None:
    await harness.state.put(b"a", Seen(0, 1, T0_MS))
    await harness.state.put(b"b", Seen(0, 2, T0_MS))
    harness.writer.sent[0].succeed()
    await asyncio.wait_for(harness.state.durable(0, 1), 5)


async def test_durable_does_not_wait_for_other_partitions(harness: Harness) -> None:
    await harness.state.put(b"a", Seen(0, 1, T0_MS))
    await harness.state.put(b"b", Seen(1, 1, T0_MS))
    harness.writer.sent[1].succeed()
    await asyncio.wait_for(harness.state.durable(1, 1), 5)


async def test_a_failed_changelog_write_makes_durable_raise(harness: Harness) -> None:
    await harness.state.put(b"a", Seen(0, 1, T0_MS))
    waiting = asyncio.ensure_future(harness.state.durable(0, 1))
    await settle()
    harness.writer.last.fail(RuntimeError("changelog partition offline"))
    with pytest.raises(StateWriteFailed, match="changelog partition offline"):
        await asyncio.wait_for(waiting, 5)


async def test_a_failed_changelog_write_fails_every_later_durable(harness: Harness) -> None:
    # The failed entry may be one a later commit depends on: nothing is durable any more.
    await harness.state.put(b"a", Seen(0, 1, T0_MS))
    harness.writer.last.fail(RuntimeError("changelog partition offline"))
    await harness.state.put(b"b", Seen(1, 1, T0_MS))
    harness.writer.last.succeed()
    with pytest.raises(StateWriteFailed):
        await asyncio.wait_for(harness.state.durable(1, 1), 5)


async def test_a_forgotten_partition_starts_with_no_writes_issued(harness: Harness) -> None:
    await harness.state.put(b"a", Seen(0, 1, T0_MS))
    harness.state.forget(0)
    assert harness.state.issued(0) == 0


async def test_a_write_acknowledged_after_its_partition_was_forgotten_is_not_counted_again(
    harness: Harness,
) -> None:
    # The partition went away with a write in flight and came back: durable() for the new
    # writes must wait for them, not count the old write's late acknowledgement as theirs.
    await harness.state.put(b"before", Seen(0, 1, T0_MS))
    harness.state.forget(0)
    await harness.state.put(b"after", Seen(0, 2, T0_MS))
    harness.writer.sent[0].succeed()
    waiting = asyncio.ensure_future(harness.state.durable(0, harness.state.issued(0)))
    await settle()
    assert not waiting.done()
    harness.writer.sent[1].succeed()
    await asyncio.wait_for(waiting, 5)


# --- expire ------------------------------------------------------------------------------------


@pytest.fixture
def auto() -> Harness:
    store: dict[bytes, object] = {}
    writer = AutoAckEmitter()
    return Harness(DedupState(store, writer, CHANGELOG, HORIZON_MS), store, writer)


async def test_expire_tombstones_entries_older_than_the_horizon(auto: Harness) -> None:
    await auto.state.put(b"old", Seen(0, 1, T0_MS))
    await auto.state.put(b"new", Seen(0, 2, T0_MS + HORIZON_MS + 1))
    assert await auto.state.expire({0}) == 1
    tombstone = auto.writer.last
    assert (tombstone.topic, tombstone.key, tombstone.value, tombstone.partition) == (
        CHANGELOG,
        b"old",
        None,
        0,
    )


async def test_expire_removes_expired_entries_from_the_store(auto: Harness) -> None:
    await auto.state.put(b"old", Seen(0, 1, T0_MS))
    await auto.state.put(b"new", Seen(0, 2, T0_MS + HORIZON_MS + 1))
    await auto.state.expire({0})
    assert auto.store == {b"new": [0, 2, T0_MS + HORIZON_MS + 1]}


async def test_expire_keeps_entries_exactly_one_horizon_old(auto: Harness) -> None:
    await auto.state.put(b"old", Seen(0, 1, T0_MS))
    await auto.state.put(b"new", Seen(0, 2, T0_MS + HORIZON_MS))
    assert await auto.state.expire({0}) == 0
    assert set(auto.store) == {b"old", b"new"}


async def test_expire_goes_by_each_partitions_own_clock(auto: Harness) -> None:
    # Partition 1 has seen nothing newer since T0: by its clock, its entry is not old yet.
    await auto.state.put(b"quiet", Seen(1, 1, T0_MS))
    await auto.state.put(b"busy", Seen(0, 1, T0_MS + 10 * HORIZON_MS))
    assert await auto.state.expire({0, 1}) == 0
    assert set(auto.store) == {b"quiet", b"busy"}


async def test_expire_touches_only_the_given_partitions(auto: Harness) -> None:
    await auto.state.put(b"old", Seen(1, 1, T0_MS))
    await auto.state.put(b"new", Seen(1, 2, T0_MS + HORIZON_MS + 1))
    writes = len(auto.writer.sent)
    assert await auto.state.expire({0}) == 0
    assert (set(auto.store), len(auto.writer.sent)) == ({b"old", b"new"}, writes)


async def test_expire_ignores_entries_of_partitions_without_a_write_since_start(
    auto: Harness,
) -> None:
    # Recovered entries and no new record yet: the partition has no clock to judge age by.
    auto.store[b"recovered"] = [0, 1, T0_MS]
    assert await auto.state.expire({0}) == 0
    assert b"recovered" in auto.store


class UnreadableStore(dict[bytes, object]):
    def items(self) -> Any:
        raise AssertionError("the store was read")


async def test_expire_does_not_read_the_store_while_no_partition_has_a_clock() -> None:
    # After a restart the store may hold millions of recovered entries (bench/state_size.py):
    # with no record since, no entry can be judged, and reading them all is pure cost.
    state = DedupState(UnreadableStore(), AutoAckEmitter(), CHANGELOG, HORIZON_MS)
    assert await state.expire({0, 1}) == 0


async def test_expire_removes_at_most_limit_entries(auto: Harness) -> None:
    for offset in range(5):
        await auto.state.put(f"old-{offset}".encode(), Seen(0, offset, T0_MS))
    await auto.state.put(b"new", Seen(0, 9, T0_MS + HORIZON_MS + 1))
    assert await auto.state.expire({0}, limit=2) == 2
    assert len(auto.store) == 4


async def test_an_expiry_tombstone_counts_as_a_write_of_its_partition(auto: Harness) -> None:
    # A commit after an expiry waits for its tombstones like for any other state write.
    await auto.state.put(b"old", Seen(0, 1, T0_MS))
    await auto.state.put(b"new", Seen(0, 2, T0_MS + HORIZON_MS + 1))
    await auto.state.expire({0})
    assert auto.state.issued(0) == 3
