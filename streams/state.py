"""The de-duplication state: Faust's ``dedup`` table, written through librdkafka.

Faust keeps the table (its store, its compacted changelog ``{app_id}-dedup-changelog``, and its
recovery on start and rebalance). Writes bypass Faust's own changelog producer, for two reasons
measured in issue 7: that producer (aiokafka) was the largest cost in the worker's profile, and
its buffer is not flushed before Faust commits, so a committed offset could outrun the state it
depends on. Here a write goes to the local store at once and to the changelog through the
worker's idempotent librdkafka producer (:mod:`streams.emitter`), which the runner flushes
before every commit: a commit never covers a record whose state write is not acknowledged.

The changelog is written outside the output transaction on purpose. A changelog with
transaction markers never lets Faust's recovery finish (it waits for the offset of the last
record, which is then a marker), and the de-duplication rule does not need it: an entry whose
transaction was aborted names a record that is read again, since its offset was not committed,
and rule 2 (same partition and offset -> emit again) then emits it. What the rule needs is that a
committed output never lacks its entry, and the flush before every commit gives that.

Entries older than the horizon (by the records' own receive times, per partition) are removed
with a tombstone by :meth:`DedupState.expire`, so the state follows the traffic of one horizon.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import orjson

from streams.dedup import Seen
from streams.emitter import Emits


class DedupState:
    def __init__(
        self,
        store: MutableMapping[bytes, object],
        writer: Emits,
        changelog_topic: str,
        horizon_ms: int,
    ) -> None:
        self._store = store
        self._writer = writer
        self._changelog = changelog_topic
        self._horizon_ms = horizon_ms
        #: Per partition, the latest receive time written: the partition's own clock.
        self._clock: dict[int, int] = {}

    def get(self, key: bytes) -> object:
        return self._store.get(key)

    def put(self, key: bytes, seen: Seen) -> None:
        """Store the entry and queue its changelog write (raises what the writer raises)."""
        partition = seen.partition
        entry = seen.to_json()
        self._store[key] = entry
        if seen.received_at_ms > self._clock.get(partition, 0):
            self._clock[partition] = seen.received_at_ms
        self._writer.write(self._changelog, key, orjson.dumps(entry), [], partition=partition)

    def forget(self, partition: int) -> None:
        """The partition moved away: its clock starts afresh if it comes back."""
        self._clock.pop(partition, None)

    async def expire(self, partitions: set[int], limit: int = 10_000) -> int:
        """Tombstone up to ``limit`` entries older than the horizon on ``partitions``.

        "Older" is by each partition's own clock (the newest receive time written there), never
        the wall clock, so a replay of old records decides as the first pass did.
        """
        removed = 0
        for key, seen in list(self._expired(partitions, limit)):
            del self._store[key]
            self._writer.write(self._changelog, key, None, [], partition=seen.partition)
            removed += 1
        return removed

    def _expired(self, partitions: set[int], limit: int) -> Iterator[tuple[bytes, Seen]]:
        # A partition with no write since start has no clock: none of its entries can be judged,
        # and a store recovered with millions of them is not read for nothing every interval.
        partitions = {p for p in partitions if p in self._clock}
        if not partitions:
            return
        found = 0
        for key, value in self._store.items():
            seen = Seen.from_json(value)
            if seen is None or seen.partition not in partitions:
                continue
            clock = self._clock.get(seen.partition)
            if clock is not None and clock - seen.received_at_ms > self._horizon_ms:
                yield key, seen
                found += 1
                if found >= limit:
                    return
