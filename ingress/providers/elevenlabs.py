"""ElevenLabs: ``ElevenLabs-Signature: t=<epoch>,v0=<hex>`` over ``{t}.{body}``.

The key is the secret's UTF-8 bytes (``wsec_...`` as shown, prefix included). ElevenLabs documents
a 30-minute window on the past side only, as its SDKs check it; a timestamp ahead of our clock is
accepted. Its events carry no id of their own, so the event id is the body's digest, which
de-duplicates a retry as long as it resends the same bytes (unconfirmed: only ``t`` and the
signature would change).
"""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.timestamped_hmac import TimestampedHmacVerifier, sign
from schemas.config import SourceSettings

HEADER = "elevenlabs-signature"
KEY = "v0"
DEFAULT_TOLERANCE = 30 * 60


def build(source: SourceSettings, key: str) -> TimestampedHmacVerifier:
    require_keys(source, key, source.secrets)
    return TimestampedHmacVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        header=HEADER,
        key=KEY,
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
        check_future=False,
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` is not sent: ElevenLabs sends none (the body's digest stands in)."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    signature = sign(source.secrets[0].reveal().encode(), timestamp, body, KEY)
    return Outgoing(url, {HEADER: signature, "content-type": "application/json"}, body)


PROVIDER = Provider("elevenlabs", "timestamped-hmac", build, sign_delivery)
