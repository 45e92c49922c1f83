"""Unsigned deliveries authenticated by a shared secret the sender presents as is.

Where the secret travels is a :class:`TokenVerifier` parameter:

- :class:`UrlToken`: in the callback URL, as the last path segment (``/webhooks/{source}/{token}``)
  or a query parameter (Luma AI: it signs nothing, the callback URL is the credential);
- :class:`HeaderToken`: a header such as ``X-Api-Key``;
- :class:`BasicAuth`: ``Authorization: Basic base64(user:password)``.

Nothing about the body is proven, only that the sender knows the secret, and nothing is timestamped,
so de-duplication is the only replay defence. Comparison is constant-time in the presented value's
length too: both sides are hashed with SHA-256 first, and every configured secret is compared.

The credential is never kept on the raw record (``kept_headers`` names only the event id header):
Kafka would otherwise hold a working credential. For the same reason the ingress logs no URLs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from ingress.errors import MalformedHeader, MissingSignature, SignatureMismatch
from ingress.schemes.base import Verified

#: The ingress's route for a token in the path (``ingress/app.py``): ``/webhooks/{source}/{token}``.
ROUTE_SEGMENT = "webhooks"

#: Derives a verified delivery's event id from its headers and body.
EventIdFn = Callable[[Mapping[str, str], bytes], str]


def header_bytes(value: str) -> bytes:
    """The bytes a header value arrived as: ASGI servers decode them as latin-1."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


class SecretSet:
    """Constant-time membership of a presented credential among the configured secrets."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        if not secrets or any(not secret for secret in secrets):
            raise ValueError("at least one secret is needed, none of them empty")
        # Hashing both sides gives equal-length inputs to compare_digest, which is then
        # constant-time whatever the presented value's length.
        self._digests = tuple(hashlib.sha256(secret).digest() for secret in secrets)

    def index(self, presented: bytes) -> int | None:
        """The index of the secret equal to ``presented``, or None; every secret is compared."""
        digest = hashlib.sha256(presented).digest()
        found = None
        for index, expected in enumerate(self._digests):
            if hmac.compare_digest(digest, expected) and found is None:
                found = index
        return found


@dataclass(frozen=True, slots=True)
class UrlToken:
    """The token in the URL: the segment after ``/webhooks/{source}/``, or a query parameter."""

    source: str
    param: str = "token"

    def candidates(self, headers: Mapping[str, str], url: str) -> list[bytes]:
        try:
            parts = urlsplit(url)
        except ValueError:  # an unparseable netloc; the ingress's own URLs never are
            return []
        found: list[bytes] = []
        segments = parts.path.split("/")
        if len(segments) >= 3 and segments[-3:-1] == [ROUTE_SEGMENT, self.source]:
            found.append(segments[-1].encode("utf-8", "replace"))
        for name, value in parse_qsl(parts.query, keep_blank_values=True, max_num_fields=None):
            if name == self.param:
                found.append(value.encode("utf-8", "replace"))
                break  # the first, as web frameworks read one value
        return [token for token in found if token]

    def describe(self) -> str:
        return f"the URL's last path segment or its {self.param!r} query parameter"


@dataclass(frozen=True, slots=True)
class HeaderToken:
    """The token as a header's whole value."""

    header: str

    def candidates(self, headers: Mapping[str, str], url: str) -> list[bytes]:
        value = headers.get(self.header)
        return [header_bytes(value)] if value else []

    def describe(self) -> str:
        return f"the {self.header} header"


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """``user:password`` from ``Authorization: Basic ...`` (RFC 7617)."""

    def candidates(self, headers: Mapping[str, str], url: str) -> list[bytes]:
        value = headers.get("authorization")
        if not value:
            return []
        scheme, _, credentials = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return []  # another scheme (Bearer, Digest): no credential of our kind
        credentials = credentials.strip()
        try:
            if not credentials.isascii():
                raise binascii.Error
            decoded = base64.b64decode(credentials, validate=True)
        except binascii.Error:
            raise MalformedHeader(
                "authorization must be 'Basic ' + base64(user:password)"
            ) from None
        if b":" not in decoded:
            raise MalformedHeader("authorization: the decoded credentials hold no ':'")
        return [decoded]

    def describe(self) -> str:
        return "an Authorization: Basic header"


Location = UrlToken | HeaderToken | BasicAuth


class TokenVerifier:
    """Accepts a delivery whose presented secret equals a configured one (``key_index`` = index)."""

    def __init__(
        self,
        *,
        secrets: Sequence[bytes],
        location: Location,
        event_id: EventIdFn,
        kept_headers: tuple[str, ...] = (),
    ) -> None:
        self._secrets = SecretSet(secrets)
        self._location = location
        self._event_id = event_id
        self._kept = kept_headers

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return self._kept

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        candidates = self._location.candidates(headers, url)
        if not candidates:
            raise MissingSignature(f"no credential in {self._location.describe()}")
        for presented in candidates:
            index = self._secrets.index(presented)
            if index is not None:
                return Verified(event_id=self._event_id(headers, body), key_index=index)
        raise SignatureMismatch("the credential matches no configured secret")
