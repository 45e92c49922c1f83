"""fal.ai: Ed25519 signatures checked against fal's JWKS and/or static ``public_keys``.

Options:

- ``jwks_url``: where fal publishes its keys. Absent: fal's URL when no ``public_keys`` are
  given, none when they are (static only, for air-gapped installs and tests); ``null``: none.
  ``https`` only, except ``http`` to a loopback address (tests, a local mirror). A redirect is
  not followed (its target was never checked): the fetch fails and the keys held stay.
- ``jwks_cache_s`` (default 86400): the fetched set is refreshed in the background once older.
- ``jwks_min_refresh_s`` (default 60): at most one fetch per this many seconds, however many
  deliveries fail to verify.

Playing fal locally (``hookgate send``, tests) needs a private key, which fal never hands out and
the ingress never needs: it is no part of the source's configuration. The sender's tooling passes
it to :func:`sign_delivery` (``hookgate send --signing-key``, base64 of a 32-byte Ed25519 seed).

``public_keys`` are the base64url (or base64) of the 32 raw bytes, like a JWK's ``x``, or a whole
JWK as JSON text. ``tolerance`` defaults to 300 s (unconfirmed for fal: configurable). The first
JWKS fetch starts when the source is built; until it lands, deliveries are refused with 401 and
fal retries them.
"""

from __future__ import annotations

from ingress.providers.base import Outgoing, Provider
from ingress.schemes.fal import (
    REQUEST_ID,
    SIGNATURE,
    TIMESTAMP,
    USER_ID,
    FalVerifier,
    JwksKeys,
    decode_public_key,
    decode_signing_key,
    sign,
)
from schemas.config import ConfigError, FalSource

DEFAULT_TOLERANCE = 300
#: The ``X-Fal-Webhook-User-Id`` that ``hookgate send`` puts on its deliveries.
DEV_USER_ID = "hookgate-dev"


def build(source: FalSource, key: str) -> FalVerifier:
    if source.secrets:
        raise ConfigError(
            f"{key}.secrets", "fal signs with Ed25519 and shares no secret: use public_keys"
        )
    static = []
    for i, text in enumerate(source.public_keys):
        try:
            static.append(decode_public_key(text))
        except ValueError as exc:
            raise ConfigError(f"{key}.public_keys[{i}]", str(exc)) from None
    url = source.key_set_url
    if url is None and not static:
        raise ConfigError(f"{key}.jwks_url", "fal needs a jwks_url, public_keys, or both")
    keys = JwksKeys(
        url, static=static, max_age=source.jwks_cache_s, min_refresh=source.jwks_min_refresh_s
    )
    keys.refresh()  # the first fetch, in the background: starting up never waits for fal
    return FalVerifier(keys, tolerance=source.tolerance or DEFAULT_TOLERANCE)


def sign_delivery(
    source: FalSource, body: bytes, event_id: str, timestamp: int, url: str, signing_key: str
) -> Outgoing:
    """``event_id`` becomes ``X-Fal-Webhook-Request-Id``; signed with ``signing_key``, the base64
    of a 32-byte Ed25519 seed (raises ``ValueError`` without echoing it)."""
    private_key = decode_signing_key(signing_key)
    headers = {
        REQUEST_ID: event_id,
        USER_ID: DEV_USER_ID,
        TIMESTAMP: str(timestamp),
        SIGNATURE: sign(private_key, event_id, DEV_USER_ID, timestamp, body),
        "content-type": "application/json",
    }
    return Outgoing(url, headers, body)


PROVIDER = Provider("fal", "fal-ed25519", build, sign_with_key=sign_delivery, offload=True)
