"""Anthropic: Standard Webhooks with the ``webhook-*`` names and a ``whsec_`` signing secret.

What Anthropic's SDK does (``client.beta.webhooks.unwrap``, extra ``anthropic[webhooks]``): hands
the key (``webhook_key=`` or ``ANTHROPIC_WEBHOOK_SIGNING_KEY``) to the ``standardwebhooks``
library, which strips an optional ``whsec_`` prefix and base64-decodes the rest (so a key without
the prefix is still base64, unlike OpenAI's), reads the ``webhook-*`` headers, verifies ``v1``
entries only, and allows ±5 minutes. That is the ``standard-webhooks`` provider, secrets only.

The body is a thin envelope whose ``type`` is always ``event``: the event type is ``data.type``
(``session.created``), the entity ``data.id`` and the time ``created_at`` (RFC 3339).
"""

from __future__ import annotations

from ingress.providers import standard_webhooks
from ingress.providers.base import Provider
from ingress.providers.standard_webhooks import secrets_only
from ingress.schemes.standard_webhooks import StandardWebhooksVerifier
from schemas.config import SourceSettings


def build(source: SourceSettings, key: str) -> StandardWebhooksVerifier:
    secrets_only(source, key)
    return standard_webhooks.build(source, key)


PROVIDER = Provider("anthropic", "standard-webhooks", build, standard_webhooks.sign_delivery)
