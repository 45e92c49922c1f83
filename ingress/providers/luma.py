"""Luma AI (Dream Machine) callbacks: unsigned, authenticated by a secret token in the URL.

Luma signs nothing; the ``callback_url`` given with each generation request is the credential.
Put a long random token in it, as the last path segment
(``https://hooks.example.com/webhooks/luma/{token}``) or a query parameter (option
``token_param``, default ``token``: ``.../webhooks/luma?token={token}``), and list the token(s)
as the source's secrets (several while a rotation is under way). Tokens must be 24+ URL-safe
characters (``A-Z a-z 0-9 - . _ ~``): they travel unencoded in the URL, so no proxy re-encodes
them and they compare byte for byte.

Event id: the body's ``id`` and ``state`` as ``{id}:{state}`` (Luma calls back once per state
change), read after the token matched; a body without both gives the body's digest. Nothing is
timestamped, so ``tolerance`` is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

from ingress.providers.base import Outgoing, Provider, require_keys
from ingress.schemes.base import body_digest_id
from ingress.schemes.parsing import EVENT_ID, json_object
from ingress.schemes.token import TokenVerifier, UrlToken
from schemas.config import ConfigError, LumaSource

_TOKEN = re.compile(r"[A-Za-z0-9._~-]{24,512}")


def event_id(headers: Mapping[str, str], body: bytes) -> str:
    """``{id}:{state}`` of a verified body, else its digest."""
    document = json_object(body)
    if isinstance(document, dict):
        generation, state = document.get("id"), document.get("state")
        if isinstance(generation, str) and isinstance(state, str) and generation and state:
            candidate = f"{generation}:{state}"
            if EVENT_ID.fullmatch(candidate):
                return candidate
    return body_digest_id(body)


def build(source: LumaSource, key: str) -> TokenVerifier:
    require_keys(source, key, source.secrets)
    if source.tolerance is not None:
        raise ConfigError(f"{key}.tolerance", "luma signs no timestamp; remove the tolerance")
    for i, secret in enumerate(source.secrets):
        if not _TOKEN.fullmatch(secret.reveal()):
            raise ConfigError(
                f"{key}.secrets[{i}]",
                "a URL token must be 24-512 URL-safe characters (A-Z a-z 0-9 - . _ ~)",
            )
    return TokenVerifier(
        secrets=[secret.reveal().encode() for secret in source.secrets],
        location=UrlToken(source.name, source.token_param),
        event_id=event_id,
    )


def sign_delivery(
    source: LumaSource, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """The token goes in the query (``token_param``); ``event_id`` is not sent: Luma's id is in
    the body."""
    if not source.secrets:
        raise ValueError(f"source {source.name!r} has no token to put in the callback URL")
    query = urlencode({source.token_param: source.secrets[0].reveal()})
    separator = "&" if "?" in url else "?"
    return Outgoing(f"{url}{separator}{query}", {"content-type": "application/json"}, body)


PROVIDER = Provider(
    "luma",
    "url-token",
    build,
    sign_delivery,
    path_token=True,
    uses_url=True,
)
