"""``hookgate send``: play the provider locally: sign a sample payload and POST it."""

from __future__ import annotations

import json
import secrets as random_tokens
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources

from ingress.providers import PROVIDERS
from schemas.config import Settings


def _accepted_id(text: str) -> str | None:
    """The event id the ingress derived: for senders whose id is in the body (Stripe, Slack),
    not the one ``send`` made up."""
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    value = answer.get("event_id") if isinstance(answer, dict) else None
    return value if isinstance(value, str) else None


class SendError(Exception):
    """The delivery could not be built (no secret to sign with) or not sent (no ingress)."""


@dataclass(frozen=True)
class SendResult:
    status: int
    body: str
    event_id: str


def sample_payload(provider: str) -> bytes:
    samples = resources.files("hookgate.samples")
    # JSON for most senders; a form body for those that post forms (Twilio).
    for name in (f"{provider}.json", f"{provider}.form"):
        if samples.joinpath(name).is_file():
            return samples.joinpath(name).read_bytes()
    raise SendError(f"no bundled sample payload for provider {provider!r}")


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
    provider = PROVIDERS.get(source.provider)
    if provider is None or provider.sign is None:
        raise SendError(f"provider {source.provider!r} cannot be played locally")
    body = body if body is not None else sample_payload(source.provider)
    event_id = event_id or f"msg_{random_tokens.token_urlsafe(12)}"
    url = url or f"{settings.ingress.local_url}/webhooks/{source_name}"
    try:
        outgoing = provider.sign(source, body, event_id, int(time.time()), url)
    except ValueError as exc:
        raise SendError(str(exc)) from None
    request = urllib.request.Request(  # noqa: S310 - the URL is the ingress's, http(s) only
        outgoing.url, data=outgoing.body, headers=dict(outgoing.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            text = response.read().decode()
            return SendResult(response.status, text, _accepted_id(text) or event_id)
    except urllib.error.HTTPError as exc:
        return SendResult(exc.code, exc.read().decode(errors="replace"), event_id)
    except urllib.error.URLError as exc:
        # Without the query or a path token: for some senders those carry the secret.
        where = url.split("?", 1)[0]
        raise SendError(f"cannot reach the ingress at {where}: {exc.reason}") from None
