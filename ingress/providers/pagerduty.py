"""PagerDuty (webhooks v3): ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]`` over the body.

One ``v1`` entry per active secret (PagerDuty's own rotation); the key is the secret's UTF-8.
Nothing else is signed: no window (``tolerance`` is refused), and the event id is the unsigned
``X-Webhook-Id``; the raw record is keyed (de-duplicated) by the body's digest instead
(:mod:`ingress.schemes.body_hmac`), so a replay under a fresh id is a duplicate.
"""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.body_hmac import PAGERDUTY, BodyHmacVerifier, sign
from schemas.config import ConfigError, SourceSettings

HEADER = "x-pagerduty-signature"
WEBHOOK_ID = "x-webhook-id"


def build(source: SourceSettings, key: str) -> BodyHmacVerifier:
    require_keys(source, key, source.secrets)
    if source.tolerance is not None:
        raise ConfigError(f"{key}.tolerance", "pagerduty signs no timestamp; remove the tolerance")
    return BodyHmacVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        header=HEADER,
        form=PAGERDUTY,
        id_headers=(WEBHOOK_ID,),
    )


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """Signs with every secret, as PagerDuty does; ``event_id`` becomes ``X-Webhook-Id``."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    signature = ",".join(sign(s.reveal().encode(), body, PAGERDUTY) for s in source.secrets)
    headers = {HEADER: signature, WEBHOOK_ID: event_id, "content-type": "application/json"}
    return Outgoing(url, headers, body)


PROVIDER = Provider("pagerduty", "body-hmac", build, sign_delivery)
