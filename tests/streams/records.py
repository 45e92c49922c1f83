"""Raw records as the worker takes them from the raw topic, for the tests of its stage and sinks."""

from __future__ import annotations

from dataclasses import replace

from schemas.raw import RawDelivery
from streams.pipeline import RawRecord

RAW_TOPIC = "t.raw"
CANONICAL_TOPIC = "t.canonical"
DLQ_TOPIC = "t.dlq"
HORIZON_S = 3600
T0_MS = 1_795_000_000_000

BODY = b'{"type":"invoice.paid","data":{"id":"inv_1","amount":2400}}'


def delivery(body: bytes = BODY, *, event_id: str = "msg_1", at_ms: int = T0_MS) -> RawDelivery:
    return RawDelivery(
        source="demo",
        provider="standard-webhooks",
        scheme="standard-webhooks",
        event_id=event_id,
        received_at_ms=at_ms,
        content_type="application/json",
        body=body,
        sender_headers=(("webhook-id", event_id), ("webhook-timestamp", str(at_ms // 1000))),
    )


def record(raw: RawDelivery | None = None, *, offset: int = 10, partition: int = 0) -> RawRecord:
    raw = raw or delivery()
    return RawRecord(RAW_TOPIC, partition, offset, raw.key, raw.body, raw.headers())


def poison() -> RawRecord:
    """A raw record in a format version no worker knows."""
    headers = [(k, b"9" if k == "hookgate-format" else v) for k, v in delivery().headers()]
    return replace(record(), headers=headers)
