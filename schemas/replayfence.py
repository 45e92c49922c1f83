"""The replay fence: the raw records a ``hookgate replay --to`` reads again but does not re-emit.

An offset reset can only move a group's position back; everything from there on is read again.
``hookgate replay --from F --to T`` resets the worker group to F and leaves, per raw partition,
the offsets from T's first record up to where the group had been as a fence. The worker reads
the fence when it starts and does not re-emit a record inside it (it was emitted before, and the
operator asked for the replay to end at T); records past the old position are new and handled
as always.

The fence is stored in Kafka, where the worker already looks, as the committed offsets of the
consumer group ``{worker group}.replay-fence`` on the raw topic: per partition, the committed offset
is the fence's first offset and the commit metadata its end (exclusive). No member ever joins
that group. It is rewritten by every ``hookgate replay`` of the worker group (deleted when the
replay has no ``--to``), and Kafka expires it with other empty groups' offsets
(``offsets.retention.minutes``, 7 days by default).
"""

from __future__ import annotations

SUFFIX = ".replay-fence"


def group(worker_group: str) -> str:
    return worker_group + SUFFIX


def metadata(end: int) -> str:
    return f"end={end}"


def decode(offset: int, metadata_text: str | None) -> range | None:
    """The fenced offsets ``[offset, end)``, or ``None`` for anything this module did not write."""
    if offset < 0 or not metadata_text or not metadata_text.startswith("end="):
        return None
    end = metadata_text.removeprefix("end=")
    if not end.isdigit() or int(end) <= offset:
        return None
    return range(offset, int(end))
