"""Standard Webhooks (https://www.standardwebhooks.com): ``whsec_`` secrets and ``whpk_`` keys."""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider
from ingress.schemes.standard_webhooks import (
    StandardWebhooksVerifier,
    decode_public_key,
    decode_secret,
    sign,
)
from schemas.config import ConfigError, SourceSettings

DEFAULT_TOLERANCE = 300


def build(source: SourceSettings, key: str) -> StandardWebhooksVerifier:
    secrets = []
    for i, secret in enumerate(source.secrets):
        try:
            secrets.append(decode_secret(secret.reveal()))
        except ValueError as exc:
            raise ConfigError(f"{key}.secrets[{i}]", str(exc)) from None
    public_keys = []
    for i, text in enumerate(source.public_keys):
        try:
            public_keys.append(decode_public_key(text))
        except ValueError as exc:
            raise ConfigError(f"{key}.public_keys[{i}]", str(exc)) from None
    if not secrets and not public_keys:
        raise ConfigError(
            f"{key}.secrets",
            "a standard-webhooks source needs at least one secret (whsec_...) or public key "
            "(whpk_...)",
        )
    return StandardWebhooksVerifier(
        secrets=secrets,
        public_keys=public_keys,
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with (public keys only)")
    signature = sign(decode_secret(source.secrets[0].reveal()), event_id, timestamp, body)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return Outgoing(url, headers, body)


PROVIDER = Provider("standard-webhooks", "standard-webhooks", build, sign_delivery)
