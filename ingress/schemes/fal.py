"""fal.ai webhooks: Ed25519 over ``{request_id}\\n{user_id}\\n{timestamp}\\n{hex sha256(body)}``.

Headers ``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp`` (epoch seconds) and
``-Signature`` (the 64-byte signature in hex). The request names no key, so every key is tried.
Keys are fal's JWKS (:class:`JwksKeys`), static keys from the config, or both.

Order of checks as in :mod:`ingress.schemes.standard_webhooks`: an absent signature (401), the
other headers (400s), the signature, then the window (±300 s by default), so a timestamp error
always means "fal, at the wrong time". The event id is the request id (= the body's
``request_id``), stable across fal's retries.

Unconfirmed (secondary sources only, hence configurable or lenient): the ±300 s window, and the
signature's hex case (either case is accepted; both spell the same bytes).

``Verified.key_index``: static key ``i`` is ``i``; JWKS key ``j`` is ``len(static) + j`` in the
order of the last fetched document, which a rotation on fal's side may change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ingress.errors import (
    MalformedHeader,
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
)
from ingress.schemes.base import Verified, check_window
from ingress.schemes.jwks import JwksKeys, decode_public_key, decode_signing_key, parse_jwks
from ingress.schemes.parsing import EVENT_ID
from ingress.schemes.parsing import TIMESTAMP as TIMESTAMP_FORM
from schemas.sources import FAL_JWKS_URL

__all__ = [
    "FalVerifier",
    "JwksKeys",
    "decode_public_key",
    "decode_signing_key",
    "parse_jwks",
    "sign",
]


REQUEST_ID = "x-fal-webhook-request-id"
USER_ID = "x-fal-webhook-user-id"
TIMESTAMP = "x-fal-webhook-timestamp"
SIGNATURE = "x-fal-webhook-signature"
#: fal's key set; the configuration's default (``schemas/sources.py``).
DEFAULT_JWKS_URL = FAL_JWKS_URL

# The ids are joined with newlines into the signed message: EVENT_ID allows no whitespace, so no
# two header sets spell the same message, and only ASCII, so the text is the bytes fal signed.
_ID_TEXT = "1-256 printable ASCII characters, no spaces"
_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")


# A JWKS bigger than this is not fal's (it holds a handful of 32-byte keys).
def message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The signed message; sign() and verify() both build it here."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


def sign(
    private_key: Ed25519PrivateKey, request_id: str, user_id: str, timestamp: int, body: bytes
) -> str:
    """The ``X-Fal-Webhook-Signature`` value: the Ed25519 signature in lower-case hex."""
    return private_key.sign(message(request_id, user_id, str(timestamp), body)).hex()


def _required(headers: Mapping[str, str], name: str, form: re.Pattern[str], what: str) -> str:
    value = headers.get(name)
    if not value:
        raise MissingHeader(f"missing or empty {name} header")
    if not form.fullmatch(value):
        raise MalformedHeader(f"{name} must be {what}")
    return value


class FalVerifier:
    """Verifies fal deliveries against every key of a :class:`JwksKeys`."""

    def __init__(self, keys: JwksKeys, *, tolerance: int = 300) -> None:
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 seconds, not {tolerance}")
        self.keys = keys
        self._tolerance = tolerance

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return (REQUEST_ID, USER_ID, TIMESTAMP, SIGNATURE)

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        sig_text = headers.get(SIGNATURE)
        if not sig_text:
            raise MissingSignature(f"missing or empty {SIGNATURE} header")
        request_id = _required(headers, REQUEST_ID, EVENT_ID, _ID_TEXT)
        user_id = _required(headers, USER_ID, EVENT_ID, _ID_TEXT)
        ts_text = _required(
            headers, TIMESTAMP, TIMESTAMP_FORM, "whole epoch seconds in ASCII digits"
        )
        if not _SIGNATURE.fullmatch(sig_text):
            raise MalformedHeader(f"{SIGNATURE} must be 128 hex digits (a 64-byte signature)")
        key_index = self._match(
            bytes.fromhex(sig_text), message(request_id, user_id, ts_text, body)
        )

        timestamp = int(ts_text)
        check_window(TIMESTAMP, timestamp, now, self._tolerance)
        return Verified(event_id=request_id, key_index=key_index, timestamp=timestamp)

    def _match(self, signature: bytes, content: bytes) -> int:
        keys = self.keys.current()
        for index, key in enumerate(keys):
            if key.verifies(signature, content):
                return index
        # fal may have rotated to a key we have not fetched yet: fetch in the background (rate
        # limited); this delivery is refused now and fal's retry will find the new key.
        self.keys.refresh()
        if not keys:
            raise SignatureMismatch("no fal public key is loaded yet (the JWKS fetch is pending)")
        raise SignatureMismatch("the signature matches no fal public key")
