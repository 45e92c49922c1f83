"""``hookgate verify-raw TOPIC:PARTITION:OFFSET``: audit one raw record.

Reads the record, then verifies it again through the ingress's own verifier for its source, built
from the source's *current* configuration (secrets, keys), as at the moment it was received (the
timestamp window is checked against the receive time, not today). The raw record keeps the
sender's signed headers and the body byte for byte, which is what makes this possible.

Not every delivery can be checked from Kafka: sources whose signature covers the request URL
(Twilio) or whose credential is the request itself (URL tokens, Basic auth, API keys, which are
never written to Kafka) are reported as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from hookgate.records import headers_of
from hookgate.timespec import iso
from ingress.errors import IngressError
from ingress.providers import configure_sources
from schemas import deadletter, kafka_clients
from schemas import raw as raw_format
from schemas.canonical import RawOrigin
from schemas.config import Settings

#: Schemes whose credential is never kept on the raw record (see ``ingress/schemes/token.py``).
_CREDENTIAL_SCHEMES = frozenset({"url-token", "basic-auth", "api-key"})


class VerifyRawError(Exception):
    """The record cannot be read (bad coordinates, no such offset, not a raw record)."""


class Verdict(Enum):
    VERIFIES = 0
    FAILS = 1
    CANNOT_CHECK = 3


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    detail: str


def parse_coordinates(text: str) -> RawOrigin:
    """``TOPIC:PARTITION:OFFSET`` (Kafka topic names cannot contain ``:``)."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        raise VerifyRawError(f"{text!r} is not TOPIC:PARTITION:OFFSET (e.g. webhooks.raw:2:1041)")
    return RawOrigin(parts[0], int(parts[1]), int(parts[2]))


def verify_raw(
    settings: Settings, origin: RawOrigin, out: Callable[[str], None] = print
) -> Outcome:
    message = _read(settings, origin)
    try:
        delivery = raw_format.decode(message.key(), message.value(), headers_of(message))
    except raw_format.RawRecordError as exc:
        raise VerifyRawError(f"{origin} is not a raw delivery record: {exc}") from None
    out(f"record     {origin}")
    out(f"received   {iso(delivery.received_at_ms)}")
    out(f"source     {delivery.source} (provider {delivery.provider}, scheme {delivery.scheme})")
    out(f"event id   {delivery.event_id}")
    if delivery.dedup_id is not None:
        out(f"dedup id   {delivery.dedup_id} (the key: what the signature covers)")
    out(f"body       {len(delivery.body)} bytes, {delivery.content_type}")
    if delivery.key_index is not None:
        out(f"ingress    verified it with configured key #{delivery.key_index}")
    for name, value in delivery.sender_headers:
        out(f"header     {name}: {value}")
    redriven_from = dict(headers_of(message)).get(deadletter.REDRIVE_OF)
    if redriven_from is not None:
        out(f"redriven   from dead letter {redriven_from.decode(errors='replace')}")
    outcome = check(settings, delivery)
    label = {
        Verdict.VERIFIES: "VERIFIES",
        Verdict.FAILS: "DOES NOT VERIFY",
        Verdict.CANNOT_CHECK: "CANNOT BE CHECKED",
    }[outcome.verdict]
    out(f"verdict    {label}: {outcome.detail}")
    return outcome


def check(settings: Settings, delivery: raw_format.RawDelivery) -> Outcome:
    """Verify ``delivery`` with its source's current secrets, at its receive time."""
    source = settings.sources.get(delivery.source)
    if source is None:
        return Outcome(Verdict.FAILS, f"source {delivery.source!r} is no longer configured")
    configured = configure_sources(settings)[delivery.source]
    provider = configured.provider
    if provider.name != delivery.provider:
        return Outcome(
            Verdict.FAILS,
            f"source {delivery.source!r} is now provider {provider.name}, "
            f"the record was verified as {delivery.provider}",
        )
    if provider.uses_url or provider.scheme in _CREDENTIAL_SCHEMES:
        return Outcome(
            Verdict.CANNOT_CHECK,
            f"provider {provider.name} is authenticated by the request URL or a credential, "
            "neither of which is kept on the raw record",
        )
    try:
        verified = configured.verifier.verify(
            dict(delivery.sender_headers), delivery.body, delivery.received_at_ms / 1000, ""
        )
    except IngressError as error:
        return Outcome(Verdict.FAILS, f"{error.reason}: {error.detail}")
    if verified.event_id != delivery.event_id:
        return Outcome(
            Verdict.FAILS,
            f"signature verifies, but for event id {verified.event_id!r}, "
            f"not the record's {delivery.event_id!r}",
        )
    # The record's key must be what the signature covers when the event id is not (format 2).
    dedup_id = None if verified.dedup_id == verified.event_id else verified.dedup_id
    if dedup_id != delivery.dedup_id:
        return Outcome(
            Verdict.FAILS,
            f"signature verifies, but for dedup id {dedup_id!r}, "
            f"not the record's {delivery.dedup_id!r}",
        )
    return Outcome(
        Verdict.VERIFIES,
        f"signature matches configured key #{verified.key_index} of source {delivery.source!r}",
    )


def _read(settings: Settings, origin: RawOrigin) -> Message:
    consumer = Consumer(
        kafka_clients.librdkafka(
            settings.kafka, **{"group.id": "hookgate-verify-raw", "enable.auto.commit": False}
        )
    )
    try:
        topic = consumer.list_topics(origin.topic, timeout=15).topics.get(origin.topic)
        if topic is None or topic.error is not None or origin.partition not in topic.partitions:
            raise VerifyRawError(f"no partition {origin.partition} of topic {origin.topic}")
        tp = TopicPartition(origin.topic, origin.partition)
        low, high = consumer.get_watermark_offsets(tp, timeout=15)
        if origin.offset >= high:
            raise VerifyRawError(f"{origin}: no such offset yet (the partition ends at {high})")
        if origin.offset < low:
            raise VerifyRawError(f"{origin}: past retention (the partition starts at {low})")
        consumer.assign([TopicPartition(origin.topic, origin.partition, origin.offset)])
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            if message.offset() != origin.offset:
                # A compacted or transactional gap: the offset holds no record.
                raise VerifyRawError(f"{origin}: no record at that offset")
            return message
        raise VerifyRawError(f"{origin}: not read within 30 s")
    except KafkaException as exc:
        raise VerifyRawError(f"Kafka: {exc.args[0].str()}") from None
    finally:
        consumer.close()
