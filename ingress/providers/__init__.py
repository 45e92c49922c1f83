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
from schemas.sources import FalSource


@dataclass(frozen=True, slots=True)
class ConfiguredSource:
    settings: SourceSettings
    provider: Provider[Any]
    verifier: Verifier
    #: Verify in a thread, off the event loop: the provider's verification is costly (Ed25519,
    #: Twilio's form), or the source has public keys (any provider: Ed25519 per entry and key).
    offload: bool = False
    #: Bodies up to this many bytes are verified on the event loop even when ``offload`` is set
    #: (0: never). Only for Ed25519 with one key and nothing fetched, where a small delivery
    #: costs at most two signature checks (~50 us each on a quiet core): handing that to a
    #: thread (wake-up, GIL hand-over, future) cost more CPU than the check, 193 -> 362-398 us
    #: per delivery in a micro-benchmark (BENCHMARKS.md). Large bodies, several keys or a
    #: fetched key set still verify in a thread (issue 8: entries x keys x body size).
    inline_max_body: int = 0

    def in_thread(self, body_size: int) -> bool:
        """Whether a body this large is verified in a thread (see ``offload``)."""
        return self.offload and body_size > self.inline_max_body


#: A body this small hashes in a few microseconds; see ``ConfiguredSource.inline_max_body``.
INLINE_MAX_BODY = 16_384


def _inline_max_body(source: SourceSettings, provider: Provider[Any]) -> int:
    if len(source.public_keys) != 1 or provider.name == "twilio":
        return 0
    if isinstance(source, FalSource) and source.key_set_url is not None:
        return 0  # a fetched key set may hold any number of keys, each tried in turn
    return INLINE_MAX_BODY


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
        configured[name] = ConfiguredSource(
            source,
            provider,
            provider.build(source, key),
            offload,
            _inline_max_body(source, provider) if offload else 0,
        )
    return configured
