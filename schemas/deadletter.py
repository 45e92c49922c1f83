"""The dead-letter record: a raw record the worker could not normalize, with why and where from.

Key, value and headers are the original raw record's, unchanged, so a fixed worker can process it
again (redrive). These headers are added:
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class Header:
    #: Stable machine-readable code (see ``streams.errors``).
    REASON = "hookgate-dlq-reason"
    #: Human-readable error message.
    ERROR = "hookgate-dlq-error"
    #: Coordinates of the original record.
    TOPIC = "hookgate-dlq-topic"
    PARTITION = "hookgate-dlq-partition"
    OFFSET = "hookgate-dlq-offset"
    #: When the record was dead-lettered, integer milliseconds since the epoch.
    AT = "hookgate-dlq-at"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    at_ms: int

    def headers(self, original: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        return [
            *original,
            (Header.REASON, self.reason.encode()),
            # Bounded: an error message quoting a huge input must not bloat every DLQ record.
            (Header.ERROR, self.error[:1000].encode()),
            (Header.TOPIC, self.topic.encode()),
            (Header.PARTITION, str(self.partition).encode()),
            (Header.OFFSET, str(self.offset).encode()),
            (Header.AT, str(self.at_ms).encode()),
        ]
