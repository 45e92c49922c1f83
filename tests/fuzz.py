"""The shared harness of the verifiers' random-input tests: mutate headers, record the outcome."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ingress.errors import IngressError

#: What a random-input test must reach: the success path and every refusal, not just the first.
EVERY_OUTCOME = frozenset(
    {
        "ok",
        "missing_header",
        "malformed_header",
        "missing_signature",
        "signature_mismatch",
        "timestamp_too_old",
        "timestamp_in_future",
    }
)


def mutate(
    headers: dict[str, str],
    rng: random.Random,
    junk: Callable[[], str],
    *,
    drop: float,
    change: float,
) -> dict[str, str]:
    """Drop each header with probability ``drop``, else replace it with junk below ``change``."""
    for name in list(headers):
        roll = rng.random()
        if roll < drop:
            del headers[name]
        elif roll < change:
            headers[name] = junk()
    return headers


def outcome(verify: Callable[..., object], *args: Any, **kwargs: Any) -> str:
    """``ok``, or the refusal's reason; any other exception fails the test."""
    try:
        verify(*args, **kwargs)
    except IngressError as exc:
        return exc.reason
    return "ok"
