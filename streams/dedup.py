"""The de-duplication rule, as a pure function of the stored state and the record at hand.

State per record key (``{source}:{event id}``): the raw record that was last emitted for it, as
its partition, offset and receive time. For each raw record:

1. no state, or the state is older than the horizon (by receive times) -> **emit** and store
   this record's coordinates;
2. the state names this very record (same partition and offset) -> **emit again**: the record is
   being read a second time, as after a consumer-offset reset (replay) or a crash before the
   commit, and a replay must reproduce its output rather than be swallowed;
3. otherwise the event was already emitted from another record within the horizon: it is a
   retry by the sender -> **drop**, and count it.

Times are the records' own receive times, never the wall clock, so replaying old records decides
exactly as the first pass did.
"""

from __future__ import annotations

from enum import Enum

from schemas.frozen import frozen


class Decision(Enum):
    EMIT = "emit"
    #: Emit again: this same record was processed before (replay or redelivery after a crash).
    REEMIT = "reemit"
    DROP_DUPLICATE = "duplicate"


@frozen
class Seen:
    partition: int
    offset: int
    received_at_ms: int

    def to_json(self) -> list[int]:
        return [self.partition, self.offset, self.received_at_ms]

    @classmethod
    def from_json(cls, value: object) -> Seen | None:
        if isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) for v in value):
            return cls(value[0], value[1], value[2])
        return None  # unreadable state is treated as no state: emitting beats dropping


def decide(seen: Seen | None, current: Seen, horizon_ms: int) -> Decision:
    if seen is None:
        return Decision.EMIT
    if (seen.partition, seen.offset) == (current.partition, current.offset):
        return Decision.REEMIT
    # abs(): a record older than the stored one can only be met in a replay; it is a duplicate
    # only if it lies within the horizon of the stored record.
    if abs(current.received_at_ms - seen.received_at_ms) > horizon_ms:
        return Decision.EMIT
    return Decision.DROP_DUPLICATE
