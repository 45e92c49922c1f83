"""fal.ai: Ed25519 signatures checked against fal's JWKS and/or static ``public_keys``.

Options:

- ``jwks_url``: where fal publishes its keys. Absent: fal's URL when no ``public_keys`` are
  given, none when they are (static only, for air-gapped installs and tests); ``null``: none.
  ``https`` only, except ``http`` to a loopback address (tests, a local mirror).
- ``jwks_cache_s`` (default 86400): the fetched set is refreshed in the background once older.
- ``jwks_min_refresh_s`` (default 60): at most one fetch per this many seconds, however many
  deliveries fail to verify.
- ``signing_key``: base64 of a 32-byte Ed25519 seed, only for playing fal locally
  (``hookgate send``, tests). fal never hands out its private key; the ingress never needs one.

``public_keys`` are the base64url (or base64) of the 32 raw bytes, like a JWK's ``x``, or a whole
JWK as JSON text. ``tolerance`` defaults to 300 s (unconfirmed for fal: configurable). The first
JWKS fetch starts when the source is built; until it lands, deliveries are refused with 401 and
fal retries them.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ingress.providers.base import Outgoing, Provider, option
from ingress.schemes.fal import (
    DEFAULT_JWKS_URL,
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
from schemas.config import ConfigError, SourceSettings

DEFAULT_TOLERANCE = 300
#: The ``X-Fal-Webhook-User-Id`` that ``hookgate send`` puts on its deliveries.
DEV_USER_ID = "hookgate-dev"


def build(source: SourceSettings, key: str) -> FalVerifier:
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
    if "jwks_url" in source.options:
        url = option(source, key, "jwks_url", str)
    else:
        url = None if static else DEFAULT_JWKS_URL
    if url is None and not static:
        raise ConfigError(f"{key}.jwks_url", "fal needs a jwks_url, public_keys, or both")
    if url is not None:
        _check_url(url, f"{key}.jwks_url")
    if "signing_key" in source.options:
        _signing_key(source, key)  # fail at start, not at the first `hookgate send`
    keys = JwksKeys(
        url,
        static=static,
        max_age=_seconds(source, key, "jwks_cache_s", 86_400),
        min_refresh=_seconds(source, key, "jwks_min_refresh_s", 60),
    )
    keys.refresh()  # the first fetch, in the background: starting up never waits for fal
    return FalVerifier(keys, tolerance=source.tolerance or DEFAULT_TOLERANCE)


def _check_url(url: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            if host == "localhost" or ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
    raise ConfigError(key, "must be an https:// URL (http:// only to a loopback address)")


def _seconds(source: SourceSettings, key: str, name: str, default: int) -> int:
    value: Any = source.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 30 * 86_400:
        raise ConfigError(f"{key}.{name}", "must be a whole number of seconds, 1..2592000")
    return value


def _signing_key(source: SourceSettings, key: str) -> Ed25519PrivateKey:
    text = option(source, key, "signing_key", str)
    if text is None:
        raise ConfigError(f"{key}.signing_key", "must be the base64 of a 32-byte Ed25519 seed")
    try:
        return decode_signing_key(text)
    except ValueError as exc:
        # The message must not echo the text: it is a private key.
        raise ConfigError(f"{key}.signing_key", str(exc)) from None


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` becomes ``X-Fal-Webhook-Request-Id``; signed with the ``signing_key`` option."""
    if "signing_key" not in source.options:
        raise ValueError(
            f"source {source.name!r} cannot sign like fal: fal signs with its own private key. "
            "To play fal locally, set the option signing_key (base64 of a 32-byte Ed25519 seed) "
            "and list its public key in public_keys"
        )
    try:
        private_key = _signing_key(source, f"source {source.name}")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    headers = {
        REQUEST_ID: event_id,
        USER_ID: DEV_USER_ID,
        TIMESTAMP: str(timestamp),
        SIGNATURE: sign(private_key, event_id, DEV_USER_ID, timestamp, body),
        "content-type": "application/json",
    }
    return Outgoing(url, headers, body)


PROVIDER = Provider(
    "fal",
    "fal-ed25519",
    build,
    sign_delivery,
    options=frozenset({"jwks_url", "jwks_cache_s", "jwks_min_refresh_s", "signing_key"}),
    offload=True,
)
