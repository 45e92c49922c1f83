"""Twilio: ``X-Twilio-Signature`` over the URL Twilio called and the form (or ``bodySHA256``).

Secrets are the account's auth tokens as UTF-8 (primary and secondary during a rotation), and any
shared-key secrets of Twilio's Webhooks configuration API. Option ``public_url``: the URL as
configured in Twilio (``https://hooks.example.com/webhooks/twilio``) when the ingress sits behind
a proxy, which is nearly always: without it the signed URL is the one the ingress saw, and every
delivery fails to verify. Nothing is timestamped, so ``tolerance`` is refused. ``max_body_bytes``
defaults to 64 KiB (Twilio's callbacks are a few KB); verification runs in a thread.

The raw record keeps the signature headers, but not the URL: a delivery can be verified again
from Kafka only with the source's ``public_url`` and the request's query string.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.twilio import (
    BODY_HASH_PARAM,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TwilioVerifier,
    check_public_url,
    sign,
    signed_url,
)
from schemas.config import ConfigError, TwilioSource


def build(source: TwilioSource, key: str) -> TwilioVerifier:
    require_keys(source, key, source.secrets)
    if source.tolerance is not None:
        raise ConfigError(f"{key}.tolerance", "twilio signs no timestamp; remove the tolerance")
    public_url = source.public_url
    if public_url is not None:
        try:
            check_public_url(public_url)
        except ValueError as exc:
            raise ConfigError(f"{key}.public_url", str(exc)) from None
    return TwilioVerifier(
        tokens=[secret.reveal().encode() for secret in source.secrets], public_url=public_url
    )


def sign_delivery(
    source: TwilioSource, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """A form body is signed with its fields (the bundled sample is a message status callback);
    a JSON body (one starting with ``{`` or ``[``) gets ``bodySHA256`` in the URL instead.
    ``event_id`` becomes ``I-Twilio-Idempotency-Token``, as Twilio sends one per request."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no auth token to sign with")
    token = source.secrets[0].reveal().encode()
    public_url = source.public_url
    if body.lstrip()[:1] in (b"{", b"["):
        separator = "&" if "?" in url else "?"
        url = f"{url}{separator}{BODY_HASH_PARAM}={hashlib.sha256(body).hexdigest()}"
        signature = sign(token, signed_url(public_url, url))
        content_type = "application/json"
    else:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        signature = sign(token, signed_url(public_url, url), pairs)
        content_type = "application/x-www-form-urlencoded"
    headers = {
        SIGNATURE_HEADER: signature,
        IDEMPOTENCY_HEADER: event_id,
        "content-type": content_type,
    }
    return Outgoing(url, headers, body)


# offload: the unsigned form is parsed and sorted before the HMAC can be checked.
PROVIDER = Provider("twilio", "twilio", build, sign_delivery, offload=True, uses_url=True)
