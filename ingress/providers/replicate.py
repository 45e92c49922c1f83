"""Replicate: Standard Webhooks with the ``webhook-*`` names and a ``whsec_`` signing secret.

What Replicate's own library does (``replicate.webhook.Webhooks.validate``): splits the secret at
``_`` and base64-decodes the part after ``whsec_`` (a secret without the prefix is refused), HMACs
``{webhook-id}.{webhook-timestamp}.{body}``, and accepts if any space-separated entry matches. Its
timestamp check is optional (off by default); ours is on (±300 s) because it is the only replay
defence besides de-duplication. So this is exactly the ``standard-webhooks`` provider, secrets
only: Replicate publishes no Ed25519 keys. The event id is ``webhook-id``; Replicate retries only
the terminal webhook of a prediction, with the same id.
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


PROVIDER = Provider("replicate", "standard-webhooks", build, standard_webhooks.sign_delivery)
