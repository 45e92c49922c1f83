"""HMAC-SHA256 over the raw body alone (GitHub, PagerDuty, Shopify).

Nothing but the body is signed: no timestamp, so no window (dedup on the event id is the only
replay defence), and no id. The event id comes from a header the sender sets (GitHub
``X-GitHub-Delivery``, PagerDuty ``X-Webhook-Id``, Shopify ``X-Shopify-Event-Id`` then
``X-Shopify-Webhook-Id``), else the body's digest. Since the id header is not signed, it is read
only after the body verified, and a malformed one is refused rather than replaced: a proxy that
mangles it should be noticed, not papered over.

De-duplication cannot rest on an unsigned id: a captured delivery replayed under a fresh one
would be a new event. The raw record is keyed instead by ``Verified.dedup_id``, the SHA-256 of
the signed body, preceded by the ``dedup_headers`` (each value and a newline: a header value
holds no newline): the unsigned headers that tell apart distinct events with the same body, the
event's type (Shopify sends the bare resource, so ``orders/create`` and ``orders/updated`` may
carry the same bytes). A replay may change those, and is then another type of event; a sender's
retry sends the same body and type, and is dropped as it should be.

Header formats (:class:`SignatureFormat`): ``sha256=<hex>`` (GitHub), a comma list of
``v1=<hex>`` entries, one per active secret (PagerDuty), or bare base64 (Shopify).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ingress.errors import MalformedHeader, MissingSignature, SignatureMismatch
from ingress.schemes.base import Verified, body_digest_id
from ingress.schemes.parsing import EVENT_ID, strict_b64decode

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_OTHER_ENTRY = re.compile(r"[a-z][a-z0-9]{0,15}=[\x21-\x2b\x2d-\x7e]+")
# Each entry costs one HMAC per secret: bound what one forged header costs us.
_MAX_ENTRIES = 16


@dataclass(frozen=True, slots=True)
class SignatureFormat:
    """How the body's HMAC is written into its header."""

    encoding: Literal["hex", "base64"]
    #: Text before the digest: ``sha256=`` (GitHub), ``v1=`` (PagerDuty), none (Shopify).
    prefix: str = ""
    #: A comma list of entries; entries with another prefix are ignored (a newer version).
    several: bool = False

    def encode(self, digest: bytes) -> str:
        text = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return self.prefix + text

    def decode(self, text: str) -> bytes | None:
        """The digest in ``text`` (prefix removed), or ``None`` if not spelt canonically."""
        if self.encoding == "hex":
            return bytes.fromhex(text) if _HEX_SHA256.fullmatch(text) else None
        return strict_b64decode(text, hashlib.sha256().digest_size)


GITHUB = SignatureFormat("hex", "sha256=")
PAGERDUTY = SignatureFormat("hex", "v1=", several=True)
SHOPIFY = SignatureFormat("base64")


def sign(secret: bytes, body: bytes, form: SignatureFormat) -> str:
    """One signature entry (the whole header value for a single secret)."""
    return form.encode(hmac.digest(secret, body, hashlib.sha256))


def _parse(value: str, name: str, form: SignatureFormat) -> list[bytes]:
    entries = [e.strip(" ") for e in value.split(",")] if form.several else [value]
    if len(entries) > _MAX_ENTRIES:
        raise MalformedHeader(f"{name} has {len(entries)} entries; at most {_MAX_ENTRIES} allowed")
    digests: list[bytes] = []
    for entry in entries:
        if entry.startswith(form.prefix):
            digest = form.decode(entry.removeprefix(form.prefix))
            if digest is not None:
                digests.append(digest)
                continue
        elif form.several and _OTHER_ENTRY.fullmatch(entry):
            continue  # another version: not ours to judge
        what = "base64" if form.encoding == "base64" else "lower-case hex"
        raise MalformedHeader(f"{name} must be {form.prefix!r} + the {what} HMAC-SHA256")
    if not digests:
        raise MissingSignature(f"{name} holds no {form.prefix!r} signature")
    return digests


class BodyHmacVerifier:
    """Verifies a body-only HMAC against several secrets (``key_index`` = secret index)."""

    def __init__(
        self,
        *,
        secrets: Sequence[bytes],
        header: str,
        form: SignatureFormat,
        id_headers: Sequence[str] = (),
        extra_headers: Sequence[str] = (),
        dedup_headers: Sequence[str] = (),
    ) -> None:
        """``id_headers`` are tried in order for the event id; ``extra_headers`` are kept on the
        raw record for normalization (the signature header and the id headers always are);
        ``dedup_headers`` (kept too) are part of the de-duplication id with the body."""
        if not secrets:
            raise ValueError("a body HMAC source needs at least one secret")
        if any(not secret for secret in secrets):
            raise ValueError("webhook secrets must not be empty")
        self._keys = tuple(hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets)
        self._header = header.lower()
        self._form = form
        self._id_headers = tuple(h.lower() for h in id_headers)
        self._dedup_headers = tuple(h.lower() for h in dedup_headers)
        kept = (
            self._header,
            *self._id_headers,
            *(h.lower() for h in extra_headers),
            *self._dedup_headers,
        )
        self._kept = tuple(dict.fromkeys(kept))

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return self._kept

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        value = headers.get(self._header)
        if not value:
            raise MissingSignature(f"missing or empty {self._header} header")
        digests = _parse(value, self._header, self._form)
        key_index = self._match(digests, body)
        return Verified(
            event_id=self._event_id(headers, body),
            key_index=key_index,
            dedup_id=self._dedup_id(headers, body),
        )

    def _dedup_id(self, headers: Mapping[str, str], body: bytes) -> str:
        digest = hashlib.sha256()
        for name in self._dedup_headers:
            digest.update(headers.get(name, "").encode("utf-8", "replace") + b"\n")
        digest.update(body)
        return "sha256:" + digest.hexdigest()

    def _match(self, digests: list[bytes], body: bytes) -> int:
        for index, keyed in enumerate(self._keys):
            mac = keyed.copy()
            mac.update(body)
            expected = mac.digest()
            if any(hmac.compare_digest(expected, digest) for digest in digests):
                return index
        raise SignatureMismatch("no signature matches any configured secret")

    def _event_id(self, headers: Mapping[str, str], body: bytes) -> str:
        for name in self._id_headers:
            value = headers.get(name)
            if not value:
                continue
            if not EVENT_ID.fullmatch(value):
                raise MalformedHeader(f"{name} must be 1-256 printable ASCII characters, no spaces")
            return value
        return body_digest_id(body)
