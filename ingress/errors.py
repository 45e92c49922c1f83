"""The ingress's error hierarchy: every way a delivery can be refused, with its HTTP status.

Each class carries a stable machine-readable ``reason`` (used in metrics labels and JSON bodies) and
a human ``detail``. Details help an operator find a misconfiguration without helping a forger: they
never contain secrets, expected signatures or the signed content.
"""

from __future__ import annotations


class IngressError(Exception):
    """Base class: a delivery the ingress refuses. Never escapes as a 500."""

    status: int = 400
    reason: str = "bad_request"
    #: True when the sender should retry the same delivery later (503s).
    retriable: bool = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownSource(IngressError):
    """The URL names no configured source."""

    status = 404
    reason = "unknown_source"


class PayloadTooLarge(IngressError):
    """The body exceeds the source's ``max_body_bytes``; it was not read past the limit."""

    status = 413
    reason = "payload_too_large"


class BodyTimeout(IngressError):
    """The body did not arrive in full within ``ingress.body_timeout_ms``: a stalled sender."""

    status = 408
    reason = "body_timeout"


class MalformedHeader(IngressError):
    """A header the scheme needs is present but cannot be parsed (bad timestamp, bad entry list)."""

    status = 400
    reason = "malformed_header"


class MalformedQuery(IngressError):
    """The URL's query string is not UTF-8. The detail never quotes it: it may hold a token."""

    status = 400
    reason = "malformed_query"


class MissingHeader(IngressError):
    """A header the scheme needs besides the signature (id, timestamp) is absent."""

    status = 400
    reason = "missing_header"


class VerificationFailed(IngressError):
    """Base for 401s: the delivery is not proven to come from the configured sender."""

    status = 401
    reason = "verification_failed"


class MissingSignature(VerificationFailed):
    """No signature header, or no signature entry of a version this source accepts."""

    reason = "missing_signature"


class SignatureMismatch(VerificationFailed):
    """Signatures were present, but none verifies with any active secret or key."""

    reason = "signature_mismatch"


class TimestampTooOld(VerificationFailed):
    """The signed timestamp is older than the source's tolerance: a replay or a very late retry."""

    reason = "timestamp_too_old"


class TimestampInFuture(VerificationFailed):
    """The signed timestamp is further ahead than the tolerance: clock skew or a forged header."""

    reason = "timestamp_in_future"


class BrokerUnavailable(IngressError):
    """Kafka did not acknowledge the write in time (down, timed out, queue full): retry later."""

    status = 503
    reason = "broker_unavailable"
    retriable = True


class Overloaded(IngressError):
    """The ingress holds as many body bytes or unacknowledged produces as it is allowed: shed
    before reading more, and ask the sender to retry."""

    status = 503
    reason = "overloaded"
    retriable = True
