"""Ed25519 public keys for verifying signatures: parsed from text or a JWKS, and a JWKS kept fresh.

fal.ai publishes its webhook keys as a JWKS (``{"keys": [{"kty": "OKP", "crv": "Ed25519",
"x": ...}]}``) and rotates them; :class:`JwksKeys` holds the configured static keys plus the last
fetched set, refreshes it in a background thread (never on a request's path), at most once per
``min_refresh_s``, and keeps the old keys when a fetch fails.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from email.message import Message
from typing import IO
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ingress.schemes.ed25519 import VerifyingKey

log = logging.getLogger("hookgate.ingress.jwks")

MAX_JWKS_BYTES = 65_536
# Every key costs one Ed25519 verification (~100 us) per request: bound what a JWKS costs us.
MAX_KEYS = 16


def _b64_any(text: str) -> bytes:
    """base64url or standard base64, padding optional; ValueError (without the text) if neither."""
    data = text.strip().rstrip("=")
    if not data.isascii():
        raise ValueError("not base64")
    data = data.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


def key_from_x(x: str) -> Ed25519PublicKey:
    """An Ed25519 public key from the 32 raw bytes in base64url (a JWK's ``x``) or base64."""
    raw = _b64_any(x)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this decodes to {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def decode_public_key(text: str) -> Ed25519PublicKey:
    """A configured key: the base64(url) of the 32 raw bytes, or a whole JWK as JSON text."""
    if text.lstrip().startswith("{"):
        try:
            jwk = json.loads(text)
        except ValueError:
            raise ValueError("looks like a JWK but is not valid JSON") from None
        return _jwk_key(jwk)
    return key_from_x(text)


def decode_signing_key(text: str) -> Ed25519PrivateKey:
    """A private key from the base64 of its 32-byte seed (for playing fal locally)."""
    raw = _b64_any(text)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 seed is 32 bytes, this decodes to {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _jwk_key(jwk: object) -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError('a JWK must have "kty": "OKP" and "crv": "Ed25519"')
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError('a JWK must have its key as a string "x"')
    return key_from_x(x)


def parse_jwks(document: bytes) -> tuple[Ed25519PublicKey, ...]:
    """The Ed25519 keys of a JWKS; other key types are skipped. ValueError if none is usable."""
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        raise ValueError("the JWKS is not valid JSON") from None
    entries = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise ValueError('the JWKS has no "keys" list')
    keys = []
    for entry in entries:
        try:
            keys.append(_jwk_key(entry))
        except ValueError:
            continue  # another kind of key (RSA, P-256): not one fal signs these webhooks with
    if not keys:
        raise ValueError("the JWKS holds no Ed25519 key")
    if len(keys) > MAX_KEYS:
        raise ValueError(f"the JWKS holds {len(keys)} Ed25519 keys; at most {MAX_KEYS} are used")
    return tuple(keys)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """The configured URL passed the https-or-loopback check; a redirect's target did not, so a
    redirect fails the fetch (the old keys stay) instead of being followed."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        # The target is not named: it is not ours, and may carry anything.
        raise urllib.error.HTTPError(
            req.full_url,
            code,
            "the JWKS URL answered with a redirect, which is not followed",
            headers,
            fp,
        )


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def http_get(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - the URL's scheme is checked at build
        url, headers={"Accept": "application/json", "User-Agent": "hookgate"}
    )
    with _OPENER.open(request, timeout=timeout) as response:
        data: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(data) > MAX_JWKS_BYTES:
        raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
    return data


def _where(url: str) -> str:
    # For logs: no user-info or query, in case an operator put a credential there.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


class JwksKeys:
    """fal's public keys: static ones, then those of a JWKS fetched in the background.

    A request never waits for a fetch. :meth:`refresh` starts one in a thread when none is in
    flight and the last one started at least ``min_refresh`` seconds ago; the verifier calls it
    when no key verifies (fal rotated: this request gets 401, fal's retry finds the new key) and
    when the fetched set is older than ``max_age``. A failed fetch is logged and keeps the keys
    already held, also past ``max_age``: stale keys beat no keys while fal's endpoint is down.
    """

    def __init__(
        self,
        url: str | None,
        *,
        static: Sequence[Ed25519PublicKey] = (),
        max_age: float = 86_400,
        min_refresh: float = 60,
        timeout: float = 10,
        monotonic: Callable[[], float] = time.monotonic,
        fetch: Callable[[str, float], bytes] | None = None,
    ) -> None:
        if url is None and not static:
            raise ValueError("fal needs static public keys, a JWKS URL, or both")
        self.url = url
        # Held ready to check (libsodium): converted once per key set, not per delivery.
        self._static = tuple(VerifyingKey(key) for key in static)
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._timeout = timeout
        self._monotonic = monotonic
        # Looked up at call time, not bound here, so tests can replace the module's http_get.
        self._fetch = fetch
        self._lock = threading.Lock()
        self._fetched: tuple[VerifyingKey, ...] = ()
        self._fetched_at: float | None = None
        self._last_start: float | None = None
        self._thread: threading.Thread | None = None
        #: Fetches started so far (tests and operators can see the refresh rate).
        self.fetches = 0

    @property
    def static_count(self) -> int:
        return len(self._static)

    def current(self) -> tuple[VerifyingKey, ...]:
        """Every key to try, static first; starts a background refresh if the set is stale."""
        fetched_at = self._fetched_at
        if self.url is not None and (
            fetched_at is None or self._monotonic() - fetched_at > self._max_age
        ):
            self.refresh()
        return self._static + self._fetched

    def refresh(self) -> bool:
        """Starts a background fetch unless one is in flight or rate-limited; True if started."""
        if self.url is None:
            return False
        with self._lock:
            now = self._monotonic()
            if self._thread is not None and self._thread.is_alive():
                return False
            if self._last_start is not None and now - self._last_start < self._min_refresh:
                return False
            self._last_start = now
            self.fetches += 1
            self._thread = threading.Thread(
                target=self._run, args=(self.url,), name="hookgate-fal-jwks", daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Waits for the fetch in flight, if any (tests; an orderly shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, url: str) -> None:
        try:
            keys = parse_jwks((self._fetch or http_get)(url, self._timeout))
        except Exception as exc:  # every failure keeps the old keys; none may kill the thread
            log.warning(
                "fal JWKS fetch failed; keeping the keys held",
                extra={
                    "jwks_url": _where(url),
                    "error": f"{type(exc).__name__}: {str(exc)[:200]}",
                    "keys_held": len(self._fetched),
                },
            )
            return
        verifying = tuple(VerifyingKey(key) for key in keys)
        with self._lock:
            self._fetched = verifying
            self._fetched_at = self._monotonic()
        log.info("fal JWKS fetched", extra={"jwks_url": _where(url), "keys": len(keys)})
