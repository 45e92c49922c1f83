"""Svix, Clerk, Resend, Replicate, OpenAI and Anthropic: the Standard Webhooks family's senders.

Each provider's own library plays the other side: ``svix`` (and ``standardwebhooks``, which the
SDKs of Svix and Anthropic wrap) signs deliveries we must accept; ``svix``, OpenAI's
``client.webhooks``, ``replicate.webhook.Webhooks.validate`` and Anthropic's
``client.beta.webhooks.unwrap`` verify the deliveries our adapters sign. None of OpenAI, Replicate
or Anthropic ships a signer. The libraries check timestamps against the real clock, so tests that
hand them our output sign at ``time.time()``.
"""

from __future__ import annotations

import base64
import json
import time
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx
import openai
import pytest
import standardwebhooks
import svix.webhooks
from openai.types.webhooks import ResponseCompletedWebhookEvent
from replicate.webhook import InvalidSignatureError, Webhooks, WebhookSigningSecret

from hookgate.send import sample_payload
from ingress.errors import (
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
    TimestampInFuture,
    TimestampTooOld,
)
from ingress.providers import PROVIDERS, ConfiguredSource, configure_sources
from ingress.providers.base import Outgoing
from ingress.providers.openai import decode_openai_secret
from ingress.schemes.standard_webhooks import decode_secret, sign
from schemas import raw
from schemas.canonical import DEFAULT_TYPE_PREFIX, rfc3339
from schemas.config import ConfigError, SourceSettings, parse
from streams.normalizers import normalize
from tests.asgi import ingress_for, metric
from tests.fakes import FakeProducer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's vector secret
OLD_SECRET = "whsec_" + base64.b64encode(b"the previous secret, now rotated").decode()
#: The spec secret without its prefix: base64 to the standard, raw UTF-8 to OpenAI's SDK.
BARE = SECRET.removeprefix("whsec_")
NOW = 1_795_000_000

SVIX_SENDERS = ("svix", "clerk", "resend")
WEBHOOK_SENDERS = ("replicate", "openai", "anthropic")
FAMILY = SVIX_SENDERS + WEBHOOK_SENDERS
SVIX_NAMES = ("svix-id", "svix-timestamp", "svix-signature")
STANDARD_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")


def names(provider: str) -> tuple[str, str, str]:
    return SVIX_NAMES if provider in SVIX_SENDERS else STANDARD_NAMES


def configured(provider: str, secrets: list[str], **extra: Any) -> ConfiguredSource:
    source = {"name": "src", "provider": provider, "secrets": secrets, **extra}
    return configure_sources(parse({"sources": [source]}, env={}))["src"]


def library_signed(
    provider: str,
    body: bytes,
    msg_id: str = "msg_2Lq8Xw",
    ts: int = NOW,
    secret: str | bytes = SECRET,
) -> dict[str, str]:
    """Headers as the sender makes them, signed by the sender's library: ``svix`` for the Svix
    senders, ``standardwebhooks`` for the rest (a bytes secret is the raw HMAC key)."""
    when = datetime.fromtimestamp(ts, UTC)
    if provider in SVIX_SENDERS:
        signature = svix.webhooks.Webhook(secret).sign(msg_id, when, body.decode())
    else:
        signature = standardwebhooks.Webhook(secret).sign(msg_id, when, body.decode())
    id_name, ts_name, sig_name = names(provider)
    return {
        id_name: msg_id,
        ts_name: str(ts),
        sig_name: signature,
        "content-type": "application/json",
    }


def adapter_signed(provider: str, secret: str = SECRET, ts: int = NOW) -> Outgoing:
    """What our adapter (and ``hookgate send``) posts: the bundled sample, signed."""
    source = configured(provider, [secret])
    assert source.provider.sign is not None
    body = sample_payload(provider)
    return source.provider.sign(source.settings, body, "msg_ours1", ts, "http://h/webhooks/src")


def flip(body: bytes, index: int = -3) -> bytes:
    changed = bytearray(body)
    changed[index] ^= 0x01
    return bytes(changed)


# --- over HTTP: library-signed deliveries in, raw records out ----------------------------------


def ingress(
    sources: list[dict[str, Any]],
) -> AbstractAsyncContextManager[tuple[httpx.AsyncClient, FakeProducer]]:
    return ingress_for(sources, now=float(NOW))


def family_sources() -> list[dict[str, Any]]:
    return [{"name": p, "provider": p, "secrets": [SECRET]} for p in FAMILY]


@pytest.mark.parametrize("provider", FAMILY)
async def test_a_library_signed_delivery_is_accepted_and_produced_as_a_raw_record(
    provider: str,
) -> None:
    body = sample_payload(provider)
    headers = library_signed(provider, body)
    async with ingress(family_sources()) as (client, producer):
        response = await client.post(f"/webhooks/{provider}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted", "event_id": "msg_2Lq8Xw"}
    [record] = producer.produced
    delivery = raw.decode(record.key, record.value, record.headers)
    assert (delivery.provider, delivery.scheme, delivery.event_id) == (
        provider,
        "standard-webhooks",
        "msg_2Lq8Xw",
    )
    assert delivery.body == body
    assert dict(delivery.sender_headers) == {n: headers[n] for n in names(provider)}


async def test_a_svix_delivery_with_an_unsigned_webhook_timestamp_keeps_its_signed_time() -> None:
    # Regression: both header families were kept on the raw record, and the worker took the
    # extra, unsigned webhook-timestamp as ce_time (a delivery came out dated 2100-01-01).
    body = json.dumps({"type": "invoice.paid", "data": {"id": "inv_1"}}).encode()
    headers = {**library_signed("svix", body), "webhook-timestamp": "4102444800"}
    async with ingress(family_sources()) as (client, producer):
        response = await client.post("/webhooks/svix", content=body, headers=headers)
    assert response.status_code == 200, response.text
    [record] = producer.produced
    delivery = raw.decode(record.key, record.value, record.headers)
    assert normalize(delivery, DEFAULT_TYPE_PREFIX).time == rfc3339(NOW)


async def test_only_the_verified_header_family_is_kept_on_the_raw_record() -> None:
    body = sample_payload("svix")
    unsigned = {"webhook-id": "msg_other", "webhook-timestamp": "4102444800"}
    headers = {**library_signed("svix", body), **unsigned}
    async with ingress(family_sources()) as (client, producer):
        await client.post("/webhooks/svix", content=body, headers=headers)
    [record] = producer.produced
    delivery = raw.decode(record.key, record.value, record.headers)
    assert dict(delivery.sender_headers) == {n: headers[n] for n in SVIX_NAMES}


@pytest.mark.parametrize("provider", FAMILY)
async def test_the_raw_record_carries_the_verified_signed_time_and_key_index(
    provider: str,
) -> None:
    body = sample_payload(provider)
    sources = [{"name": provider, "provider": provider, "secrets": [OLD_SECRET, SECRET]}]
    async with ingress(sources) as (client, producer):
        await client.post(
            f"/webhooks/{provider}", content=body, headers=library_signed(provider, body)
        )
    [record] = producer.produced
    delivery = raw.decode(record.key, record.value, record.headers)
    assert (delivery.signed_at_ms, delivery.key_index) == (NOW * 1000, 1)


@pytest.mark.parametrize("provider", FAMILY)
async def test_one_changed_body_byte_is_refused_401_and_not_produced(provider: str) -> None:
    body = sample_payload(provider)
    headers = library_signed(provider, body)
    async with ingress(family_sources()) as (client, producer):
        response = await client.post(f"/webhooks/{provider}", content=flip(body), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "signature_mismatch"
    assert producer.produced == []


@pytest.mark.parametrize("provider", FAMILY)
async def test_the_adapters_signed_sample_is_accepted(provider: str) -> None:
    """``hookgate send`` for each provider: its bundled sample, signed by its adapter."""
    out = adapter_signed(provider)
    async with ingress(family_sources()) as (client, producer):
        response = await client.post(f"/webhooks/{provider}", content=out.body, headers=out.headers)
    assert response.status_code == 200, response.text
    assert len(producer.produced) == 1


async def test_a_rotated_source_counts_which_secret_matched() -> None:
    body = sample_payload("clerk")
    sources = [{"name": "clerk", "provider": "clerk", "secrets": [OLD_SECRET, SECRET]}]
    async with ingress(sources) as (client, _):
        response = await client.post(
            "/webhooks/clerk", content=body, headers=library_signed("clerk", body)
        )
        assert response.status_code == 200
        name = "hookgate_ingress_secret_matches_total"
        assert await metric(client, name, source="clerk", key_index="1") == 1
        assert await metric(client, name, source="clerk", key_index="0") is None


async def test_an_openai_source_with_a_bare_secret_accepts_its_raw_utf8_key_over_http() -> None:
    body = sample_payload("openai")
    sources = [{"name": "openai", "provider": "openai", "secrets": [BARE]}]
    async with ingress(sources) as (client, producer):
        raw_key = library_signed("openai", body, secret=BARE.encode())
        decoded_key = library_signed("openai", body, secret=BARE)  # standardwebhooks decodes
        accepted = await client.post("/webhooks/openai", content=body, headers=raw_key)
        refused = await client.post("/webhooks/openai", content=body, headers=decoded_key)
    assert accepted.status_code == 200, accepted.text
    assert (refused.status_code, refused.json()["error"]) == (401, "signature_mismatch")
    assert len(producer.produced) == 1


# --- our signed deliveries pass the providers' own verifiers -----------------------------------


@pytest.mark.parametrize("provider", SVIX_SENDERS)
def test_our_signed_delivery_passes_svix(provider: str) -> None:
    out = adapter_signed(provider, ts=int(time.time()))
    svix.webhooks.Webhook(SECRET).verify(out.body, dict(out.headers))  # raises if not


def test_our_signed_delivery_passes_the_openai_sdk() -> None:
    out = adapter_signed("openai", ts=int(time.time()))
    client = openai.OpenAI(api_key="unused", webhook_secret=SECRET)
    event = client.webhooks.unwrap(out.body, dict(out.headers))
    assert isinstance(event, ResponseCompletedWebhookEvent)  # the sample is the SDK's model
    assert event.data.id == json_of("openai")["data"]["id"]


def test_our_delivery_signed_with_a_bare_secret_passes_the_openai_sdk() -> None:
    out = adapter_signed("openai", secret=BARE, ts=int(time.time()))
    client = openai.OpenAI(api_key="unused")
    client.webhooks.verify_signature(out.body, dict(out.headers), secret=BARE)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        # The same text as Standard Webhooks reads it is another key, for OpenAI's SDK.
        client.webhooks.verify_signature(out.body, dict(out.headers), secret=SECRET)


def test_our_signed_delivery_passes_replicates_validate() -> None:
    out = adapter_signed("replicate", ts=int(time.time()))
    Webhooks.validate(
        headers=dict(out.headers),
        body=out.body.decode(),
        secret=WebhookSigningSecret(key=SECRET),
        tolerance=300,
    )
    with pytest.raises(InvalidSignatureError):
        Webhooks.validate(
            headers=dict(out.headers),
            body=flip(out.body).decode(),
            secret=WebhookSigningSecret(key=SECRET),
        )


def test_our_signed_delivery_passes_anthropics_unwrap() -> None:
    out = adapter_signed("anthropic", ts=int(time.time()))
    client = anthropic.Anthropic(api_key="unused", webhook_key=SECRET)
    event = client.beta.webhooks.unwrap(out.body.decode(), headers=dict(out.headers))
    assert event.type == "event"  # the envelope's type; the event type is data.type
    assert event.data.type == json_of("anthropic")["data"]["type"]


def json_of(provider: str) -> Any:
    return json.loads(sample_payload(provider))


# --- how each library reads a secret, and that we read it the same way ------------------------


def test_openai_reads_a_bare_secret_as_raw_utf8_and_a_prefixed_one_as_base64() -> None:
    assert decode_openai_secret(BARE) == BARE.encode()
    assert decode_openai_secret(SECRET) == decode_secret(SECRET)
    assert decode_openai_secret(" " + SECRET) == (" " + SECRET).encode()  # prefix must lead


@pytest.mark.parametrize("text", [SECRET, BARE, "not base64 at all: raw bytes", "whsec_ab+/cd=="])
def test_the_openai_adapter_and_sdk_agree_on_the_key(text: str) -> None:
    now = int(time.time())
    body = sample_payload("openai")
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
    headers["webhook-signature"] = sign(decode_openai_secret(text), "msg_1", now, body)
    openai.OpenAI(api_key="unused").webhooks.verify_signature(body, headers, secret=text)
    verifier = configured("openai", [text]).verifier
    assert verifier.verify(headers, body, now).event_id == "msg_1"


@pytest.mark.parametrize("provider", ["anthropic", "replicate", "svix", "clerk", "resend"])
def test_the_others_base64_decode_a_secret_without_its_prefix(provider: str) -> None:
    # What standardwebhooks (Anthropic's SDK, svix) does with a bare key; Replicate's library
    # refuses a key without its prefix, and a bare key is the same bytes to us.
    body = sample_payload(provider)
    headers = library_signed(provider, body, secret=SECRET)
    assert configured(provider, [BARE]).verifier.verify(headers, body, NOW).key_index == 0
    raw_key = library_signed(provider, body, secret=BARE.encode())
    with pytest.raises(SignatureMismatch):
        configured(provider, [BARE]).verifier.verify(raw_key, body, NOW)


def test_anthropics_sdk_base64_decodes_a_bare_key_too() -> None:
    now = int(time.time())
    body = sample_payload("anthropic").decode()
    when = datetime.fromtimestamp(now, UTC)
    signature = standardwebhooks.Webhook(SECRET).sign("msg_1", when, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": signature}
    anthropic.Anthropic(api_key="unused").beta.webhooks.unwrap(body, headers=headers, key=BARE)


# --- Svix senders: either header set ------------------------------------------------------------


def svix_verifier(provider: str = "svix") -> Any:
    return configured(provider, [SECRET]).verifier


def renamed(headers: dict[str, str], old: tuple[str, ...], new: tuple[str, ...]) -> dict[str, str]:
    return {dict(zip(old, new, strict=True)).get(k, k): v for k, v in headers.items()}


@pytest.mark.parametrize("provider", SVIX_SENDERS)
def test_a_svix_sender_is_also_accepted_under_the_standard_names(provider: str) -> None:
    body = sample_payload(provider)
    headers = renamed(library_signed(provider, body), SVIX_NAMES, STANDARD_NAMES)
    assert svix_verifier(provider).verify(headers, body, NOW).event_id == "msg_2Lq8Xw"


def test_the_svix_names_win_when_both_sets_are_sent() -> None:
    body = sample_payload("svix")
    svix_set = library_signed("svix", body)
    standard_set = renamed(library_signed("svix", body, msg_id="other"), SVIX_NAMES, STANDARD_NAMES)
    both = {**standard_set, **svix_set}
    assert svix_verifier().verify(both, body, NOW).event_id == "msg_2Lq8Xw"


def test_svix_itself_reads_the_standard_names_when_svix_ones_are_absent() -> None:
    now = int(time.time())
    body = sample_payload("svix")
    headers = renamed(library_signed("svix", body, ts=now), SVIX_NAMES, STANDARD_NAMES)
    svix.webhooks.Webhook(SECRET).verify(body, headers)


def test_without_any_signature_header_the_error_names_svix_signature() -> None:
    with pytest.raises(MissingSignature, match="svix-signature"):
        svix_verifier().verify({"svix-id": "m", "svix-timestamp": str(NOW)}, b"{}", NOW)


def test_a_missing_svix_id_is_named() -> None:
    headers = library_signed("svix", b"{}")
    del headers["svix-id"]
    with pytest.raises(MissingHeader, match="svix-id"):
        svix_verifier().verify(headers, b"{}", NOW)


def test_the_svix_verifier_keeps_both_header_sets() -> None:
    assert set(svix_verifier().kept_headers) == set(SVIX_NAMES + STANDARD_NAMES)


# --- rotation, time window ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", FAMILY)
def test_key_index_follows_the_configured_secrets(provider: str) -> None:
    body = sample_payload(provider)
    verifier = configured(provider, [OLD_SECRET, SECRET]).verifier
    assert verifier.verify(library_signed(provider, body), body, NOW).key_index == 1
    old = library_signed(provider, body, secret=OLD_SECRET)
    assert verifier.verify(old, body, NOW).key_index == 0


@pytest.mark.parametrize("provider", FAMILY)
def test_a_header_with_the_old_and_new_signatures_verifies(provider: str) -> None:
    # During a rotation the sender signs with every active secret, one entry each.
    body = sample_payload(provider)
    sig_name = names(provider)[2]
    headers = library_signed(provider, body)
    old = library_signed(provider, body, secret=OLD_SECRET)[sig_name]
    headers[sig_name] = f"{old} {headers[sig_name]}"
    assert configured(provider, [SECRET]).verifier.verify(headers, body, NOW).key_index == 0


@pytest.mark.parametrize("provider", FAMILY)
def test_the_default_tolerance_is_300_s_both_ways(provider: str) -> None:
    body = sample_payload(provider)
    headers = library_signed(provider, body)
    verifier = configured(provider, [SECRET]).verifier
    assert verifier.verify(headers, body, NOW + 300).timestamp == NOW
    assert verifier.verify(headers, body, NOW - 300).timestamp == NOW
    with pytest.raises(TimestampTooOld, match="tolerance is 300 s"):
        verifier.verify(headers, body, NOW + 301)
    with pytest.raises(TimestampInFuture, match="tolerance is 300 s"):
        verifier.verify(headers, body, NOW - 301)


@pytest.mark.parametrize("provider", FAMILY)
def test_the_tolerance_is_a_source_setting(provider: str) -> None:
    body = sample_payload(provider)
    verifier = configured(provider, [SECRET], tolerance=10).verifier
    with pytest.raises(TimestampTooOld, match="tolerance is 10 s"):
        verifier.verify(library_signed(provider, body), body, NOW + 11)


# --- configuration errors name the key ----------------------------------------------------------


@pytest.mark.parametrize("provider", FAMILY)
def test_a_source_without_secrets_is_refused_at_start(provider: str) -> None:
    with pytest.raises(ConfigError) as caught:
        configured(provider, [])
    assert caught.value.key == "sources[0].secrets"
    assert provider in caught.value.reason


@pytest.mark.parametrize("provider", FAMILY)
@pytest.mark.parametrize("bad", ["whsec_", "whsec_!!not*base64!!"])
def test_a_bad_secret_is_refused_naming_its_index_and_not_echoed(provider: str, bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        configured(provider, [SECRET, bad])
    assert caught.value.key == "sources[0].secrets[1]"
    assert "not*base64" not in str(caught.value)


@pytest.mark.parametrize("provider", FAMILY)
def test_public_keys_are_refused_naming_the_key(provider: str) -> None:
    public_key = "whpk_" + base64.b64encode(bytes(32)).decode()
    with pytest.raises(ConfigError) as caught:
        configured(provider, [SECRET], public_keys=[public_key])
    assert caught.value.key == "sources[0].public_keys"


@pytest.mark.parametrize("provider", FAMILY)
def test_every_family_provider_is_registered_in_the_scheme(provider: str) -> None:
    assert PROVIDERS[provider].scheme == "standard-webhooks"
    assert PROVIDERS[provider].sign is not None


@pytest.mark.parametrize("provider", FAMILY)
def test_the_sign_headers_use_the_providers_names(provider: str) -> None:
    out = adapter_signed(provider)
    assert set(names(provider)) <= set(out.headers)
    assert not set(out.headers) & set(STANDARD_NAMES + SVIX_NAMES) - set(names(provider))


def test_a_source_without_a_secret_cannot_sign() -> None:
    for provider in FAMILY:
        signer = PROVIDERS[provider].sign
        assert signer is not None
        with pytest.raises(ValueError, match="no secret"):
            signer(SourceSettings(name="s", provider=provider), b"{}", "msg_1", NOW, "http://h/")
