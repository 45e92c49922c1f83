"""Slack request signing: ``v0:{timestamp}:{raw body}``, HMAC-SHA256, ``v0=<lower hex>``.

Headers ``X-Slack-Signature`` and ``X-Slack-Request-Timestamp``, a window of ±300 s. Checks run in
the order of :mod:`ingress.schemes.standard_webhooks` (signature before the window). Only then is
the body read, as JSON, for two things Slack puts there and not in a header:

- the event id, ``event_id`` of an Events API ``event_callback`` (else the body's digest: slash
  commands and interactivity post forms, which carry no event id);
- the endpoint check ``{"type": "url_verification", "challenge": ...}``, answered with the
  challenge and not produced (it is not an event). One without a string challenge cannot be
  answered, so it is kept like any other verified delivery, for the dead-letter topic to show.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence

from ingress.errors import (
    MalformedHeader,
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
)
from ingress.schemes.base import Verified, body_digest_id, check_window
from ingress.schemes.parsing import EVENT_ID, TIMESTAMP, json_object

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"

_SIGNATURE = re.compile(r"v0=([0-9a-f]{64})")
# A version other than v0 (none exists yet): not ours to judge, so "missing", not "malformed".
_OTHER_VERSION = re.compile(r"v(?!0=)[0-9]{1,3}=[\x21-\x7e]+")
# Slack's challenges are ~50 characters; a bound keeps the reply small whatever was signed.
_MAX_CHALLENGE = 512


def _prefix(timestamp: int) -> bytes:
    # The signed content is this prefix followed by the raw body; sign() and verify() both use it.
    return f"v0:{timestamp}:".encode()


def _hexdigest(keyed: hmac.HMAC, prefix: bytes, body: bytes) -> bytes:
    mac = keyed.copy()
    mac.update(prefix)
    mac.update(body)
    return mac.hexdigest().encode()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Slack-Signature`` value: ``v0=<hex HMAC-SHA256>``."""
    keyed = hmac.new(secret, digestmod=hashlib.sha256)
    return "v0=" + _hexdigest(keyed, _prefix(timestamp), body).decode()


class SlackVerifier:
    """Verifies Slack requests against several signing secrets (``key_index`` = secret index)."""

    def __init__(self, *, secrets: Sequence[bytes], tolerance: int = 300) -> None:
        if not secrets:
            raise ValueError("a Slack source needs at least one signing secret")
        if any(not secret for secret in secrets):
            raise ValueError("signing secrets must not be empty")
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 seconds, not {tolerance}")
        self._macs = tuple(hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets)
        self._tolerance = tolerance

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return (SIGNATURE_HEADER, TIMESTAMP_HEADER)

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            raise MissingSignature(f"missing or empty {SIGNATURE_HEADER} header")
        ts_text = headers.get(TIMESTAMP_HEADER)
        if not ts_text:
            raise MissingHeader(f"missing or empty {TIMESTAMP_HEADER} header")
        if not TIMESTAMP.fullmatch(ts_text):
            raise MalformedHeader(
                f"{TIMESTAMP_HEADER} must be whole epoch seconds in plain ASCII digits"
            )
        timestamp = int(ts_text)
        found = _SIGNATURE.fullmatch(signature)
        if found is None:
            if _OTHER_VERSION.fullmatch(signature):
                raise MissingSignature(f"{SIGNATURE_HEADER} is not a v0 signature")
            raise MalformedHeader(f"{SIGNATURE_HEADER} must be 'v0=' + 64 lower-case hex digits")
        key_index = self._match(found.group(1).encode(), _prefix(timestamp), body)

        check_window(TIMESTAMP_HEADER, timestamp, now, self._tolerance)
        return _read_body(body, key_index, timestamp)

    def _match(self, signature: bytes, prefix: bytes, body: bytes) -> int:
        for index, keyed in enumerate(self._macs):
            if hmac.compare_digest(_hexdigest(keyed, prefix, body), signature):
                return index
        raise SignatureMismatch("the signature matches no configured signing secret")


def _read_body(body: bytes, key_index: int, timestamp: int) -> Verified:
    """The event id, or the handshake reply, of a verified body."""
    document = json_object(body) or {}
    challenge = document.get("challenge")
    if (
        document.get("type") == "url_verification"
        and isinstance(challenge, str)
        and len(challenge) <= _MAX_CHALLENGE
    ):
        reply = json.dumps({"challenge": challenge}).encode()
        return Verified(body_digest_id(body), key_index, timestamp, reply=reply)
    event_id = document.get("event_id")
    if not (isinstance(event_id, str) and EVENT_ID.fullmatch(event_id)):
        event_id = body_digest_id(body)
    return Verified(event_id=event_id, key_index=key_index, timestamp=timestamp)
