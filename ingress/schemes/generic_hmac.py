"""A configurable HMAC, for senders with no provider of their own; and the configurable event id.

The signature header holds ``{prefix}{digest}`` (e.g. ``sha256=`` + hex), the digest being the
HMAC (SHA-1, SHA-256 or SHA-512) of the raw body, or, with a timestamp header, of
``{timestamp}{separator}{body}``; hex is accepted in either case, base64 only canonically. With a
timestamp the window applies, checked after the signature as in every scheme here. Timestamps are
whole epoch seconds (a sender using milliseconds needs its own provider).

Event id (:class:`EventIdRule`, also used by ``basic-auth`` and ``api-key``): a header, or a JSON
pointer (RFC 6901) into the body read after verification, else the body's digest. A malformed id
header is refused (400), as in :mod:`ingress.schemes.body_hmac`. A body value that is not a string
or integer falls back to the digest: the body is the sender's, and a verified delivery is not
refused for its shape. An id from the header is not covered by the signature, so a generic HMAC
delivery that takes its id from there is keyed (de-duplicated) by the body's digest instead
(``Verified.dedup_id``; the timestamp is left out, so a retry signed anew is still a duplicate).
``basic-auth`` and ``api-key`` sign nothing: whoever holds the credential chooses every id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ingress.errors import (
    MalformedHeader,
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
)
from ingress.schemes.base import Verified, body_digest_id, check_window
from ingress.schemes.parsing import EVENT_ID, TIMESTAMP, json_document, strict_b64decode

ALGORITHMS = ("sha1", "sha256", "sha512")
Encoding = Literal["hex", "base64"]
ENCODINGS: tuple[Encoding, ...] = ("hex", "base64")


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """A JSON pointer's reference tokens, unescaped; ValueError if it is not one (RFC 6901)."""
    if not pointer.startswith("/"):
        raise ValueError("a JSON pointer starts with '/', e.g. /data/id")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if re.search(r"~(?![01])", token):
            raise ValueError("'~' in a JSON pointer must be followed by 0 or 1")
    # ~1 first: '~01' is the text '~1', not '/'.
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def resolve(document: Any, tokens: Sequence[str]) -> Any:
    """The value at a parsed pointer, or None when a step does not exist."""
    for token in tokens:
        if isinstance(document, dict):
            if token not in document:
                return None
            document = document[token]
        elif isinstance(document, list):
            # Array indexes: '0' or no leading zero (RFC 6901); '-' names no element.
            if not re.fullmatch(r"0|[1-9][0-9]{0,9}", token) or int(token) >= len(document):
                return None
            document = document[int(token)]
        else:
            return None
    return document


@dataclass(frozen=True, slots=True)
class EventIdRule:
    """Where a verified delivery's event id comes from: ``header``, else ``pointer``, else the
    body's digest."""

    header: str | None = None
    pointer: tuple[str, ...] | None = None

    def __call__(self, headers: Mapping[str, str], body: bytes) -> str:
        if self.header is not None:
            value = headers.get(self.header)
            if value:
                if not EVENT_ID.fullmatch(value):
                    raise MalformedHeader(
                        f"{self.header} must be 1-256 printable ASCII characters, no spaces"
                    )
                return value
        if self.pointer is not None:
            value = resolve(json_document(body), self.pointer)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if isinstance(value, str) and EVENT_ID.fullmatch(value):
                return value
        return body_digest_id(body)

    def from_header(self, headers: Mapping[str, str]) -> bool:
        """Whether the id of a delivery with ``headers`` is the (unsigned) header's."""
        return self.header is not None and bool(headers.get(self.header))


def _decode(text: str, encoding: Encoding, size: int) -> bytes | None:
    if not text.isascii():
        return None
    if encoding == "hex":
        if len(text) != 2 * size or not re.fullmatch(r"[0-9a-fA-F]+", text):
            return None
        return bytes.fromhex(text)
    return strict_b64decode(text, size)


def sign(
    secret: bytes,
    body: bytes,
    *,
    algorithm: str = "sha256",
    encoding: Encoding = "hex",
    prefix: str = "",
    timestamp: int | None = None,
    separator: str = ".",
) -> str:
    """The signature header's value."""
    signed = body if timestamp is None else f"{timestamp}{separator}".encode() + body
    digest = hmac.digest(secret, signed, algorithm)
    return prefix + (digest.hex() if encoding == "hex" else base64.b64encode(digest).decode())


class GenericHmacVerifier:
    """Verifies ``{prefix}{HMAC}`` in one header against several secrets (``key_index`` = index)."""

    def __init__(
        self,
        *,
        secrets: Sequence[bytes],
        header: str,
        prefix: str = "",
        algorithm: str = "sha256",
        encoding: Encoding = "hex",
        timestamp_header: str | None = None,
        separator: str = ".",
        tolerance: int = 300,
        event_id: EventIdRule = EventIdRule(),
    ) -> None:
        if not secrets or any(not secret for secret in secrets):
            raise ValueError("a generic HMAC source needs at least one secret, none empty")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        if encoding not in ("hex", "base64"):
            raise ValueError("encoding must be hex or base64")
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 seconds, not {tolerance}")
        self._macs = tuple(hmac.new(secret, digestmod=algorithm) for secret in secrets)
        self._size = hashlib.new(algorithm).digest_size
        self._header = header.lower()
        self._prefix = prefix
        self._encoding: Encoding = encoding
        self._ts_header = None if timestamp_header is None else timestamp_header.lower()
        self._separator = separator.encode()
        self._tolerance = tolerance
        self._event_id = event_id
        kept = (self._header, self._ts_header, event_id.header)
        self._kept = tuple(dict.fromkeys(h for h in kept if h is not None))

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return self._kept

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        value = headers.get(self._header)
        if not value:
            raise MissingSignature(f"missing or empty {self._header} header")
        timestamp: int | None = None
        prefix = b""
        if self._ts_header is not None:
            ts_text = headers.get(self._ts_header)
            if not ts_text:
                raise MissingHeader(f"missing or empty {self._ts_header} header")
            if not TIMESTAMP.fullmatch(ts_text):
                raise MalformedHeader(
                    f"{self._ts_header} must be whole epoch seconds in plain ASCII digits"
                )
            timestamp = int(ts_text)
            prefix = ts_text.encode() + self._separator
        digest = None
        if value.startswith(self._prefix):
            digest = _decode(value[len(self._prefix) :], self._encoding, self._size)
        if digest is None:
            raise MalformedHeader(
                f"{self._header} must be {self._prefix!r} + the {self._encoding} HMAC"
            )
        key_index = self._match(digest, prefix, body)
        if timestamp is not None and self._ts_header is not None:
            check_window(self._ts_header, timestamp, now, self._tolerance)
        unsigned_id = self._event_id.from_header(headers)
        return Verified(
            self._event_id(headers, body),
            key_index,
            timestamp,
            dedup_id=body_digest_id(body) if unsigned_id else None,
        )

    def _match(self, digest: bytes, prefix: bytes, body: bytes) -> int:
        for index, keyed in enumerate(self._macs):
            mac = keyed.copy()
            mac.update(prefix)
            mac.update(body)
            if hmac.compare_digest(mac.digest(), digest):
                return index
        raise SignatureMismatch("the signature matches no configured secret")
