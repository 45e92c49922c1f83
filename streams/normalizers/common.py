"""Helpers the provider normalizers share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from schemas import jsoncodec
from schemas.canonical import CanonicalEvent, rfc3339, source_uri
from schemas.raw import RawDelivery
from streams.errors import NormalizationFailed

#: What a provider's event type may contain once it is part of ``ce_type``.
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")


def json_object(body: bytes) -> dict[str, Any]:
    try:
        return jsoncodec.loads_object(body)
    except jsoncodec.NotAnObject as exc:
        raise NormalizationFailed(f"body is {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise NormalizationFailed(f"body is not valid JSON: {exc}") from None


def event_type(provider: str, value: Any) -> str:
    if not isinstance(value, str) or not _EVENT_TYPE.match(value):
        raise NormalizationFailed(f"event type {str(value)[:80]!r} is missing or not a plain name")
    return f"{provider}.{value}"


def iso_time(value: Any) -> str | None:
    """An ISO-8601 timestamp from a payload as RFC 3339 UTC, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # providers that omit the zone mean UTC
    try:
        return rfc3339(moment.timestamp())
    except (ValueError, OverflowError):  # e.g. year 9999 in a zone west of UTC
        return None


def entity_id(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def json_value(body: bytes) -> Any:
    """Any JSON document except null (canonical data is never null)."""
    try:
        document = jsoncodec.loads(body)
    except (ValueError, RecursionError) as exc:
        raise NormalizationFailed(f"body is not valid JSON: {exc}") from None
    if document is None:
        raise NormalizationFailed("body is JSON null")
    return document


def is_form(raw: RawDelivery) -> bool:
    media_type = raw.content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/x-www-form-urlencoded"


def form_fields(body: bytes) -> dict[str, str]:
    """A form body (``application/x-www-form-urlencoded``) as a dict; a repeated name fails."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except ValueError as exc:  # UnicodeDecodeError included
        raise NormalizationFailed(f"body is not a valid form: {exc}") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise NormalizationFailed(f"form field {name[:80]!r} is repeated")
        fields[name] = value
    return fields


def at(document: Any, *path: str) -> Any:
    """The value at ``path`` inside nested JSON objects, or None when any step is missing."""
    for name in path:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


def first_entity(document: Any, paths: Sequence[Sequence[str]]) -> str | None:
    """The first of ``paths`` that holds an entity id (see :func:`entity_id`)."""
    for path in paths:
        found = entity_id(at(document, *path))
        if found is not None:
            return found
    return None


def epoch_time(value: Any, *, millis: bool = False) -> str | None:
    """An epoch timestamp (seconds, or milliseconds) as RFC 3339 UTC, or None if not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return rfc3339(value / 1000 if millis else value)
    except (ValueError, OverflowError, OSError):
        return None


def signed_time(raw: RawDelivery) -> str | None:
    """The send time the ingress verified in the delivery's signature, as RFC 3339 UTC, if the
    scheme signs one (the raw record's ``hookgate-signed-at``)."""
    if raw.signed_at_ms is None:
        return None
    return epoch_time(raw.signed_at_ms, millis=True)


def received_time(raw: RawDelivery) -> str:
    return rfc3339(raw.received_at_ms / 1000)


def canonical_event(
    raw: RawDelivery,
    *,
    type: str,
    data: Any,
    subject: str | None,
    time: str | None,
    dataschema: str | None = None,
) -> CanonicalEvent:
    """The canonical event of ``raw``: ``time`` falls back to the signed send time, then to the
    receive time; the record key is the subject, else the event id. ``type`` is without the
    installation's prefix (:func:`streams.normalizers.normalize` adds it)."""
    return CanonicalEvent(
        id=raw.event_id,
        source=source_uri(raw.source),
        type=type,
        time=time or signed_time(raw) or received_time(raw),
        subject=subject,
        dataschema=dataschema,
        data=data,
        partitionkey=subject or raw.event_id,
    )
