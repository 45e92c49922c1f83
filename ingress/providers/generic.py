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

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.generic_hmac import EventIdRule, GenericHmacVerifier, parse_pointer, sign
from ingress.schemes.token import BasicAuth, HeaderToken, TokenVerifier
from schemas.config import (
    ApiKeySource,
    BasicAuthSource,
    ConfigError,
    GenericHmacSource,
    SourceSettings,
)

DEFAULT_TOLERANCE = 300

EventIdSource = GenericHmacSource | BasicAuthSource | ApiKeySource


def event_id_rule(source: EventIdSource, key: str) -> EventIdRule:
    pointer = source.event_id_pointer
    try:
        tokens = None if pointer is None else parse_pointer(pointer)
    except ValueError as exc:
        raise ConfigError(f"{key}.event_id_pointer", str(exc)) from None
    return EventIdRule(source.event_id_header, tokens)


def _no_tolerance(source: SourceSettings, key: str) -> None:
    if source.tolerance is not None:
        raise ConfigError(
            f"{key}.tolerance", f"{source.provider} signs no timestamp; remove the tolerance"
        )


def build_hmac(source: GenericHmacSource, key: str) -> GenericHmacVerifier:
    require_keys(source, key, source.secrets)
    if source.timestamp_header is None:
        _no_tolerance(source, key)
    return GenericHmacVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        header=source.header,
        prefix=source.prefix,
        algorithm=source.algorithm,
        encoding=source.encoding,
        timestamp_header=source.timestamp_header,
        separator=source.separator,
        tolerance=source.tolerance or DEFAULT_TOLERANCE,
        event_id=event_id_rule(source, key),
    )


def build_basic(source: BasicAuthSource, key: str) -> TokenVerifier:
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


def build_api_key(source: ApiKeySource, key: str) -> TokenVerifier:
    require_keys(source, key, source.secrets)
    _no_tolerance(source, key)
    rule = event_id_rule(source, key)
    return TokenVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        location=HeaderToken(source.header),
        event_id=rule,
        kept_headers=() if rule.header is None else (rule.header,),
    )


def _secret(source: SourceSettings) -> str:
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no secret to sign with")
    return source.secrets[0].reveal()


def _base_headers(source: EventIdSource, event_id: str) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if source.event_id_header is not None:
        headers[source.event_id_header] = event_id
    return headers


def sign_hmac(
    source: GenericHmacSource, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """``event_id`` is sent in ``event_id_header`` when one is configured."""
    headers = _base_headers(source, event_id)
    if source.timestamp_header is not None:
        headers[source.timestamp_header] = str(timestamp)
    headers[source.header] = sign(
        _secret(source).encode(),
        body,
        algorithm=source.algorithm,
        encoding=source.encoding,
        prefix=source.prefix,
        timestamp=None if source.timestamp_header is None else timestamp,
        separator=source.separator,
    )
    return Outgoing(url, headers, body)


def sign_basic(
    source: BasicAuthSource, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    headers = _base_headers(source, event_id)
    headers["authorization"] = "Basic " + base64.b64encode(_secret(source).encode()).decode()
    return Outgoing(url, headers, body)


def sign_api_key(
    source: ApiKeySource, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    headers = _base_headers(source, event_id)
    headers[source.header] = _secret(source)
    return Outgoing(url, headers, body)


GENERIC_HMAC = Provider("generic-hmac", "hmac", build_hmac, sign_hmac)
BASIC_AUTH = Provider("basic-auth", "basic-auth", build_basic, sign_basic)
API_KEY = Provider("api-key", "api-key", build_api_key, sign_api_key)
