"""Standard Webhooks: the recommended envelope ``{"type", "timestamp", "data"}``.

| canonical | from |
|---|---|
| ``id`` | ``webhook-id`` (the raw record's event id) |
| ``type`` | ``standard-webhooks.{type}`` |
| ``time`` | ``timestamp`` (ISO-8601); else the verified signed time; else receive time |
| ``subject`` | ``data.id`` when it is a string or integer |
| ``data`` | ``data``; the whole body when the envelope has none |
"""

from __future__ import annotations

from schemas.canonical import CanonicalEvent, source_uri
from schemas.raw import RawDelivery
from streams.normalizers.common import (
    entity_id,
    event_type,
    iso_time,
    json_object,
    received_time,
    signed_time,
)


def normalize(raw: RawDelivery) -> CanonicalEvent:
    envelope = json_object(raw.body)
    data = envelope.get("data")
    if data is None:
        data = envelope
    subject = entity_id(data.get("id")) if isinstance(data, dict) else None
    return CanonicalEvent(
        id=raw.event_id,
        source=source_uri(raw.source),
        type=event_type(raw.provider, envelope.get("type")),
        time=iso_time(envelope.get("timestamp")) or signed_time(raw) or received_time(raw),
        subject=subject,
        data=data,
        partitionkey=subject or raw.event_id,
    )
