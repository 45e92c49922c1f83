"""Provider adapters: what a source's ``provider:`` selects.

A provider is a thin adapter over a signature scheme: it reads the source's secrets its own way,
picks header names and default tolerance, and names the scheme recorded on the raw record. To add
one, write a module with a ``PROVIDER`` and list it in ``_ALL`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ingress.providers import standard_webhooks
from ingress.schemes.base import Verifier
from schemas.config import ConfigError, Settings, SourceSettings


@dataclass(frozen=True, slots=True)
class Provider:
    #: The value of ``provider:`` in the config; also the raw record's ``hookgate-provider``.
    name: str
    #: The signature scheme family, recorded as ``hookgate-scheme``.
    scheme: str
    #: Builds the source's verifier; raises ``ConfigError`` naming the bad key.
    build: Callable[[SourceSettings, str], Verifier]


@dataclass(frozen=True, slots=True)
class ConfiguredSource:
    settings: SourceSettings
    provider: Provider
    verifier: Verifier


_ALL: tuple[Provider, ...] = (
    Provider("standard-webhooks", "standard-webhooks", standard_webhooks.build),
)
PROVIDERS: Mapping[str, Provider] = {p.name: p for p in _ALL}


def configure_sources(settings: Settings) -> dict[str, ConfiguredSource]:
    """Build every source's verifier once, at start; bad secrets fail here, not per request."""
    configured: dict[str, ConfiguredSource] = {}
    for index, (name, source) in enumerate(settings.sources.items()):
        key = f"sources[{index}]"
        provider = PROVIDERS.get(source.provider)
        if provider is None:
            known = ", ".join(sorted(PROVIDERS))
            raise ConfigError(
                f"{key}.provider", f"unknown provider {source.provider!r} (known: {known})"
            )
        configured[name] = ConfiguredSource(source, provider, provider.build(source, key))
    return configured
