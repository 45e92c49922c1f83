"""`hookgate send` plays every provider: its signed sample is accepted by the real ingress, and its
raw record reaches Kafka with the provider's name and event id."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hookgate.send import send
from hookgate.topics import ensure
from ingress.providers import PROVIDERS
from schemas import raw as raw_format
from tests.support import SECRET, Stack, read_all, running

pytestmark = pytest.mark.kafka

_SEED = hashlib.sha256(b"send fal key").digest()
_FAL_PUBLIC = base64.urlsafe_b64encode(
    Ed25519PrivateKey.from_private_bytes(_SEED)
    .public_key()
    .public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()

#: One source per provider, configured as an operator would.
SOURCES: dict[str, dict[str, Any]] = {
    "standard-webhooks": {"secrets": [SECRET]},
    "svix": {"secrets": [SECRET]},
    "clerk": {"secrets": [SECRET]},
    "resend": {"secrets": [SECRET]},
    "replicate": {"secrets": [SECRET]},
    "openai": {"secrets": [SECRET]},
    "anthropic": {"secrets": [SECRET]},
    "stripe": {"secrets": ["whsec_send_test_secret"]},
    "mux": {"secrets": ["mux send secret"]},
    "elevenlabs": {"secrets": ["wsec_send_secret"]},
    "slack": {"secrets": ["slack send secret"]},
    "github": {"secrets": ["github send secret"]},
    "pagerduty": {"secrets": ["pagerduty send secret"]},
    "shopify": {"secrets": ["shopify send secret"]},
    "twilio": {"secrets": ["twilio auth token"]},
    "fal": {"public_keys": [_FAL_PUBLIC], "signing_key": base64.b64encode(_SEED).decode()},
    "luma": {"secrets": ["luma-callback-token-0123456789abcdef"]},
    "generic-hmac": {
        "secrets": ["generic secret"],
        "header": "x-signature",
        "prefix": "sha256=",
        "event_id_pointer": "/id",
    },
    "basic-auth": {"secrets": ["hookgate:send-password"]},
    "api-key": {"secrets": ["send-api-key-0123456789"]},
}


def test_every_provider_has_a_source_here() -> None:
    assert set(SOURCES) == set(PROVIDERS)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("send"),
        extra_sources=[
            {"name": f"p-{name}", "provider": name, **settings}
            for name, settings in SOURCES.items()
        ],
    )
    ensure(stack.settings, progress=lambda line: None)
    with running(stack, "ingress"):
        stack.wait_ingress_ready()
        yield stack


@pytest.mark.parametrize("provider", sorted(SOURCES))
def test_hookgate_send_is_accepted_for(provider: str, stack: Stack) -> None:
    result = send(stack.settings, f"p-{provider}")
    assert result.status == 200, result.body

    records = [
        raw_format.decode(r.key(), r.value(), r.headers())
        for r in read_all(stack.bootstrap, stack.settings.topics.raw.name)
    ]
    ours = [r for r in records if r.source == f"p-{provider}"]
    assert [r.event_id for r in ours] == [result.event_id]
    assert ours[0].provider == provider
