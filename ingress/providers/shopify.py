"""Shopify: ``X-Shopify-Hmac-Sha256: <base64>``, HMAC-SHA256 of the body with the secret's UTF-8.

One signature per delivery; after a rotation Shopify may sign with the old secret for up to an
hour, so list both. Nothing else is signed: no window (``tolerance`` is refused). The event id is
``X-Shopify-Event-Id``, else ``X-Shopify-Webhook-Id`` (Shopify's docs name both as the dedup key),
both unsigned. The topic, shop and API version headers are kept for the normalizer: the body is
the bare resource. Since the ids are not signed, the raw record is keyed (de-duplicated) by the
digest of the topic and the body (:mod:`ingress.schemes.body_hmac`): a replay under a fresh id is
a duplicate, and one body sent under two topics is two events.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.body_hmac import SHOPIFY, BodyHmacVerifier, sign
from schemas.config import ConfigError, SourceSettings

HEADER = "x-shopify-hmac-sha256"
EVENT_ID = "x-shopify-event-id"
WEBHOOK_ID = "x-shopify-webhook-id"
TOPIC = "x-shopify-topic"
SHOP_DOMAIN = "x-shopify-shop-domain"
TRIGGERED_AT = "x-shopify-triggered-at"
API_VERSION = "x-shopify-api-version"


def build(source: SourceSettings, key: str) -> BodyHmacVerifier:
    require_keys(source, key, source.secrets)
    if source.tolerance is not None:
        raise ConfigError(f"{key}.tolerance", "shopify signs no timestamp; remove the tolerance")
    return BodyHmacVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        header=HEADER,
        form=SHOPIFY,
        id_headers=(EVENT_ID, WEBHOOK_ID),
        extra_headers=(TOPIC, SHOP_DOMAIN, TRIGGERED_AT, API_VERSION),
        dedup_headers=(TOPIC,),
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """An ``orders/create`` delivery (the bundled sample is an order) from a development shop;
    ``event_id`` becomes both id headers."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    triggered = datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")
    headers = {
        HEADER: sign(source.secrets[0].reveal().encode(), body, SHOPIFY),
        EVENT_ID: event_id,
        WEBHOOK_ID: event_id,
        TOPIC: "orders/create",
        SHOP_DOMAIN: "hookgate-dev.myshopify.com",
        TRIGGERED_AT: triggered.replace("+00:00", "Z"),
        API_VERSION: "2025-07",
        "content-type": "application/json",
    }
    return Outgoing(url, headers, body)


PROVIDER = Provider("shopify", "body-hmac", build, sign_delivery)
