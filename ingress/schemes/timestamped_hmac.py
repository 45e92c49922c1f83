"""Timestamped HMAC in one header (Stripe, Mux, ElevenLabs): ``t=<epoch>,v1=<hex>[,v1=<hex>...]``.

The signed content is ``{t}.{raw body}``, HMAC-SHA256 in lower-case hex. Providers differ only in
the header name, the signature key (``v1``; ElevenLabs ``v0``), the window and where the event id
lives, so those are constructor parameters. Other keys in the header (Stripe's ``v0`` test-mode
signature, a future scheme) are ignored; several entries of our key are the sender's rotation.

Order of checks, as in :mod:`ingress.schemes.standard_webhooks`: no header (401), an unparseable
header (400), the signature, and only then the timestamp window, so a timestamp error always means
"the real sender, at the wrong time". The event id is read last, from the verified body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from ingress.errors import (
    MalformedHeader,
    MissingSignature,
    SignatureMismatch,
)
from ingress.schemes.base import Verified, body_digest_id, check_window
from ingress.schemes.parsing import TIMESTAMP, json_event_id

_KEY = re.compile(r"[a-z][a-z0-9_]{0,15}")
_VALUE = re.compile(r"[\x21-\x2b\x2d-\x7e]{1,512}")  # printable ASCII except ','
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
# Every entry of our key costs one HMAC per secret: bound what one forged header costs us.
_MAX_ITEMS = 16


def _prefix(timestamp: int) -> bytes:
    # The signed content is this prefix followed by the raw body; sign() and verify() both use it.
    return f"{timestamp}.".encode()


def _hexdigest(keyed: hmac.HMAC, prefix: bytes, body: bytes) -> bytes:
    mac = keyed.copy()  # keeps the precomputed key schedule; two updates avoid copying the body
    mac.update(prefix)
    mac.update(body)
    return mac.hexdigest().encode()


def sign(secret: bytes, timestamp: int, body: bytes, key: str = "v1") -> str:
    """A whole header value, ``t=<timestamp>,<key>=<hex HMAC-SHA256>``."""
    digest = _hexdigest(hmac.new(secret, digestmod=hashlib.sha256), _prefix(timestamp), body)
    return f"t={timestamp},{key}={digest.decode()}"


def _parse(header: str, name: str, key: str) -> tuple[int, list[bytes]]:
    """The timestamp and the signatures of ``key`` (as ASCII hex bytes)."""
    items = header.split(",")
    if len(items) > _MAX_ITEMS:
        raise MalformedHeader(f"{name} has {len(items)} items; at most {_MAX_ITEMS} allowed")
    stamps: list[str] = []
    signatures: list[bytes] = []
    for item in items:
        item_key, sep, value = item.partition("=")
        if not (sep and _KEY.fullmatch(item_key) and _VALUE.fullmatch(value)):
            raise MalformedHeader(f"{name} must be a comma list of key=value items")
        if item_key == "t":
            stamps.append(value)
        elif item_key == key:
            if not _HEX_SHA256.fullmatch(value):
                raise MalformedHeader(f"{name}: each {key} must be 64 lower-case hex digits")
            signatures.append(value.encode())
    if len(stamps) != 1:
        raise MalformedHeader(f"{name} must hold exactly one t= item, not {len(stamps)}")
    if not TIMESTAMP.fullmatch(stamps[0]):
        raise MalformedHeader(f"{name}: t must be whole epoch seconds in plain ASCII digits")
    if not signatures:
        raise MissingSignature(f"{name} holds no {key}= signature")
    return int(stamps[0]), signatures


class TimestampedHmacVerifier:
    """Verifies ``t=..,v1=..`` deliveries against several secrets (``key_index`` = secret index)."""

    def __init__(
        self,
        *,
        secrets: Sequence[bytes],
        header: str,
        key: str = "v1",
        tolerance: int = 300,
        check_future: bool = True,
        id_field: str | None = None,
    ) -> None:
        """``check_future=False`` accepts any timestamp ahead of ours (ElevenLabs documents a
        past-only window). ``id_field`` names the body's top-level event id; ``None``, or a body
        without it, gives :func:`~ingress.schemes.base.body_digest_id`."""
        if not secrets:
            raise ValueError("a timestamped HMAC source needs at least one secret")
        if any(not secret for secret in secrets):
            raise ValueError("webhook secrets must not be empty")
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 seconds, not {tolerance}")
        if not _KEY.fullmatch(key) or key == "t":
            raise ValueError(f"signature key must be a short lower-case name, not {key!r}")
        self._macs = tuple(hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets)
        self._header = header.lower()
        self._key = key
        self._tolerance = tolerance
        self._check_future = check_future
        self._id_field = id_field

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return (self._header,)

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        value = headers.get(self._header)
        if not value:
            raise MissingSignature(f"missing or empty {self._header} header")
        timestamp, signatures = _parse(value, self._header, self._key)
        key_index = self._match(signatures, _prefix(timestamp), body)

        check_window(
            f"{self._header} t", timestamp, now, self._tolerance, future=self._check_future
        )
        if self._id_field is None:
            event_id = body_digest_id(body)
        else:
            event_id = json_event_id(body, self._id_field)
        return Verified(event_id=event_id, key_index=key_index, timestamp=timestamp)

    def _match(self, signatures: list[bytes], prefix: bytes, body: bytes) -> int:
        # Outer loop over secrets, so the reported index does not depend on the entries' order.
        for index, keyed in enumerate(self._macs):
            expected = _hexdigest(keyed, prefix, body)
            if any(hmac.compare_digest(expected, sig) for sig in signatures):
                return index
        raise SignatureMismatch("no signature matches any configured secret")
