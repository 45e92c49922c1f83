"""The shape of a provider adapter, and helpers adapters share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from ingress.schemes.base import Verifier
from schemas.config import ConfigError, SourceSettings

#: The configuration model of the provider's sources (``schemas/sources.py``).
S = TypeVar("S", bound=SourceSettings)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A delivery as a sender would make it: where to, with which headers and body."""

    url: str
    headers: Mapping[str, str]
    body: bytes


#: Signs ``body`` as event ``event_id`` at ``timestamp`` for ``source``, to be POSTed to ``url``
#: (the ingress URL of the source), with the secret the sender shares with the source. Raises
#: ``ValueError`` when the source cannot sign (e.g. it holds only public keys).
Signer = Callable[[S, bytes, str, int, str], Outgoing]
#: Signs like :data:`Signer`, with a private key only the sender holds (the last argument, as
#: text): never part of the source's configuration (see ``hookgate send --signing-key``).
KeySigner = Callable[[S, bytes, str, int, str, str], Outgoing]


@dataclass(frozen=True, slots=True)
class Provider(Generic[S]):
    #: The value of ``provider:`` in the config; also the raw record's ``hookgate-provider``.
    name: str
    #: The signature scheme family, recorded as ``hookgate-scheme``.
    scheme: str
    #: Builds the source's verifier from its typed configuration; raises ``ConfigError`` naming
    #: the bad key for what only the verifier can check (secret encodings, public keys).
    build: Callable[[S, str], Verifier]
    #: Signs like the real sender with the source's shared secret; ``None`` if it cannot.
    sign: Signer[S] | None = None
    #: Signs like the real sender with the sender's private key; ``None`` if it has none.
    sign_with_key: KeySigner[S] | None = None
    #: Verification costs enough CPU (Ed25519) to run off the event loop, in a thread. A
    #: source with ``public_keys`` runs there whatever its provider says.
    offload: bool = False
    #: Accepts ``POST /webhooks/{source}/{token}`` (a secret token as the last path segment).
    path_token: bool = False
    #: The verifier reads the request URL (signed URLs, URL tokens). Building it costs ~4 % of
    #: a request, so the others get an empty string.
    uses_url: bool = False


def require_keys(source: SourceSettings, key: str, what: Iterable[object]) -> None:
    """Fail at start when a provider that needs secrets or keys was given none."""
    if not list(what):
        raise ConfigError(f"{key}.secrets", f"provider {source.provider} needs at least one secret")
