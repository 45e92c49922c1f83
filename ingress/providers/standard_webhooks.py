"""Standard Webhooks (https://www.standardwebhooks.com): ``whsec_`` secrets and ``whpk_`` keys.

Also the family's shared pieces, which the Svix, Replicate, OpenAI and Anthropic adapters reuse
with their own header names and secret decoding.
"""

from __future__ import annotations

from collections.abc import Callable

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.standard_webhooks import (
    StandardWebhooksVerifier,
    decode_public_key,
    decode_secret,
    sign,
)
from schemas.config import ConfigError, SourceSettings

DEFAULT_TOLERANCE = 300
STANDARD_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")

#: Turns a configured secret's text into the HMAC key (raises ValueError, never echoing it).
SecretDecoder = Callable[[str], bytes]


def decode_secrets(
    source: SourceSettings, key: str, decode: SecretDecoder = decode_secret
) -> list[bytes]:
    keys = []
    for i, secret in enumerate(source.secrets):
        try:
            keys.append(decode(secret.reveal()))
        except ValueError as exc:
            raise ConfigError(f"{key}.secrets[{i}]", str(exc)) from None
    return keys


def secrets_only(source: SourceSettings, key: str) -> None:
    """Fail at start when a source of a secrets-only sender has no secret, or has public keys:
    the family's senders other than Standard Webhooks itself sign with ``v1`` only."""
    require_keys(source, key, source.secrets)
    if source.public_keys:
        raise ConfigError(
            f"{key}.public_keys",
            f"provider {source.provider} signs with a shared whsec_ secret (v1) only; "
            "put the secret under secrets",
        )


def build(source: SourceSettings, key: str) -> StandardWebhooksVerifier:
    secrets = decode_secrets(source, key)
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


def signed(
    source: SourceSettings,
    body: bytes,
    event_id: str,
    timestamp: int,
    url: str,
    *,
    decode: SecretDecoder = decode_secret,
    names: tuple[str, str, str] = STANDARD_NAMES,
) -> Outgoing:
    """A delivery signed with the source's first secret, under the given header names."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with (public keys only)")
    signature = sign(decode(source.secrets[0].reveal()), event_id, timestamp, body)
    id_name, ts_name, sig_name = names
    headers = {
        id_name: event_id,
        ts_name: str(timestamp),
        sig_name: signature,
        "content-type": "application/json",
    }
    return Outgoing(url, headers, body)


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    return signed(source, body, event_id, timestamp, url)


PROVIDER = Provider("standard-webhooks", "standard-webhooks", build, sign_delivery)
