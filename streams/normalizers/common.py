"""Helpers the provider normalizers share."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from schemas import jsoncodec
from schemas.canonical import rfc3339
from streams.errors import NormalizationFailed

#: What a provider's event type may contain once it is part of ``ce_type``.
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")


def json_object(body: bytes) -> dict[str, Any]:
    try:
        document = jsoncodec.loads(body)
    except (ValueError, RecursionError) as exc:
        raise NormalizationFailed(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise NormalizationFailed(f"body is JSON {type(document).__name__}, not an object")
    return document


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
