"""``hookgate tail raw|canonical|dlq``: print records as they arrive, one readable line each."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition

from schemas import canonical, deadletter, jsoncodec, kafka_clients
from schemas import raw as raw_format
from schemas.config import Settings

KINDS = ("raw", "canonical", "dlq")


def topic_for(settings: Settings, kind: str) -> str:
    return {
        "raw": settings.topics.raw.name,
        "canonical": settings.topics.canonical.name,
        "dlq": settings.topics.dead_letter.name,
    }[kind]


def tail(
    settings: Settings,
    kind: str,
    *,
    as_json: bool = False,
    from_beginning: bool = False,
    max_records: int | None = None,
    idle_timeout: float | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Print records until interrupted, ``max_records`` were printed or ``idle_timeout`` passed
    without one. Returns how many were printed."""
    topic = topic_for(settings, kind)
    consumer = Consumer(
        kafka_clients.librdkafka(
            settings.kafka,
            **{
                # Assigned partitions, no group: tailing never moves anybody's committed offsets.
                "group.id": "hookgate-tail",
                "enable.auto.commit": False,
            },
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        if metadata.topics[topic].error is not None:
            raise KafkaException(metadata.topics[topic].error)
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in partitions])
        printed = 0
        last = time.monotonic()
        while max_records is None or printed < max_records:
            message = consumer.poll(0.5)
            if message is None:
                if idle_timeout is not None and time.monotonic() - last > idle_timeout:
                    break
                continue
            if message.error():
                continue
            last = time.monotonic()
            record = _describe(kind, message)
            out(jsoncodec.dumps(record).decode() if as_json else _line(kind, record))
            printed += 1
        return printed
    finally:
        consumer.close()


def _describe(kind: str, message: Any) -> dict[str, Any]:
    headers: list[tuple[str, bytes]] = message.headers() or []
    key: bytes | None = message.key()
    value: bytes | None = message.value()
    base = {
        "partition": message.partition(),
        "offset": message.offset(),
        "key": key.decode(errors="replace") if key is not None else None,
    }
    text_headers = {name: v.decode(errors="replace") for name, v in headers}
    if kind == "canonical":
        try:
            event = canonical.decode(key, value, headers)
        except canonical.CanonicalRecordError as exc:
            return {**base, "invalid": str(exc), "headers": text_headers}
        return {**base, **event.to_structured()}
    if kind == "raw":
        try:
            delivery = raw_format.decode(key, value, headers)
        except raw_format.RawRecordError as exc:
            return {**base, "invalid": str(exc), "headers": text_headers}
        return {
            **base,
            "source": delivery.source,
            "provider": delivery.provider,
            "event_id": delivery.event_id,
            "received_at_ms": delivery.received_at_ms,
            "bytes": len(delivery.body),
            "headers": text_headers,
            "value_base64": base64.b64encode(delivery.body).decode(),
        }
    if deadletter.Marker.REDRIVEN in text_headers:
        return {
            **base,
            "redrive_marker": text_headers[deadletter.Marker.REDRIVEN],
            "redriven_to": text_headers.get(deadletter.Marker.REDRIVEN_TO),
            "headers": text_headers,
        }
    return {
        **base,
        "reason": text_headers.get(deadletter.Header.REASON),
        "error": text_headers.get(deadletter.Header.ERROR),
        "from": f"{text_headers.get(deadletter.Header.TOPIC)}"
        f"[{text_headers.get(deadletter.Header.PARTITION)}]"
        f"@{text_headers.get(deadletter.Header.OFFSET)}",
        "headers": text_headers,
        "value_base64": base64.b64encode(value or b"").decode(),
    }


def _line(kind: str, r: dict[str, Any]) -> str:
    where = f"p{r['partition']}@{r['offset']}"
    if "invalid" in r:
        return f"{where}  INVALID {r['invalid']}"
    if kind == "canonical":
        subject = r.get("subject") or "-"
        data = jsoncodec.dumps(r["data"]).decode()
        replay = "  REPLAY" if r.get(canonical.REPLAY) == "true" else ""
        return (
            f"{where}  {r.get('time', '-')}  {r['type']}  subject={subject}  id={r['id']}"
            f"  source={r['source']}{replay}  data={str(data)[:120]}"
        )
    if kind == "raw":
        return (
            f"{where}  {r['source']}  id={r['event_id']}  provider={r['provider']}"
            f"  {r['bytes']} bytes"
        )
    if "redrive_marker" in r:
        return f"{where}  redrive marker: letter @{r['redrive_marker']} -> {r['redriven_to']}"
    return f"{where}  {r['reason']}: {r['error']}  (from {r['from']})"
