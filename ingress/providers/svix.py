"""Svix, and the senders that deliver through it (Clerk, Resend): Standard Webhooks with ``svix-*``
header names and ``whsec_`` secrets (base64; the HMAC key is the decoded bytes).

Header names: Svix's own verifier (``svix.webhooks.Webhook.verify``) reads ``svix-id``,
``svix-timestamp`` and ``svix-signature``, and falls back to the ``webhook-*`` names of the
standard, which Svix can be set to send instead. We accept either set too, chosen by which
signature header is present (``svix-signature`` wins when both are). Svix falls back header by
header; choosing one set keeps every error message naming a header the sender really sent, and a
sender mixing the two sets is not one we know of. Only the set that was verified is kept on the
raw record (``Verified.kept_headers``): a header of the other set is unsigned, and must not reach
the worker as if it were (an unsigned ``webhook-timestamp`` once set ``ce_time``).

Ed25519 (``v1a``) is part of the standard but none of these senders offer it to receivers, and
Svix's library verifies only ``v1``: ``public_keys`` is refused rather than silently unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ingress.providers.base import Outgoing, Provider
from ingress.providers.standard_webhooks import (
    DEFAULT_TOLERANCE,
    STANDARD_NAMES,
    decode_secrets,
    secrets_only,
    signed,
)
from ingress.schemes.base import Verified
from ingress.schemes.standard_webhooks import StandardWebhooksVerifier
from schemas.config import SourceSettings

SVIX_NAMES = ("svix-id", "svix-timestamp", "svix-signature")


class SvixVerifier:
    """Standard Webhooks under the ``svix-*`` names, else the ``webhook-*`` names."""

    def __init__(self, secrets: list[bytes], tolerance: int) -> None:
        # Two scheme verifiers over the same secrets: each reports errors in its own names.
        self._svix = _verifier(secrets, tolerance, SVIX_NAMES)
        self._standard = _verifier(secrets, tolerance, STANDARD_NAMES)

    @property
    def kept_headers(self) -> tuple[str, ...]:
        # Either set may be verified; each verification names the one it covered.
        return SVIX_NAMES + STANDARD_NAMES

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float, url: str = ""
    ) -> Verified:
        # Neither signature header: the svix verifier reports "missing svix-signature", the name
        # these senders document.
        standard = bool(headers.get(STANDARD_NAMES[2])) and not headers.get(SVIX_NAMES[2])
        names = STANDARD_NAMES if standard else SVIX_NAMES
        verifier = self._standard if standard else self._svix
        return replace(verifier.verify(headers, body, now, url), kept_headers=names)


def _verifier(
    secrets: list[bytes], tolerance: int, names: tuple[str, str, str]
) -> StandardWebhooksVerifier:
    id_name, ts_name, sig_name = names
    return StandardWebhooksVerifier(
        secrets=secrets,
        tolerance=tolerance,
        id_header=id_name,
        timestamp_header=ts_name,
        signature_header=sig_name,
    )


def build(source: SourceSettings, key: str) -> SvixVerifier:
    secrets_only(source, key)
    return SvixVerifier(decode_secrets(source, key), source.tolerance or DEFAULT_TOLERANCE)


def sign_delivery(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int, url: str
) -> Outgoing:
    """Signs as Svix sends: ``svix-*`` names only."""
    return signed(source, body, event_id, timestamp, url, names=SVIX_NAMES)


def _provider(name: str) -> Provider[SourceSettings]:
    return Provider(name, "standard-webhooks", build, sign_delivery)


PROVIDER = _provider("svix")
#: Clerk delivers through Svix: ``svix-*`` headers, ``whsec_`` signing secret.
CLERK = _provider("clerk")
#: Resend delivers through Svix: ``svix-*`` headers, ``whsec_`` signing secret.
RESEND = _provider("resend")
