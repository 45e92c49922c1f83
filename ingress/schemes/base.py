"""What every signature scheme gives the ingress, and what it gets."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Protocol

from ingress.errors import TimestampInFuture, TimestampTooOld
from schemas.frozen import frozen


@frozen
class Verified:
    """The outcome of a successful verification. One per delivery: ``@frozen`` for a frozen
    dataclass's per-field cost (schemas/frozen.py)."""

    #: The sender's id for the event, stable across retries: the de-duplication key.
    event_id: str
    #: Index of the secret or key (in the source's configured order) that matched, for the
    #: rotation metric: when an old secret's index stops appearing, it can be removed.
    key_index: int
    #: The signed timestamp in epoch seconds, when the scheme signs one.
    timestamp: int | None = None
    #: A verified handshake to answer synchronously instead of producing (Slack's
    #: ``url_verification``): the JSON body of the 200 answer.
    reply: bytes | None = None
    #: The headers this verification covered, when that depends on the delivery (Svix accepts
    #: either of two header families): only these are kept on the raw record. None: the
    #: verifier's ``kept_headers``.
    kept_headers: tuple[str, ...] | None = None
    #: When the signature does not cover ``event_id`` (a header the sender sets beside a signed
    #: body): a digest of what it does cover, which keys the raw record and so the worker's
    #: de-duplication, so that a replay under a fresh id is still the same event. None: the
    #: signature covers ``event_id``, which is then the key.
    dedup_id: str | None = None


class Verifier(Protocol):
    """Checks one delivery. ``headers`` has lower-case names; ``body`` is exactly as received;
    ``url`` is the URL the request was made to (path and query included), as the ingress saw it.

    Raises a subclass of :class:`ingress.errors.IngressError` (401 or 400) on any failure, and never
    anything else for any input.
    """

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified: ...

    #: Header names (lower-case) to keep on the raw Kafka record: those the signature covers,
    #: so the delivery can be verified again from Kafka alone, and those normalization reads
    #: (e.g. GitHub's event name).
    @property
    def kept_headers(self) -> tuple[str, ...]: ...


def body_digest_id(body: bytes) -> str:
    """The event id of last resort: a sender that names no id sends the same bytes again."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def check_window(
    what: str, timestamp: int, now: float, tolerance: int, *, future: bool = True
) -> None:
    """Refuse a signed timestamp outside ``now ± tolerance`` (``future=False``: the past side only,
    for senders whose own SDKs accept any future time). Call it after the signature verified: a
    forger's timestamp is not worth an answer that tells them about our clock."""
    age = now - timestamp
    if age > tolerance:
        raise TimestampTooOld(f"{what} is {math.ceil(age)} s old; tolerance is {tolerance} s")
    if future and -age > tolerance:
        raise TimestampInFuture(f"{what} is {math.ceil(-age)} s ahead; tolerance is {tolerance} s")
