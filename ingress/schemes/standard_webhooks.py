"""Standard Webhooks (https://www.standardwebhooks.com): ``{id}.{timestamp}.{raw body}`` signed
with HMAC-SHA256 (``v1``) or Ed25519 (``v1a``), several space-separated ``version,base64`` entries
in one header. Svix and the rest of the family are adapters passing their own header names.

Order of checks: an absent signature header (401: nothing to verify), the other headers (400s),
the signature, and only then the timestamp window. Until the signature verifies, the timestamp is
whatever the caller wrote: checking it first would report a forgery with a stale timestamp as
``timestamp_too_old``, which reads as a replay or clock skew of the real sender. This way a
timestamp error always means "the real sender, at the wrong time", and a forger learns nothing
about our clock. A replay costs us one HMAC per secret.

``Verified.key_index``: secret ``i`` is ``i``; public key ``i`` is ``len(secrets) + i``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ingress.errors import (
    MalformedHeader,
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
)
from ingress.schemes.base import Verified, check_window
from ingress.schemes.ed25519 import VerifyingKey
from ingress.schemes.parsing import EVENT_ID, TIMESTAMP, strict_b64decode

#: Decoded signature length per version this module understands.
_SIG_LENGTHS = {"v1": 32, "v1a": 64}
_VERSION = re.compile(r"v[0-9]{1,3}[a-z]?")
# Senders put one entry per active secret or key, a handful at most: bound the header.
_MAX_ENTRIES = 16


def _decode_key_text(text: str, prefix: str, what: str) -> bytes:
    # Padding is optional; b64decode would reject 'YWI==' + '=' but accept 'YWJj' + '==': normalize.
    data = text.strip().removeprefix(prefix).rstrip("=")
    try:
        raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raw = b""
    if not raw:
        # The message must not echo the text: it is a secret.
        raise ValueError(f"{what} is empty or not base64 (expected {prefix!r} + base64)") from None
    return raw


def decode_secret(text: str) -> bytes:
    """The HMAC key for ``whsec_<base64>``: the decoded bytes (prefix and padding optional)."""
    return _decode_key_text(text, "whsec_", "webhook secret")


def decode_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from ``whpk_<base64 of the 32 raw bytes>``."""
    raw = _decode_key_text(text, "whpk_", "webhook public key")
    if len(raw) != 32:
        raise ValueError(f"webhook public key must decode to 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def decode_signing_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from ``whsk_<base64>``: seed + public key (64 bytes), or a seed."""
    raw = _decode_key_text(text, "whsk_", "webhook signing key")
    if len(raw) not in (32, 64):
        raise ValueError(f"webhook signing key must decode to 32 or 64 bytes, not {len(raw)}")
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64 and key.public_key().public_bytes_raw() != raw[32:]:
        raise ValueError("webhook signing key: the public half does not belong to the seed")
    return key


def _prefix(msg_id: str, timestamp: int) -> bytes:
    # The signed content is this prefix followed by the raw body; sign() and verify() both use it.
    return f"{msg_id}.{timestamp}.".encode()


def _hmac_v1(keyed: hmac.HMAC, prefix: bytes, body: bytes) -> bytes:
    mac = keyed.copy()  # keeps the precomputed key schedule; two updates avoid copying the body
    mac.update(prefix)
    mac.update(body)
    return mac.digest()


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """A ``v1,<base64 HMAC-SHA256>`` signature entry."""
    digest = _hmac_v1(hmac.new(secret, digestmod=hashlib.sha256), _prefix(msg_id, timestamp), body)
    return "v1," + base64.b64encode(digest).decode()


def sign_ed25519(private_key: Ed25519PrivateKey, msg_id: str, timestamp: int, body: bytes) -> str:
    """A ``v1a,<base64 Ed25519 signature>`` signature entry."""
    return "v1a," + base64.b64encode(private_key.sign(_prefix(msg_id, timestamp) + body)).decode()


def _parse_entries(header: str, name: str) -> dict[str, list[bytes]]:
    """Distinct signatures by version, in header order; malformed entries are dropped, unknown
    versions ignored."""
    tokens = header.split()
    if len(tokens) > _MAX_ENTRIES:
        raise MalformedHeader(f"{name} has {len(tokens)} entries; at most {_MAX_ENTRIES} allowed")
    found: dict[str, list[bytes]] = {version: [] for version in _SIG_LENGTHS}
    well_formed = False
    for token in tokens:
        version, _, text = token.partition(",")
        if not text:
            continue
        # The versions we know first: they always match _VERSION, so only the rest pay the
        # regex (this runs per delivery).
        size = _SIG_LENGTHS.get(version)
        if size is not None:
            if (raw := strict_b64decode(text, size)) is not None:
                if raw not in found[version]:  # a repeated entry would cost a check per key
                    found[version].append(raw)
                well_formed = True
        elif _VERSION.fullmatch(version):
            well_formed = True  # a newer version: not ours to judge, but the header is sane
    if not well_formed:
        raise MalformedHeader(f"{name} holds no well-formed 'version,base64' entry")
    return found


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise MissingHeader(f"missing or empty {name} header")
    return value


class StandardWebhooksVerifier:
    """Verifies Standard Webhooks deliveries against several secrets and/or Ed25519 public keys."""

    def __init__(
        self,
        *,
        secrets: Sequence[bytes] = (),
        public_keys: Sequence[Ed25519PublicKey] = (),
        tolerance: int = 300,
        id_header: str = "webhook-id",
        timestamp_header: str = "webhook-timestamp",
        signature_header: str = "webhook-signature",
    ) -> None:
        if not secrets and not public_keys:
            raise ValueError("a Standard Webhooks source needs at least one secret or public key")
        if any(not secret for secret in secrets):
            raise ValueError("webhook secrets must not be empty")
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 seconds, not {tolerance}")
        self._macs = tuple(hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets)
        self._public_keys = tuple(VerifyingKey(key) for key in public_keys)
        self._tolerance = tolerance
        self._names = (id_header.lower(), timestamp_header.lower(), signature_header.lower())

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return self._names

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        id_name, ts_name, sig_name = self._names
        sig_header = headers.get(sig_name)
        if not sig_header:
            raise MissingSignature(f"missing or empty {sig_name} header")
        msg_id = _required(headers, id_name)
        ts_text = _required(headers, ts_name)
        if not EVENT_ID.fullmatch(msg_id):
            raise MalformedHeader(f"{id_name} must be 1-256 printable ASCII characters, no spaces")
        if not TIMESTAMP.fullmatch(ts_text):
            raise MalformedHeader(f"{ts_name} must be whole epoch seconds in plain ASCII digits")
        timestamp = int(ts_text)
        found = _parse_entries(sig_header, sig_name)
        key_index = self._match(found, _prefix(msg_id, timestamp), body)

        check_window(ts_name, timestamp, now, self._tolerance)
        return Verified(event_id=msg_id, key_index=key_index, timestamp=timestamp)

    def _match(self, found: dict[str, list[bytes]], prefix: bytes, body: bytes) -> int:
        # Outer loop over keys, so the reported index does not depend on the order of the entries.
        tried = False
        if self._macs and found["v1"]:
            tried = True
            for index, keyed in enumerate(self._macs):
                expected = _hmac_v1(keyed, prefix, body)
                if any(hmac.compare_digest(expected, sig) for sig in found["v1"]):
                    return index
        if self._public_keys and found["v1a"]:
            tried = True
            # Each (entry, key) pair is an Ed25519 verification that hashes the whole body: one
            # entry per key, and one spare for a sender mid-rotation, is all a sender needs.
            limit = len(self._public_keys) + 1
            if len(found["v1a"]) > limit:
                raise MalformedHeader(
                    f"{self._names[2]} has {len(found['v1a'])} distinct v1a entries; at most "
                    f"{limit} (one per configured public key, plus one)"
                )
            content = prefix + body  # built once; Ed25519 needs the message in one piece
            for index, key in enumerate(self._public_keys):
                for sig in found["v1a"]:
                    if key.verifies(sig, content):
                        return len(self._macs) + index
        if tried:
            raise SignatureMismatch("no signature entry matches any configured secret or key")
        raise MissingSignature("no signature entry of a version this source has a key for")
