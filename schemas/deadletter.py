"""The dead-letter record: a raw record the worker could not normalize, with why and where from.

Key, value and headers are the original raw record's, unchanged, so a fixed worker can process it
again (redrive). These headers are added: see :class:`Header`.

``hookgate dlq redrive`` writes a letter back to the raw topic (its original partition, key,
value and headers, plus :data:`REDRIVE_OF`), then appends a **redrive marker** to the letter's
own partition of the dead-letter topic: a record with an empty value and the
:class:`Marker` headers. The markers are the memory of what was redriven: they live as long as
the letters (same topic, same retention, written after them), and a later run skips every letter
a marker names. Readers of the dead-letter topic tell markers from letters by
:data:`Marker.REDRIVEN`.
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


class Marker:
    #: ``{partition}:{offset}`` of the redriven letter in the dead-letter topic.
    REDRIVEN = "hookgate-dlq-redriven"
    #: ``{topic}:{partition}:{offset}`` of the raw record the letter became.
    REDRIVEN_TO = "hookgate-dlq-redriven-to"
    #: When it was redriven, integer milliseconds since the epoch.
    AT = "hookgate-dlq-redriven-at"


#: On a redriven raw record: ``{topic}:{partition}:{offset}`` of the letter it came from.
REDRIVE_OF = "hookgate-redrive-of"


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
