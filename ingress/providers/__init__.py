"""Provider adapters: what a source's ``provider:`` selects.

A provider is a thin adapter over a signature scheme (``ingress/schemes/``): it reads the source's
secrets its own way, picks header names, the event id and the default tolerance, and can sign a
delivery the way the real sender would (for ``hookgate send`` and tests). Its options are a typed
model in ``schemas/sources.py``, validated with the rest of the configuration. To add one, write a
module with a ``PROVIDER`` and list it in ``_ALL`` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    provider: Provider[Any]
    verifier: Verifier
    #: Verify in a thread, off the event loop: the provider's verification is costly (Ed25519,
    #: Twilio's form), or the source has public keys (any provider: Ed25519 per entry and key).
    offload: bool = False


_ALL: tuple[Provider[Any], ...] = (
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
PROVIDERS: Mapping[str, Provider[Any]] = {p.name: p for p in _ALL}


def configure_sources(settings: Settings) -> dict[str, ConfiguredSource]:
    """Build every source's verifier once, at start; bad secrets fail here, not per request."""
    configured: dict[str, ConfiguredSource] = {}
    for index, (name, source) in enumerate(settings.sources.items()):
        key = f"sources[{index}]"
        provider = PROVIDERS.get(source.provider)
        if provider is None:  # a model in schemas/sources.py without an adapter here
            raise ConfigError(f"{key}.provider", f"no adapter for provider {source.provider!r}")
        offload = provider.offload or bool(source.public_keys)
        configured[name] = ConfiguredSource(source, provider, provider.build(source, key), offload)
    return configured
