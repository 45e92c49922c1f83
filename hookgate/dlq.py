"""``hookgate dlq list`` and ``hookgate dlq redrive``: dead letters for operators.

Redrive writes a letter back to the raw topic, on the partition it came from, with its key, body
and headers, so the worker treats it as it would a sender's retry of that event: emitted if no
event with that key was emitted within the de-duplication horizon (the fix worked), dropped as a
duplicate if one was (the sender retried meanwhile and that retry got through), dead-lettered
again if it still fails. The canonical topic never gets the event twice.

Each redriven letter gets a marker in the dead-letter topic (:mod:`schemas.deadletter`), written
after its raw record is acknowledged: a later run skips it. A crash between the two leaves a
letter without its marker; the next run redrives it again, and the worker drops that copy as a
duplicate of the first. Run one redrive at a time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from hookgate.records import RecordsError, headers_of, read_to_end
from hookgate.timespec import iso
from schemas import deadletter, kafka_clients
from schemas import raw as raw_format
from schemas.config import Settings


class DlqError(Exception):
    """The dead-letter topic cannot be read, or a redrive was not acknowledged."""


@dataclass(frozen=True, slots=True)
class Letter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    reason: str
    error: str
    at_ms: int
    #: ``topic:partition:offset`` of the raw record it was dead-lettered from.
    origin: str
    #: Where a previous redrive sent it, if one did.
    redriven_to: str | None = None

    @property
    def coordinates(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return ""

    @property
    def source(self) -> str:
        return self.header(raw_format.Header.SOURCE) or "-"

    @property
    def event_id(self) -> str:
        return self.header(raw_format.Header.EVENT_ID) or "-"

    def raw_headers(self) -> list[tuple[str, bytes]]:
        """The original raw record's headers (the dead-letter ones removed)."""
        added = {
            deadletter.Header.REASON,
            deadletter.Header.ERROR,
            deadletter.Header.TOPIC,
            deadletter.Header.PARTITION,
            deadletter.Header.OFFSET,
            deadletter.Header.AT,
            deadletter.REDRIVE_OF,
        }
        return [(k, v) for k, v in self.headers if k not in added]


@dataclass
class DeadLetters:
    topic: str
    letters: list[Letter] = field(default_factory=list)

    def select(self, reason: str | None = None, since_ms: int | None = None) -> list[Letter]:
        return [
            letter
            for letter in self.letters
            if (reason is None or letter.reason == reason)
            and (since_ms is None or letter.at_ms >= since_ms)
        ]


def read(settings: Settings) -> DeadLetters:
    """Every letter in the dead-letter topic up to its current end, markers applied."""
    topic = settings.topics.dead_letter.name
    try:
        records = read_to_end(settings, topic)
    except RecordsError as exc:
        raise DlqError(str(exc)) from None
    redriven: dict[str, str] = {}
    for message in records:
        headers = dict(headers_of(message))
        marker = headers.get(deadletter.Marker.REDRIVEN)
        if marker is not None:
            to: bytes = headers.get(deadletter.Marker.REDRIVEN_TO, b"")
            redriven[f"{message.partition()}:{marker.decode()}"] = to.decode(errors="replace")
    result = DeadLetters(topic)
    for message in records:
        headers_list = headers_of(message)
        headers = dict(headers_list)
        if deadletter.Marker.REDRIVEN in headers:
            continue

        def text(name: str, found: dict[str, bytes] = headers) -> str:
            return found.get(name, b"").decode(errors="replace")

        at = text(deadletter.Header.AT)
        letter = Letter(
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=message.key(),
            value=message.value() or b"",
            headers=headers_list,
            reason=text(deadletter.Header.REASON) or "-",
            error=text(deadletter.Header.ERROR),
            at_ms=int(at) if at.isdigit() else 0,
            origin=f"{text(deadletter.Header.TOPIC)}:{text(deadletter.Header.PARTITION)}"
            f":{text(deadletter.Header.OFFSET)}",
        )
        where = redriven.get(letter.coordinates)
        result.letters.append(letter if where is None else replace(letter, redriven_to=where))
    return result


def summary(letters: Sequence[Letter]) -> list[str]:
    """Counts by reason and by source, then one line per letter."""
    if not letters:
        return ["no dead letters"]
    lines = [f"{len(letters)} dead letter(s)", "by reason:"]
    lines += [
        f"  {n:>6}  {reason}" for reason, n in Counter(x.reason for x in letters).most_common()
    ]
    lines.append("by source:")
    lines += [
        f"  {n:>6}  {source}" for source, n in Counter(x.source for x in letters).most_common()
    ]
    lines.append("letters:")
    for x in letters:
        state = f"redriven -> {x.redriven_to}" if x.redriven_to else "not redriven"
        lines.append(
            f"  p{x.partition}@{x.offset}  {iso(x.at_ms)}  {x.reason}  source={x.source}"
            f"  id={x.event_id}  from {x.origin}  [{state}]"
        )
        lines.append(f"      {x.error}")
    return lines


def list_letters(
    settings: Settings,
    *,
    reason: str | None,
    since_ms: int | None,
    out: Callable[[str], None] = print,
) -> list[Letter]:
    letters = read(settings).select(reason, since_ms)
    for line in summary(letters):
        out(line)
    return letters


def redrive(
    settings: Settings,
    *,
    reason: str | None,
    dry_run: bool,
    out: Callable[[str], None] = print,
) -> list[Letter]:
    """Send the selected letters that no earlier run redrove back to the raw topic."""
    dead = read(settings)
    selected = dead.select(reason)
    pending = [x for x in selected if x.redriven_to is None]
    skipped = len(selected) - len(pending)
    raw_topic = settings.topics.raw.name
    verb = "would redrive" if dry_run else "redriving"
    out(
        f"{verb} {len(pending)} dead letter(s) to {raw_topic}"
        + (f" ({skipped} already redriven, skipped)" if skipped else "")
    )
    if dry_run:
        for x in pending:
            out(f"  {_line(x)}")
        out("dry run: nothing sent")
        return pending
    if not pending:
        return pending
    producer = Producer(kafka_clients.producer(settings.kafka))
    partitions = _partition_count(producer, raw_topic)
    sent = _produce(
        producer,
        [
            (
                raw_topic,
                _raw_partition(x, raw_topic, partitions),
                x.key,
                x.value,
                [
                    *x.raw_headers(),
                    (deadletter.REDRIVE_OF, f"{dead.topic}:{x.coordinates}".encode()),
                ],
            )
            for x in pending
        ],
    )
    # Markers only for letters whose raw record the broker acknowledged.
    now = str(int(time.time() * 1000)).encode()
    _produce(
        producer,
        [
            (
                dead.topic,
                x.partition,
                x.key,
                b"",
                [
                    (deadletter.Marker.REDRIVEN, str(x.offset).encode()),
                    (deadletter.Marker.REDRIVEN_TO, where.encode()),
                    (deadletter.Marker.AT, now),
                ],
            )
            for x, where in zip(pending, sent, strict=True)
        ],
    )
    for x, where in zip(pending, sent, strict=True):
        out(f"  {_line(x)}  -> {where}")
    return pending


def _line(letter: Letter) -> str:
    return (
        f"p{letter.partition}@{letter.offset}  {letter.reason}  source={letter.source}"
        f"  id={letter.event_id}"
    )


Outgoing = tuple[str, int | None, bytes | None, bytes, list[tuple[str, bytes]]]


def _produce(producer: Producer, records: Sequence[Outgoing]) -> list[str]:
    """Produce and wait for every acknowledgement; ``topic:partition:offset`` of each."""
    results: list[str | KafkaError | None] = [None] * len(records)

    def report(index: int) -> Callable[[KafkaError | None, Message], None]:
        def done(err: KafkaError | None, msg: Message) -> None:
            results[index] = (
                err if err is not None else f"{msg.topic()}:{msg.partition()}:{msg.offset()}"
            )

        return done

    for index, (topic, partition, key, value, headers) in enumerate(records):
        out_headers: list[tuple[str, str | bytes | None]] = list(headers)
        if partition is None:
            producer.produce(
                topic, value=value, key=key, headers=out_headers, on_delivery=report(index)
            )
        else:
            producer.produce(
                topic,
                value=value,
                key=key,
                headers=out_headers,
                partition=partition,
                on_delivery=report(index),
            )
    remaining = producer.flush(60)
    failures = [r for r in results if not isinstance(r, str)]
    if remaining or failures:
        raise DlqError(
            f"{len(failures)} of {len(records)} records not acknowledged"
            + (f": {failures[0].str()}" if failures and isinstance(failures[0], KafkaError) else "")
            + "; run the redrive again (what was acknowledged is marked or de-duplicated)"
        )
    return [r for r in results if isinstance(r, str)]


def _raw_partition(letter: Letter, raw_topic: str, partitions: int) -> int | None:
    """The partition it came from, where the worker's de-duplication state for its key is;
    else ``None``: the producer's key hash, as the ingress's."""
    topic, _, partition = letter.origin.rpartition(":")[0].rpartition(":")
    if topic == raw_topic and partition.isdigit() and int(partition) < partitions:
        return int(partition)
    return None


def _partition_count(producer: Producer, topic: str) -> int:
    try:
        metadata = producer.list_topics(topic, timeout=15).topics.get(topic)
    except KafkaException as exc:
        raise DlqError(f"Kafka: {exc.args[0].str()}") from None
    if metadata is None or metadata.error is not None:
        raise DlqError(f"topic {topic} does not exist")
    return len(metadata.partitions)
