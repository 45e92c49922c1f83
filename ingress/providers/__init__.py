"""Provider adapters: what a source's ``provider:`` selects.

A provider is a thin adapter over a signature scheme (``ingress/schemes/``): it reads the source's
secrets its own way, picks header names, the event id and the default tolerance, validates its
options, and can sign a delivery the way the real sender would (for ``hookgate send`` and tests).
To add one, write a module with a ``PROVIDER`` and list it in ``_ALL`` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ingress.providers import (
    anthropic,
    elevenlabs,
    fal,
    generic,
    github,
    luma,
    mux,
    openai,
    pagerduty,
    replicate,
    shopify,
    slack,
    standard_webhooks,
    stripe,
    svix,
    twilio,
)
from ingress.providers.base import Provider
from ingress.schemes.base import Verifier
from schemas.config import ConfigError, Settings, SourceSettings


@dataclass(frozen=True, slots=True)
class ConfiguredSource:
    settings: SourceSettings
    provider: Provider
    verifier: Verifier


_ALL: tuple[Provider, ...] = (
    standard_webhooks.PROVIDER,
    stripe.PROVIDER,
    mux.PROVIDER,
    elevenlabs.PROVIDER,
    slack.PROVIDER,
    github.PROVIDER,
    pagerduty.PROVIDER,
    shopify.PROVIDER,
    svix.PROVIDER,
    svix.CLERK,
    svix.RESEND,
    replicate.PROVIDER,
    openai.PROVIDER,
    anthropic.PROVIDER,
    fal.PROVIDER,
    twilio.PROVIDER,
    luma.PROVIDER,
    generic.GENERIC_HMAC,
    generic.BASIC_AUTH,
    generic.API_KEY,
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
        unknown = sorted(set(source.options) - provider.options)
        if unknown:
            allowed = ", ".join(sorted(provider.options)) or "none"
            raise ConfigError(
                f"{key}.{unknown[0]}",
                f"unknown key for provider {provider.name} (provider options: {allowed})",
            )
        configured[name] = ConfiguredSource(source, provider, provider.build(source, key))
    return configured
