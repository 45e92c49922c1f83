"""Stripe: ``Stripe-Signature: t=<epoch>,v1=<hex>[,v1=<hex>]`` over ``{t}.{body}``.

The HMAC key is the whole ``whsec_...`` string's UTF-8 bytes, **not** base64-decoded as in
Standard Webhooks. Stripe's SDK checks only the past side of the window; we check both. The event
id is the body's ``id`` (``evt_...``), read after the signature verified.
"""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.timestamped_hmac import TimestampedHmacVerifier, sign
from schemas.config import ConfigError, SourceSettings

HEADER = "stripe-signature"
DEFAULT_TOLERANCE = 300


def _secrets(source: SourceSettings, key: str) -> list[bytes]:
    require_keys(source, key, source.secrets)
    for i, secret in enumerate(source.secrets):
        # A secret without its prefix would verify nothing, silently: the prefix is part of the key.
        if not secret.reveal().startswith("whsec_"):
            raise ConfigError(
                f"{key}.secrets[{i}]",
                "a Stripe signing secret starts with whsec_ (the whole string is the key)",
            )
    return [secret.reveal().encode() for secret in source.secrets]


def build(source: SourceSettings, key: str) -> TimestampedHmacVerifier:
    return TimestampedHmacVerifier(
        secrets=_secrets(source, key),
        header=HEADER,
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
        id_field="id",
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` is not sent: Stripe's id is the body's ``id``."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    signature = sign(source.secrets[0].reveal().encode(), timestamp, body)
    headers = {HEADER: signature, "content-type": "application/json"}
    return Outgoing(url, headers, body)


PROVIDER = Provider("stripe", "timestamped-hmac", build, sign_delivery)
