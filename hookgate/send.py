"""``hookgate send``: play the provider locally: sign a sample payload and POST it."""

from __future__ import annotations

import secrets as random_tokens
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources

from ingress.schemes.standard_webhooks import decode_secret, sign
from schemas.config import Settings, SourceSettings


class SendError(Exception):
    """The delivery could not be built (no secret to sign with) or not sent (no ingress)."""


@dataclass(frozen=True)
class SendResult:
    status: int
    body: str
    event_id: str


def sample_payload(provider: str) -> bytes:
    try:
        return resources.files("hookgate.samples").joinpath(f"{provider}.json").read_bytes()
    except FileNotFoundError:
        raise SendError(f"no bundled sample payload for provider {provider!r}") from None


def signed_headers(
    source: SourceSettings, body: bytes, event_id: str, timestamp: int
) -> dict[str, str]:
    if source.provider != "standard-webhooks":
        raise SendError(f"signing for provider {source.provider!r} is not implemented yet")
    if not source.secrets:
        raise SendError(f"source {source.name!r} has no secret to sign with (public keys only)")
    signature = sign(decode_secret(source.secrets[0].reveal()), event_id, timestamp, body)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def send(
    settings: Settings,
    source_name: str,
    *,
    url: str | None = None,
    body: bytes | None = None,
    event_id: str | None = None,
    timeout: float = 15.0,
) -> SendResult:
    source = settings.sources.get(source_name)
    if source is None:
        known = ", ".join(sorted(settings.sources)) or "none"
        raise SendError(f"no source named {source_name!r} in {settings.origin} (known: {known})")
    body = body if body is not None else sample_payload(source.provider)
    event_id = event_id or f"msg_{random_tokens.token_urlsafe(12)}"
    headers = signed_headers(source, body, event_id, int(time.time()))
    url = url or f"{settings.ingress.local_url}/webhooks/{source_name}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return SendResult(response.status, response.read().decode(), event_id)
    except urllib.error.HTTPError as exc:
        return SendResult(exc.code, exc.read().decode(errors="replace"), event_id)
    except urllib.error.URLError as exc:
        raise SendError(f"cannot reach the ingress at {url}: {exc.reason}") from None
