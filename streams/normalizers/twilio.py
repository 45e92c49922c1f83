"""Twilio status callbacks and incoming message/call webhooks (forms) -> canonical events.

Twilio posts ``application/x-www-form-urlencoded`` forms. ``data`` is the form as a JSON object
of strings, field name -> value as sent (a repeated name fails; Twilio never repeats one). The
first status field present decides the type:

| field | ``ce_type`` | subject (first found) |
|---|---|---|
| ``MessageStatus`` | ``twilio.message.{value}`` | ``MessageSid``, ``SmsSid`` |
| ``SmsStatus`` | ``twilio.message.{value}`` | ``MessageSid``, ``SmsSid`` |
| ``RecordingStatus`` | ``twilio.recording.{value}`` | ``RecordingSid`` |
| ``CallStatus`` | ``twilio.call.{value}`` | ``CallSid`` |

For example ``twilio.message.delivered``, ``twilio.message.received`` (an incoming message has
only ``SmsStatus``), ``twilio.call.in-progress``. ``time``: the ``Timestamp`` field (RFC 2822,
sent with call status callbacks), else receive time (Twilio signs no time). A body that is not a
form, or a form with none of these fields, fails normalization.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime

from schemas.canonical import CanonicalEvent, rfc3339
from schemas.raw import RawDelivery
from streams.errors import NormalizationFailed
from streams.normalizers.common import canonical_event, event_type, form_fields, is_form

#: (status field, resource, subject fields) in order of precedence.
KINDS = (
    ("MessageStatus", "message", ("MessageSid", "SmsSid")),
    ("SmsStatus", "message", ("MessageSid", "SmsSid")),
    ("RecordingStatus", "recording", ("RecordingSid",)),
    ("CallStatus", "call", ("CallSid",)),
)


def normalize(raw: RawDelivery) -> CanonicalEvent:
    if not is_form(raw):
        raise NormalizationFailed(f"Twilio body is {raw.content_type!r}, not a form")
    fields = form_fields(raw.body)
    for status_field, resource, sids in KINDS:
        status = fields.get(status_field)
        if status:  # an empty value is no status
            subject = next((fields[sid] for sid in sids if fields.get(sid)), None)
            return canonical_event(
                raw,
                type=event_type("twilio", f"{resource}.{status}"),
                data=fields,
                subject=subject,
                time=_time(fields.get("Timestamp")),
            )
    names = ", ".join(kind[0] for kind in KINDS)
    raise NormalizationFailed(f"Twilio form has no status field ({names})")


def _time(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # "-0000" or no zone: UTC, not the host's zone
        return rfc3339(moment.timestamp())
    except (TypeError, ValueError, OverflowError, OSError):
        return None
