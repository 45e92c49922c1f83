"""Twilio: ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + sorted form params)).

What is signed, as the ``twilio`` library's ``RequestValidator`` computes it:

- a form body (``application/x-www-form-urlencoded``): the full URL Twilio called, then for each
  distinct parameter name in sorted order, each of its distinct values in sorted order, as
  ``name + value`` with no delimiter (a repeated identical pair counts once);
- a JSON body: Twilio adds ``bodySHA256=<hex sha256(body)>`` to the URL's query and signs the URL
  alone; the body must then hash to that value.

The URL is the one Twilio called, which behind a proxy is not the one the ingress sees: a source's
``public_url`` gives the scheme, host and path, and the query string comes from the request.
Twilio has signed URLs both with and without the default port (``:443``/``:80``), so both spellings
are tried, like the library does. No timestamp is signed: de-duplication is the only replay
defence.

Shared-key signing (Twilio's Webhooks configuration API, public beta): an
``X-Twilio-Webhooks-Signature-Settings: key=..,algorithm=HMAC_SHA256`` header switches the hash to
SHA-256 and the key to the shared key's secret, listed among the source's secrets.

Event id: Twilio's own ``I-Twilio-Idempotency-Token`` header, which Twilio sends with its
webhook requests and keeps the same when it retries one (unconfirmed against Twilio's reference:
this is how receivers in the wild de-duplicate Twilio; the fallbacks below stay for requests
without it). Like GitHub's and Shopify's id headers it is not covered by the signature, and
neither are the form's field boundaries (``name + value`` concatenated: text moved from one field
to the next signs the same). So the event id is not the de-duplication key: the raw record is
keyed by ``Verified.dedup_id``, the SHA-256 of the signed string itself (the URL spelling that
verified, then the parameters), which a replayer cannot change without breaking the signature.
Without the header (or with one that is not 1-256 printable ASCII characters), an id derived from
the form: ``{sid}:{status}``, taking the first status field present of ``MessageStatus``,
``SmsStatus``, ``RecordingStatus``, ``CallStatus`` with its SID (``MessageSid``/``SmsSid``,
``RecordingSid``, ``CallSid``), plus ``:{SequenceNumber}`` when a call status callback carries
one. Otherwise (JSON bodies, other products' forms) the SHA-256 of the signed URL and the body: a
retry posts the same bytes to the same URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit

from ingress.errors import MalformedHeader, MissingSignature, SignatureMismatch
from ingress.schemes.base import Verified, body_digest_id
from ingress.schemes.parsing import EVENT_ID, strict_b64decode

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
IDEMPOTENCY_HEADER = "i-twilio-idempotency-token"
BODY_HASH_PARAM = "bodySHA256"
_ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
# Twilio's forms have a few dozen fields; a bound keeps an unverified body's parse and sort cheap.
MAX_FIELDS = 1000
_AUTHORITY = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<netloc>[^/?#]*)(?P<rest>.*)", re.S
)
_DEFAULT_PORTS = {"https": "443", "http": "80"}
#: (status field, SID fields) in order of precedence, as ``streams.normalizers.twilio`` reads them.
STATUS_SIDS = (
    ("MessageStatus", ("MessageSid", "SmsSid")),
    ("SmsStatus", ("MessageSid", "SmsSid")),
    ("RecordingStatus", ("RecordingSid",)),
    ("CallStatus", ("CallSid",)),
)


def check_public_url(url: str) -> str:
    """``url`` if it is a usable ``public_url`` (http(s), a host, nothing after the path)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("must have no query or fragment: the query comes from each request")
    if "@" in parts.netloc:
        raise ValueError("must not hold credentials")
    return url


def signed_url(public_url: str | None, request_url: str) -> str:
    """The URL Twilio called: ``public_url`` with the request's query string, or the request URL."""
    if public_url is None:
        return request_url
    query = request_url.partition("?")[2].partition("#")[0]
    return f"{public_url}?{query}" if query else public_url


def port_variants(url: str) -> tuple[str, ...]:
    """``url`` and its other spelling: without its port if it has one, else with the default."""
    found = _AUTHORITY.fullmatch(url)
    if found is None:
        return (url,)
    scheme, netloc, rest = found["scheme"], found["netloc"], found["rest"]
    userinfo, at, hostport = netloc.rpartition("@")
    close = hostport.rfind("]")  # an IPv6 literal: its colons are not the port's
    host, colon, _ = hostport[close + 1 :].partition(":")
    host = hostport[: close + 1] + host
    if colon:
        other = f"{scheme}://{userinfo}{at}{host}{rest}"
    elif scheme.lower() in _DEFAULT_PORTS:
        other = f"{scheme}://{userinfo}{at}{host}:{_DEFAULT_PORTS[scheme.lower()]}{rest}"
    else:
        return (url,)
    return (url, other)


def form_pairs(body: bytes) -> list[tuple[str, str]] | None:
    """The body's form fields, or None when there are more than :data:`MAX_FIELDS`."""
    try:
        return parse_qsl(
            body.decode("utf-8", "replace"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # too many fields
        return None


def params_text(pairs: Sequence[tuple[str, str]]) -> str:
    """What follows the URL in the signed string: distinct names sorted, each one's distinct
    values sorted, as ``name + value`` (the ``twilio`` library's ``compute_signature``)."""
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def sign(
    token: bytes, url: str, pairs: Sequence[tuple[str, str]] = (), algorithm: str = "HMAC_SHA1"
) -> str:
    """The ``X-Twilio-Signature`` value for a request to ``url`` with form ``pairs``."""
    mac = hmac.new(token, (url + params_text(pairs)).encode("utf-8"), _ALGORITHMS[algorithm])
    return base64.b64encode(mac.digest()).decode()


def _algorithm(settings: str | None) -> str:
    # As the library reads it: the first non-empty ``algorithm=``; none means SHA-1.
    for part in (settings or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def _decode_signature(text: str, size: int) -> bytes:
    raw = strict_b64decode(text, size)
    if raw is None:
        raise MalformedHeader(f"{SIGNATURE_HEADER} must be the base64 of a {size}-byte HMAC")
    return raw


def _query_value(url: str, name: str) -> str | None:
    query = url.partition("?")[2].partition("#")[0]
    for key, value in parse_qsl(query, keep_blank_values=True, max_num_fields=None):
        if key == name:
            return value  # the first, as the library's parse_qs(...)[name][0]
    return None


def event_id(
    pairs: Sequence[tuple[str, str]] | None, url: str, body: bytes, token: str | None = None
) -> str:
    """Twilio's idempotency ``token``; else ``{sid}:{status}[:{SequenceNumber}]`` from a form;
    else the digest of URL and body."""
    if token is not None and EVENT_ID.fullmatch(token):
        return token
    if pairs is not None:
        counts: dict[str, int] = {}
        for name, _ in pairs:
            counts[name] = counts.get(name, 0) + 1
        # A repeated field is ambiguous: not a key to de-duplicate on.
        fields = {name: value for name, value in pairs if counts[name] == 1}
        for status_field, sid_fields in STATUS_SIDS:
            status = fields.get(status_field)
            if not status:
                continue
            sid = next((fields[f] for f in sid_fields if fields.get(f)), None)
            parts = [sid, status, fields.get("SequenceNumber")]
            candidate = ":".join(p for p in parts if p)
            if sid and EVENT_ID.fullmatch(candidate):
                return candidate
            break
    return body_digest_id(url.encode("utf-8", "replace") + b"\n" + body)


class TwilioVerifier:
    """Verifies Twilio requests against several auth tokens (``key_index`` = token index)."""

    def __init__(self, *, tokens: Sequence[bytes], public_url: str | None = None) -> None:
        if not tokens:
            raise ValueError("a Twilio source needs at least one auth token")
        if any(not token for token in tokens):
            raise ValueError("auth tokens must not be empty")
        self._tokens = tuple(tokens)
        self._public_url = None if public_url is None else check_public_url(public_url)

    @property
    def kept_headers(self) -> tuple[str, ...]:
        return (SIGNATURE_HEADER, SETTINGS_HEADER)

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        sig_text = headers.get(SIGNATURE_HEADER)
        if not sig_text:
            raise MissingSignature(f"missing or empty {SIGNATURE_HEADER} header")
        digest = _ALGORITHMS.get(_algorithm(headers.get(SETTINGS_HEADER)))
        if digest is None:
            raise MissingSignature(
                f"{SETTINGS_HEADER} names an algorithm other than HMAC_SHA1 and HMAC_SHA256"
            )
        signature = _decode_signature(sig_text, hashlib.new(digest).digest_size)
        target = signed_url(self._public_url, url)
        body_hash = _query_value(target, BODY_HASH_PARAM)
        pairs: list[tuple[str, str]] | None = None
        if body_hash is None:
            pairs = form_pairs(body)
            if pairs is None:
                raise SignatureMismatch(f"the form has more than {MAX_FIELDS} fields")
        suffix = params_text(pairs or ()).encode("utf-8")
        key_index, signed = self._match(signature, port_variants(target), suffix, digest)
        if body_hash is not None:
            # The URL, bodySHA256 included, is authentic now; the body must be the one hashed.
            actual = hashlib.sha256(body).hexdigest().encode()
            if not hmac.compare_digest(actual, body_hash.encode("utf-8", "replace")):
                raise SignatureMismatch(f"the body does not match the signed {BODY_HASH_PARAM}")
        token = headers.get(IDEMPOTENCY_HEADER)
        return Verified(
            event_id=event_id(pairs, target, body, token),
            key_index=key_index,
            dedup_id="sha256:" + hashlib.sha256(signed + suffix).hexdigest(),
        )

    def _match(
        self, signature: bytes, urls: Sequence[str], suffix: bytes, digest: str
    ) -> tuple[int, bytes]:
        """The index of the token that signed, and the URL spelling it signed."""
        for index, token in enumerate(self._tokens):
            for candidate in urls:
                url = candidate.encode("utf-8", "replace")
                mac = hmac.new(token, url, digest)
                mac.update(suffix)
                if hmac.compare_digest(mac.digest(), signature):
                    return index, url
        raise SignatureMismatch("the signature matches no configured auth token")
