"""OpenAI: Standard Webhooks with the ``webhook-*`` names, ±300 s, and its own reading of secrets.

What OpenAI's SDK does (``openai.lib._webhooks.webhook_signature_matches``, behind
``client.webhooks.unwrap`` / ``verify_signature``): a secret that starts with ``whsec_`` is
base64-decoded after the prefix, as everywhere in the family; a secret **without** the prefix is
used as its raw UTF-8 bytes, not decoded. The same text can therefore be two different keys
depending on the provider, and this adapter decides exactly as the SDK does (case-sensitive
prefix, nothing stripped), so a secret that works with the SDK works here. The secrets OpenAI
issues start with ``whsec_``; the raw reading is for secrets configured without it.

Two ways the SDK is looser than the scheme, neither of which OpenAI's sender relies on: it
compares a signature entry without a ``v1,`` prefix as if it were one (we ignore such entries),
and it reads the timestamp with ``int()`` (``+5``, `` 5``; we want plain digits).
"""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider
from ingress.providers.standard_webhooks import (
    DEFAULT_TOLERANCE,
    decode_secrets,
    secrets_only,
    signed,
)
from ingress.schemes.standard_webhooks import StandardWebhooksVerifier, decode_secret
from schemas.config import SourceSettings

PREFIX = "whsec_"


def decode_openai_secret(text: str) -> bytes:
    """The HMAC key the OpenAI SDK derives from ``text``."""
    if text.startswith(PREFIX):
        return decode_secret(text)
    if not text:
        raise ValueError("webhook secret is empty")
    return text.encode()


def build(source: SourceSettings, key: str) -> StandardWebhooksVerifier:
    secrets_only(source, key)
    return StandardWebhooksVerifier(
        secrets=decode_secrets(source, key, decode_openai_secret),
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    return signed(source, body, event_id, timestamp, url, decode=decode_openai_secret)


PROVIDER = Provider("openai", "standard-webhooks", build, sign_delivery)
