"""Normalizers: pure functions from a raw delivery to a canonical event, one module per provider.

Each takes a :class:`schemas.raw.RawDelivery` and returns a
:class:`schemas.canonical.CanonicalEvent` or raises :class:`streams.errors.NormalizationFailed`.
No I/O, no clock: the same record always gives the same event, which is what makes replay
reproduce its output.

Normalizers name types without a namespace (``job.succeeded``, ``stripe.invoice.paid``);
the installation's reverse-DNS prefix (``worker.type_prefix``) goes in front of every one of
them outside the normalizers, so none needs the configuration: :func:`normalize` puts it there,
and the worker's stage as it encodes the event (:func:`normalizer`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from schemas.canonical import CanonicalEvent
from schemas.raw import RawDelivery
from streams.errors import UnknownProvider
from streams.normalizers import fal, luma, openai, passthrough, replicate, standard_webhooks, twilio

Normalizer = Callable[[RawDelivery], CanonicalEvent]

NORMALIZERS: Mapping[str, Normalizer] = {
    "standard-webhooks": standard_webhooks.normalize,
    # canonical job events (streams/normalizers/jobs.py)
    "fal": fal.normalize,
    "replicate": replicate.normalize,
    "openai": openai.normalize,
    "luma": luma.normalize,
    # pass-through events: {provider}.{provider event type}
    **passthrough.NORMALIZERS,
    "twilio": twilio.normalize,
}


def normalize(raw: RawDelivery, type_prefix: str) -> CanonicalEvent:
    """The canonical event of ``raw``, its type in the ``type_prefix`` namespace
    (``dev.hookgate.`` + ``job.succeeded``)."""
    event = normalizer(raw.provider)(raw)
    return dataclasses.replace(event, type=type_prefix + event.type)


def normalizer(provider: str) -> Normalizer:
    """The provider's normalizer: its events' types are without the namespace. The worker's
    stage puts the prefix in front as it encodes the event (:func:`schemas.canonical.encode`),
    rather than copy the event to do it."""
    found = NORMALIZERS.get(provider)
    if found is None:
        raise UnknownProvider(f"no normalizer for provider {provider!r}")
    return found
