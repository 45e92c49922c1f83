"""Mux: ``Mux-Signature: t=<epoch>,v1=<hex>`` over ``{t}.{body}``, the secret's UTF-8 bytes.

PROVIDERS.md gives Mux no window; ±300 s is the default of Mux's own SDKs (configurable per
source). The event id is the body's ``id`` (the event's UUID), read after the signature verified.
"""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.timestamped_hmac import TimestampedHmacVerifier, sign
from schemas.config import SourceSettings

HEADER = "mux-signature"
DEFAULT_TOLERANCE = 300


def build(source: SourceSettings, key: str) -> TimestampedHmacVerifier:
    require_keys(source, key, source.secrets)
    return TimestampedHmacVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        header=HEADER,
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
        id_field="id",
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` is not sent: Mux's id is the body's ``id``."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    signature = sign(source.secrets[0].reveal().encode(), timestamp, body)
    return Outgoing(url, {HEADER: signature, "content-type": "application/json"}, body)


PROVIDER = Provider("mux", "timestamped-hmac", build, sign_delivery)
