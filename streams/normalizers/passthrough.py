"""Pass-through canonical events: each provider's own event, under a uniform envelope.

``ce_type`` is ``{provider}.{the provider's event type}`` (in the installation's namespace, added by
:func:`streams.normalizers.normalize`); ``data`` is the provider's whole JSON
body, unchanged (envelope fields such as Stripe's ``previous_attributes`` and ``livemode``, Slack's
``authorizations`` or Clerk's ``event_attributes`` matter to consumers); ``ce_subject`` and the
record key are the provider entity the event is about (else the event id); ``ce_time`` is the
provider's event time, else the send time the ingress verified (``hookgate-signed-at``), else the
receive time. Each
row of :data:`SPECS` is one provider:

| provider | type | subject (first found) | time |
|---|---|---|---|
| ``svix`` | ``type`` | ``data.id`` | ``timestamp`` |
| ``clerk`` | ``type`` | ``data.id`` | ``timestamp`` (epoch ms) |
| ``resend`` | ``type`` | ``data.email_id``, ``data.id`` | ``created_at`` |
| ``anthropic`` | ``data.type`` (1) | ``data.id`` | ``created_at`` |
| ``stripe`` | ``type`` | ``data.object.id`` | ``created`` (epoch s) |
| ``mux`` | ``type`` | ``data.id``, ``object.id`` | ``created_at`` |
| ``elevenlabs`` | ``type`` | ``data.conversation_id``, ``.voice_id`` | ``event_timestamp`` (s) |
| ``slack`` | (2) | ``team_id``, ``team.id``, ``event.channel`` | ``event_time`` (epoch s) |
| ``github`` | (3) | (4) | none: signed or receive time |
| ``pagerduty`` | ``event.event_type`` | ``event.data.id`` | ``event.occurred_at`` |
| ``shopify`` | header ``x-shopify-topic`` | ``id``, else (5) | header ``x-shopify-triggered-at`` |
| ``generic-hmac`` (6) | ``type``, ``event_type``, ``event``; ``received`` | ``data.id`` | (7) |

Times without a unit are ISO-8601 strings.

1. Anthropic's body ``type`` is always ``event``; the event type is ``data.type``
   (``session.created``). A body ``type`` other than ``event`` is used when ``data.type`` is absent.
2. ``event.type`` of an ``event_callback``; else the body ``type`` (``app_rate_limited``;
   interactivity: ``block_actions``, ``view_submission``, ...). The workspace (``team_id``) is the
   subject, so all of one workspace's events stay in order, channel events included.
3. Header ``x-github-event``, plus ``.{action}`` when the body has one (``issues.opened``); a
   delivery without the header fails.
4. ``repository.full_name``, else ``organization.login``, else ``sender.login``.
5. Shopify ids are unique across shops (and integers beyond 2^53, kept exact), so the resource
   ``id`` alone is the subject; bodies without one (``shop/redact``) fall back to the header
   ``x-shopify-shop-domain``.
6. Also ``basic-auth`` and ``api-key``. The first of the names that holds a string is the type,
   and it must be a plain name (``"user signed up"`` fails); ``received`` when none holds one.
   Data is any JSON value but null, not only an object.
7. ``timestamp``, ``created_at``, ``time`` (ISO-8601). Epoch numbers are not read: seconds and
   milliseconds cannot be told apart.

Slack interactivity and GitHub's form content type post ``payload={json}`` as a form; that JSON
is then the body (a Slack slash command, a form without ``payload``, fails). Twilio posts plain
forms: :mod:`streams.normalizers.twilio`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.canonical import CanonicalEvent
from schemas.raw import RawDelivery
from streams.errors import NormalizationFailed
from streams.normalizers.common import (
    at,
    canonical_event,
    epoch_time,
    event_type,
    first_entity,
    form_fields,
    is_form,
    iso_time,
    json_object,
    json_value,
)

#: Reads something (an event type, a time) from the delivery and its decoded body.
Locator = Callable[[RawDelivery, Any], Any]
JsonPath = tuple[str, ...]


def field(*path: str) -> Locator:
    return lambda raw, body: at(body, *path)


def iso(*path: str) -> Locator:
    return lambda raw, body: iso_time(at(body, *path))


def epoch_s(*path: str) -> Locator:
    return lambda raw, body: epoch_time(at(body, *path))


def epoch_ms(*path: str) -> Locator:
    return lambda raw, body: epoch_time(at(body, *path), millis=True)


def header(name: str) -> Locator:
    return lambda raw, body: raw.sender_header(name)


def header_iso(name: str) -> Locator:
    return lambda raw, body: iso_time(raw.sender_header(name))


def first(*locators: Locator) -> Locator:
    def locate(raw: RawDelivery, body: Any) -> Any:
        for locator in locators:
            found = locator(raw, body)
            if found is not None:
                return found
        return None

    return locate


def _no_time(raw: RawDelivery, body: Any) -> None:
    return None


def _object_body(raw: RawDelivery) -> Any:
    return json_object(raw.body)


def _object_or_form_payload(raw: RawDelivery) -> Any:
    """A JSON object body, or the JSON object in the ``payload`` field of a form body."""
    if not is_form(raw):
        return json_object(raw.body)
    payload = form_fields(raw.body).get("payload")
    if payload is None:
        raise NormalizationFailed("form body has no payload field")
    return json_object(payload.encode())


@dataclass(frozen=True, slots=True)
class Spec:
    #: The provider's event type (must be a plain name).
    type: Locator
    #: Paths into the body to the entity id; the first that holds one is the subject.
    subject: tuple[JsonPath, ...] = ()
    #: The provider's event time as RFC 3339 UTC, or None.
    time: Locator = _no_time
    #: Decodes the body (a JSON object unless stated).
    decode: Callable[[RawDelivery], Any] = _object_body
    #: A subject from outside the body, when no path holds one.
    subject_fallback: Locator | None = None


def _anthropic_type(raw: RawDelivery, body: Any) -> Any:
    kind = at(body, "data", "type")
    if kind is None and body.get("type") != "event":
        kind = body.get("type")
    return kind


def _slack_type(raw: RawDelivery, body: Any) -> Any:
    return at(body, "event", "type") if body.get("type") == "event_callback" else body.get("type")


def _github_type(raw: RawDelivery, body: Any) -> Any:
    name = raw.sender_header("x-github-event")
    if name is None:
        raise NormalizationFailed("GitHub delivery without an x-github-event header")
    action = body.get("action")
    return f"{name}.{action}" if isinstance(action, str) and action else name


def _generic_type(raw: RawDelivery, body: Any) -> Any:
    for name in ("type", "event_type", "event"):
        kind = at(body, name)
        if isinstance(kind, str):
            return kind
    return "received"


_GENERIC = Spec(
    type=_generic_type,
    subject=(("data", "id"),),
    time=first(iso("timestamp"), iso("created_at"), iso("time")),
    decode=lambda raw: json_value(raw.body),
)

SPECS: Mapping[str, Spec] = {
    "svix": Spec(field("type"), (("data", "id"),), iso("timestamp")),
    "clerk": Spec(field("type"), (("data", "id"),), epoch_ms("timestamp")),
    "resend": Spec(field("type"), (("data", "email_id"), ("data", "id")), iso("created_at")),
    "anthropic": Spec(_anthropic_type, (("data", "id"),), iso("created_at")),
    "stripe": Spec(field("type"), (("data", "object", "id"),), epoch_s("created")),
    "mux": Spec(field("type"), (("data", "id"), ("object", "id")), iso("created_at")),
    "elevenlabs": Spec(
        field("type"),
        (("data", "conversation_id"), ("data", "voice_id")),
        epoch_s("event_timestamp"),
    ),
    "slack": Spec(
        _slack_type,
        (("team_id",), ("team", "id"), ("event", "channel")),
        epoch_s("event_time"),
        decode=_object_or_form_payload,
    ),
    "github": Spec(
        _github_type,
        (("repository", "full_name"), ("organization", "login"), ("sender", "login")),
        decode=_object_or_form_payload,
    ),
    "pagerduty": Spec(
        field("event", "event_type"), (("event", "data", "id"),), iso("event", "occurred_at")
    ),
    "shopify": Spec(
        header("x-shopify-topic"),
        (("id",),),
        header_iso("x-shopify-triggered-at"),
        subject_fallback=header("x-shopify-shop-domain"),
    ),
    "generic-hmac": _GENERIC,
    "basic-auth": _GENERIC,
    "api-key": _GENERIC,
}


def normalize_with(spec: Spec, raw: RawDelivery) -> CanonicalEvent:
    body = spec.decode(raw)
    subject = first_entity(body, spec.subject)
    if subject is None and spec.subject_fallback is not None:
        fallback = spec.subject_fallback(raw, body)
        subject = fallback if isinstance(fallback, str) and fallback else None
    return canonical_event(
        raw,
        type=event_type(raw.provider, spec.type(raw, body)),
        data=body,
        subject=subject,
        time=spec.time(raw, body),
    )


def _normalizer(spec: Spec) -> Callable[[RawDelivery], CanonicalEvent]:
    return lambda raw: normalize_with(spec, raw)


#: One normalizer per provider of :data:`SPECS`, for the registry.
NORMALIZERS: Mapping[str, Callable[[RawDelivery], CanonicalEvent]] = {
    name: _normalizer(spec) for name, spec in SPECS.items()
}
