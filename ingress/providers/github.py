"""GitHub: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the body with the secret's UTF-8.

Nothing else is signed: no window (``tolerance`` is refused), and the event id is the unsigned
``X-GitHub-Delivery``, stable across manual redeliveries. ``X-GitHub-Event`` and
``X-GitHub-Hook-Id`` are kept for the normalizer. Since the delivery id is not signed, the raw
record is keyed (de-duplicated) by the digest of ``X-GitHub-Event`` and the body
(:mod:`ingress.schemes.body_hmac`): a replay under a fresh delivery id is a duplicate.
"""

from __future__ import annotations

import json

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.body_hmac import GITHUB, BodyHmacVerifier, sign
from schemas.config import ConfigError, SourceSettings

HEADER = "x-hub-signature-256"
DELIVERY = "x-github-delivery"
EVENT = "x-github-event"
HOOK_ID = "x-github-hook-id"


def build(source: SourceSettings, key: str) -> BodyHmacVerifier:
    require_keys(source, key, source.secrets)
    if source.tolerance is not None:
        raise ConfigError(f"{key}.tolerance", "github signs no timestamp; remove the tolerance")
    return BodyHmacVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        header=HEADER,
        form=GITHUB,
        id_headers=(DELIVERY,),
        extra_headers=(EVENT, HOOK_ID),
        dedup_headers=(EVENT,),
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` becomes ``X-GitHub-Delivery``; the event is ``ping`` for a body with GitHub's
    ``zen`` line (what a new hook is sent first), else ``push`` (the bundled sample's shape)."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    try:
        is_ping = "zen" in json.loads(body)  # the operator's own payload, not a sender's
    except (ValueError, TypeError):
        is_ping = False
    headers = {
        HEADER: sign(source.secrets[0].reveal().encode(), body, GITHUB),
        DELIVERY: event_id,
        EVENT: "ping" if is_ping else "push",
        HOOK_ID: "1",
        "content-type": "application/json",
    }
    return Outgoing(url, headers, body)


PROVIDER = Provider("github", "body-hmac", build, sign_delivery)
