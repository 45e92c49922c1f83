"""The shape of a provider adapter, and helpers adapters share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingress.schemes.base import Verifier
from schemas.config import ConfigError, SourceSettings


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A delivery as a sender would make it: where to, with which headers and body."""

    url: str
    headers: Mapping[str, str]
    body: bytes


#: Signs ``body`` as event ``event_id`` at ``timestamp`` for ``source``, to be POSTed to ``url``
#: (the ingress URL of the source). Raises ``ValueError`` when the source cannot sign (e.g. it
#: holds only public keys).
Signer = Callable[[SourceSettings, bytes, str, int, str], Outgoing]


@dataclass(frozen=True, slots=True)
class Provider:
    #: The value of ``provider:`` in the config; also the raw record's ``hookgate-provider``.
    name: str
    #: The signature scheme family, recorded as ``hookgate-scheme``.
    scheme: str
    #: Builds the source's verifier; raises ``ConfigError`` naming the bad key.
    build: Callable[[SourceSettings, str], Verifier]
    #: Signs like the real sender; ``None`` if it cannot be played locally.
    sign: Signer | None = None
    #: Options (other source keys) this provider accepts.
    options: frozenset[str] = field(default_factory=frozenset)
    #: Verification costs enough CPU (Ed25519) to run off the event loop, in a thread.
    offload: bool = False
    #: Accepts ``POST /webhooks/{source}/{token}`` (a secret token as the last path segment).
    path_token: bool = False
    #: The verifier reads the request URL (signed URLs, URL tokens). Building it costs ~4 % of
    #: a request, so the others get an empty string.
    uses_url: bool = False


def option(source: SourceSettings, key: str, name: str, kind: type, default: Any = None) -> Any:
    """A provider option of the expected type, or ``default``; ConfigError names the key."""
    value = source.options.get(name, default)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{key}.{name}", f"must be a {kind.__name__}")
    return value


def require_keys(source: SourceSettings, key: str, what: Iterable[object]) -> None:
    """Fail at start when a provider that needs secrets or keys was given none."""
    if not list(what):
        raise ConfigError(f"{key}.secrets", f"provider {source.provider} needs at least one secret")
