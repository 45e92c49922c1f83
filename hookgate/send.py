"""``hookgate send``: play the provider locally: sign a sample payload and POST it."""

from __future__ import annotations

import json
import secrets as random_tokens
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources

import yaml

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


def dev_signing_key(source_name: str) -> str | None:
    """The private key that plays ``source_name`` of the bundled development config, if any.

    Sender-side material, so it lives beside the development config, not in it: the ingress
    never reads it."""
    text = resources.files("hookgate.samples").joinpath("dev-signing-keys.yaml").read_text()
    keys = yaml.safe_load(text) or {}
    value = keys.get(source_name)
    return value if isinstance(value, str) else None


def send(
    settings: Settings,
    source_name: str,
    *,
    url: str | None = None,
    body: bytes | None = None,
    event_id: str | None = None,
    signing_key: str | None = None,
    timeout: float = 15.0,
) -> SendResult:
    """Sign like the source's sender and POST. Providers that sign with a private key only the
    sender holds (fal) need ``signing_key``; the others sign with the source's first secret."""
    source = settings.sources.get(source_name)
    if source is None:
        known = ", ".join(sorted(settings.sources)) or "none"
        raise SendError(f"no source named {source_name!r} in {settings.origin} (known: {known})")
    provider = PROVIDERS.get(source.provider)
    if provider is None:
        raise SendError(f"provider {source.provider!r} cannot be played locally")
    body = body if body is not None else sample_payload(source.provider)
    event_id = event_id or f"msg_{random_tokens.token_urlsafe(12)}"
    url = url or f"{settings.ingress.local_url}/webhooks/{source_name}"
    now = int(time.time())
    try:
        if provider.sign_with_key is not None:
            if signing_key is None:
                raise SendError(
                    f"source {source_name!r} cannot sign like {source.provider}: the sender signs "
                    "with its own private key. To play it locally, pass --signing-key (base64 of "
                    "a 32-byte Ed25519 seed) and list its public key in the source's public_keys"
                )
            outgoing = provider.sign_with_key(source, body, event_id, now, url, signing_key)
        elif provider.sign is not None:
            outgoing = provider.sign(source, body, event_id, now, url)
        else:
            raise SendError(f"provider {source.provider!r} cannot be played locally")
    except ValueError as exc:
        raise SendError(f"source {source_name!r}: {exc}") from None
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
