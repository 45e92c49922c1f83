"""Slack (Events API): ``X-Slack-Signature: v0=<hex>`` over ``v0:{timestamp}:{body}``, ±300 s.

The key is the app's signing secret as UTF-8. The event id is the body's ``event_id`` and the
``url_verification`` handshake is answered with its challenge: both read from the verified body
(:mod:`ingress.schemes.slack`).
"""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.slack import SIGNATURE_HEADER, TIMESTAMP_HEADER, SlackVerifier, sign
from schemas.config import SourceSettings

DEFAULT_TOLERANCE = 300


def build(source: SourceSettings, key: str) -> SlackVerifier:
    require_keys(source, key, source.secrets)
    return SlackVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` is not sent: Slack's id is the body's ``event_id``."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    headers = {
        SIGNATURE_HEADER: sign(source.secrets[0].reveal().encode(), timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        "content-type": "application/json",
    }
    return Outgoing(url, headers, body)


PROVIDER = Provider("slack", "slack", build, sign_delivery)
