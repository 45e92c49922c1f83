"""Configurable providers for senders without an adapter of their own.

``generic-hmac``: an HMAC of the body (or of ``{timestamp}{separator}{body}``) in one header.
Options: ``header`` (required), ``prefix`` (e.g. ``sha256=``; default none), ``algorithm``
(``sha1``, ``sha256``, ``sha512``; default ``sha256``), ``encoding`` (``hex``, ``base64``;
default ``hex``), ``timestamp_header`` (optional; then ``separator``, default ``.``, and the
``tolerance``, default 300 s, apply). Secrets: the shared secrets' UTF-8 bytes.

``basic-auth``: secrets are ``user:password`` strings, matched against the whole decoded
``Authorization: Basic`` credentials. ``api-key``: option ``header`` (default ``x-api-key``),
secrets are the accepted keys. Neither signs the body or a time (``tolerance`` is refused), and
neither credential is kept on the raw record.

All three: the event id from the ``event_id_header`` option, else the ``event_id_pointer``
option (a JSON pointer into the body, e.g. ``/data/id``), else the body's digest.
"""

from __future__ import annotations

import base64
import re

from ingress.providers.base import Outgoing, Provider, option, require_keys
from ingress.schemes.generic_hmac import (
    ALGORITHMS,
    ENCODINGS,
    EventIdRule,
    GenericHmacVerifier,
    parse_pointer,
    sign,
)
from ingress.schemes.token import BasicAuth, HeaderToken, TokenVerifier
from schemas.config import ConfigError, SourceSettings

DEFAULT_TOLERANCE = 300
DEFAULT_API_KEY_HEADER = "x-api-key"
_EVENT_ID_OPTIONS = frozenset({"event_id_header", "event_id_pointer"})
# An HTTP field name (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")


def _header(source: SourceSettings, key: str, name: str) -> str | None:
    value: str | None = option(source, key, name, str)
    if value is not None and not _HEADER_NAME.fullmatch(value):
        raise ConfigError(f"{key}.{name}", f"{value[:64]!r} is not an HTTP header name")
    return None if value is None else value.lower()


def _choice(
    source: SourceSettings, key: str, name: str, choices: tuple[str, ...], default: str
) -> str:
    value: str = option(source, key, name, str, default)
    if value not in choices:
        raise ConfigError(f"{key}.{name}", f"must be one of {', '.join(choices)}")
    return value


def event_id_rule(source: SourceSettings, key: str) -> EventIdRule:
    pointer = option(source, key, "event_id_pointer", str)
    try:
        tokens = None if pointer is None else parse_pointer(pointer)
    except ValueError as exc:
        raise ConfigError(f"{key}.event_id_pointer", str(exc)) from None
    return EventIdRule(_header(source, key, "event_id_header"), tokens)


def _no_tolerance(source: SourceSettings, key: str) -> None:
    if source.tolerance is not None:
        raise ConfigError(
            f"{key}.tolerance", f"{source.provider} signs no timestamp; remove the tolerance"
        )


def build_hmac(source: SourceSettings, key: str) -> GenericHmacVerifier:
    require_keys(source, key, source.secrets)
    header = _header(source, key, "header")
    if header is None:
        raise ConfigError(f"{key}.header", "is required: the header that carries the signature")
    timestamp_header = _header(source, key, "timestamp_header")
    if timestamp_header is None:
        _no_tolerance(source, key)
        if "separator" in source.options:
            raise ConfigError(f"{key}.separator", "applies only with a timestamp_header")
    return GenericHmacVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        header=header,
        prefix=option(source, key, "prefix", str, ""),
        algorithm=_choice(source, key, "algorithm", ALGORITHMS, "sha256"),
        encoding="hex" if _choice(source, key, "encoding", ENCODINGS, "hex") == "hex" else "base64",
        timestamp_header=timestamp_header,
        separator=option(source, key, "separator", str, "."),
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
        event_id=event_id_rule(source, key),
    )


def build_basic(source: SourceSettings, key: str) -> TokenVerifier:
    require_keys(source, key, source.secrets)
    _no_tolerance(source, key)
    for i, secret in enumerate(source.secrets):
        if ":" not in secret.reveal():
            raise ConfigError(f"{key}.secrets[{i}]", "must be 'user:password'")
    rule = event_id_rule(source, key)
    return TokenVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        location=BasicAuth(),
        event_id=rule,
        kept_headers=() if rule.header is None else (rule.header,),
    )


def build_api_key(source: SourceSettings, key: str) -> TokenVerifier:
    require_keys(source, key, source.secrets)
    _no_tolerance(source, key)
    rule = event_id_rule(source, key)
    return TokenVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        location=HeaderToken(_header(source, key, "header") or DEFAULT_API_KEY_HEADER),
        event_id=rule,
        kept_headers=() if rule.header is None else (rule.header,),
    )


def _secret(source: SourceSettings) -> str:
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    return source.secrets[0].reveal()


def _base_headers(source: SourceSettings, event_id: str) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    id_header = source.options.get("event_id_header")
    if isinstance(id_header, str):
        headers[id_header.lower()] = event_id
    return headers


def sign_hmac(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` is sent in ``event_id_header`` when one is configured."""
    options = source.options
    header = options.get("header")
    if not isinstance(header, str):
        raise ValueError(f"source {source.name!r} names no signature header (option header)")
    headers = _base_headers(source, event_id)
    timestamp_header = options.get("timestamp_header")
    if isinstance(timestamp_header, str):
        headers[timestamp_header.lower()] = str(timestamp)
    headers[header.lower()] = sign(
        _secret(source).encode(),
        body,
        algorithm=options.get("algorithm", "sha256"),
        encoding=options.get("encoding", "hex"),
        prefix=options.get("prefix", ""),
        timestamp=timestamp if isinstance(timestamp_header, str) else None,
        separator=options.get("separator", "."),
    )
    return Outgoing(url, headers, body)


def sign_basic(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    headers = _base_headers(source, event_id)
    headers["authorization"] = "Basic " + base64.b64encode(_secret(source).encode()).decode()
    return Outgoing(url, headers, body)


def sign_api_key(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    headers = _base_headers(source, event_id)
    headers[str(source.options.get("header", DEFAULT_API_KEY_HEADER)).lower()] = _secret(source)
    return Outgoing(url, headers, body)


GENERIC_HMAC = Provider(
    "generic-hmac",
    "hmac",
    build_hmac,
    sign_hmac,
    options=_EVENT_ID_OPTIONS
    | {"header", "prefix", "algorithm", "encoding", "timestamp_header", "separator"},
)
BASIC_AUTH = Provider(
    "basic-auth", "basic-auth", build_basic, sign_basic, options=_EVENT_ID_OPTIONS
)
API_KEY = Provider(
    "api-key", "api-key", build_api_key, sign_api_key, options=_EVENT_ID_OPTIONS | {"header"}
)
