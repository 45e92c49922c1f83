"""Slack request signing, event ids from the body and the url_verification handshake.

``slack_sdk.signature.SignatureVerifier`` signs and verifies as an independent implementation.
"""

from __future__ import annotations

import json
import random
import string
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from hookgate.send import sample_payload
from ingress.errors import (
    IngressError,
    MalformedHeader,
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
    TimestampInFuture,
    TimestampTooOld,
)
from ingress.providers import ConfiguredSource, configure_sources
from ingress.providers.base import Outgoing
from ingress.schemes.base import Verifier, body_digest_id
from ingress.schemes.slack import SlackVerifier, sign
from schemas import raw
from schemas.config import ConfigError, parse
from tests.asgi import ingress_for
from tests.fakes import FakeProducer
from tests.fuzz import EVERY_OUTCOME, mutate, outcome

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OLD_SECRET = "0ld5ecret0ld5ecret0ld5ecret0ld5e"
NOW = 1_795_000_000
BODY = sample_payload("slack")
EVENT_ID = json.loads(BODY)["event_id"]
CHALLENGE = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
HANDSHAKE = json.dumps(
    {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": CHALLENGE, "type": "url_verification"}
).encode()


class FixedClock(Clock):
    def now(self) -> float:
        return float(NOW)


SLACK_SDK = SignatureVerifier(SECRET, clock=FixedClock())


def slack_headers(body: bytes = BODY, ts: int = NOW, secret: str = SECRET) -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)
    assert signature is not None
    return {"x-slack-signature": signature, "x-slack-request-timestamp": str(ts)}


def configured(secrets: list[str], **extra: Any) -> ConfiguredSource:
    source = {"name": "src", "provider": "slack", "secrets": secrets, **extra}
    return configure_sources(parse({"sources": [source]}, env={}))["src"]


def adapter_signed(source: ConfiguredSource, body: bytes, event_id: str, ts: int = NOW) -> Outgoing:
    """The delivery our adapter's signer makes (what ``hookgate send`` posts)."""
    assert source.provider.sign is not None
    return source.provider.sign(source.settings, body, event_id, ts, "http://hookgate/webhooks/src")


def verifier(secrets: list[str] | None = None) -> Verifier:
    return configured(secrets or [SECRET]).verifier


def flip(body: bytes, index: int = -2) -> bytes:
    changed = bytearray(body)
    changed[index] ^= 0x01
    return bytes(changed)


# --- the library as sender and receiver ---------------------------------------------------------


def test_our_signature_is_what_slack_sdk_computes() -> None:
    assert sign(SECRET.encode(), NOW, BODY) == slack_headers()["x-slack-signature"]


def test_a_request_signed_by_slack_sdk_verifies_with_the_body_event_id() -> None:
    result = verifier().verify(slack_headers(), BODY, now=NOW)
    assert (result.event_id, result.key_index, result.timestamp, result.reply) == (
        EVENT_ID,
        0,
        NOW,
        None,
    )


def test_our_signed_delivery_passes_slack_sdk() -> None:
    source = configured([SECRET])
    out = adapter_signed(source, BODY, "ignored", NOW)
    assert SLACK_SDK.is_valid_request(out.body, dict(out.headers))


# --- refusals -----------------------------------------------------------------------------------


def test_one_changed_body_byte_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(slack_headers(), flip(BODY), now=NOW)


def test_a_wrong_secret_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(slack_headers(secret="not the app's secret"), BODY, now=NOW)


def test_the_window_is_300_s_both_directions() -> None:
    assert verifier().verify(slack_headers(), BODY, now=NOW + 300).timestamp == NOW
    assert verifier().verify(slack_headers(), BODY, now=NOW - 300).timestamp == NOW
    with pytest.raises(TimestampTooOld, match="301 s old; tolerance is 300 s"):
        verifier().verify(slack_headers(), BODY, now=NOW + 301)
    with pytest.raises(TimestampInFuture, match="301 s ahead"):
        verifier().verify(slack_headers(), BODY, now=NOW - 301)


def test_a_forgery_with_a_stale_timestamp_is_a_mismatch_not_too_old() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(slack_headers(secret="forger"), BODY, now=NOW + 10_000)


def test_a_delivery_signed_with_the_second_secret_reports_key_index_1() -> None:
    assert verifier([OLD_SECRET, SECRET]).verify(slack_headers(), BODY, now=NOW).key_index == 1


GOOD = slack_headers()["x-slack-signature"]
HOSTILE: list[tuple[str, dict[str, str | None], type[IngressError]]] = [
    ("signature-missing", {"x-slack-signature": None}, MissingSignature),
    ("signature-empty", {"x-slack-signature": ""}, MissingSignature),
    (
        "all-missing",
        {"x-slack-signature": None, "x-slack-request-timestamp": None},
        MissingSignature,
    ),
    ("timestamp-missing", {"x-slack-request-timestamp": None}, MissingHeader),
    ("timestamp-empty", {"x-slack-request-timestamp": ""}, MissingHeader),
    ("timestamp-letters", {"x-slack-request-timestamp": "soon"}, MalformedHeader),
    ("timestamp-decimal", {"x-slack-request-timestamp": f"{NOW}.1"}, MalformedHeader),
    ("timestamp-plus", {"x-slack-request-timestamp": f"+{NOW}"}, MalformedHeader),
    ("timestamp-leading-zero", {"x-slack-request-timestamp": f"0{NOW}"}, MalformedHeader),
    ("timestamp-13-digits", {"x-slack-request-timestamp": "9" * 13}, MalformedHeader),
    ("timestamp-arabic-digits", {"x-slack-request-timestamp": "١٢٣"}, MalformedHeader),
    ("signature-v1", {"x-slack-signature": "v1=" + GOOD[3:]}, MissingSignature),
    ("signature-no-prefix", {"x-slack-signature": GOOD[3:]}, MalformedHeader),
    ("signature-uppercase", {"x-slack-signature": "v0=" + GOOD[3:].upper()}, MalformedHeader),
    ("signature-short", {"x-slack-signature": GOOD[:-1]}, MalformedHeader),
    ("signature-long", {"x-slack-signature": GOOD + "0"}, MalformedHeader),
    ("signature-space", {"x-slack-signature": "v0= " + GOOD[3:]}, MalformedHeader),
    ("signature-two", {"x-slack-signature": f"{GOOD},{GOOD}"}, MalformedHeader),
    ("signature-non-ascii", {"x-slack-signature": "v0=" + "é" * 64}, MalformedHeader),
    ("signature-wrong", {"x-slack-signature": "v0=" + "0" * 64}, SignatureMismatch),
    ("other-timestamp", {"x-slack-request-timestamp": str(NOW + 1)}, SignatureMismatch),
]


@pytest.mark.parametrize(
    ("changes", "expected"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_header_gives_its_documented_error(
    changes: dict[str, str | None], expected: type[IngressError]
) -> None:
    headers = slack_headers()
    for name, value in changes.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(IngressError) as exc_info:
        verifier().verify(headers, BODY, now=NOW)
    assert type(exc_info.value) is expected


def test_random_headers_and_bodies_only_ever_raise_ingress_errors() -> None:
    rng = random.Random(20240603)
    v = verifier([OLD_SECRET, SECRET])
    pieces = [GOOD, GOOD[3:], str(NOW), "v0=", "v1=", "=", " ", "\x00", "é", "1"]

    def junk() -> str:
        if rng.random() < 0.5:
            return "".join(rng.choices(string.printable, k=rng.randrange(40)))
        return "".join(rng.choices(pieces, k=rng.randrange(4)))

    outcomes: set[str] = set()
    for _ in range(3000):
        body = (BODY, HANDSHAKE, rng.randbytes(rng.randrange(64)))[rng.randrange(3)]
        headers = slack_headers()
        if rng.random() < 0.5:  # a valid signature for this body (slack_sdk cannot sign non-UTF-8)
            headers["x-slack-signature"] = sign(SECRET.encode(), NOW, body)
        mutate(headers, rng, junk, drop=0.1, change=0.4)
        outcomes.add(outcome(v.verify, headers, body, now=NOW + rng.uniform(-1000, 1000)))
    assert outcomes >= EVERY_OUTCOME


def test_error_detail_never_contains_the_secret_or_the_expected_signature() -> None:
    for headers, now in [
        ({**slack_headers(), "x-slack-signature": "v0=" + "0" * 64}, NOW),
        (slack_headers(), NOW + 10_000),
        ({**slack_headers(), "x-slack-signature": "junk"}, NOW),
    ]:
        with pytest.raises(IngressError) as exc_info:
            verifier().verify(headers, BODY, now=now)
        text = f"{exc_info.value.detail} {exc_info.value!r}"
        assert SECRET not in text
        assert GOOD[3:] not in text


# --- the body: event id and handshake -----------------------------------------------------------


def test_url_verification_is_answered_with_the_challenge() -> None:
    result = verifier().verify(slack_headers(HANDSHAKE), HANDSHAKE, now=NOW)
    assert result.reply is not None
    assert json.loads(result.reply) == {"challenge": CHALLENGE}
    assert result.event_id == body_digest_id(HANDSHAKE)


def test_an_unsigned_url_verification_is_refused_not_answered() -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(slack_headers(HANDSHAKE, secret="forger"), HANDSHAKE, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "url_verification"}',
        b'{"type": "url_verification", "challenge": 42}',
        b'{"type": "url_verification", "challenge": "' + b"c" * 513 + b'"}',
    ],
    ids=["no-challenge", "int-challenge", "huge-challenge"],
)
def test_a_handshake_that_cannot_be_answered_is_kept_as_a_delivery(body: bytes) -> None:
    result = verifier().verify(slack_headers(body), body, now=NOW)
    assert (result.reply, result.event_id) == (None, body_digest_id(body))


@pytest.mark.parametrize(
    "body",
    [
        b"token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&command=%2Fweather&text=94070",
        b'{"type": "event_callback", "event_id": 17}',
        b'{"type": "event_callback", "event_id": "Ev 1"}',
        b'{"type": "event_callback"}',
        b"[" * 50_000,
    ],
    ids=["slash-command-form", "int-event-id", "space-in-event-id", "no-event-id", "deep"],
)
def test_a_body_without_a_usable_event_id_is_identified_by_its_digest(body: bytes) -> None:
    assert verifier().verify(slack_headers(body), body, now=NOW).event_id == body_digest_id(body)


# --- configuration ------------------------------------------------------------------------------


def test_a_source_without_a_secret_fails_at_start_naming_the_key() -> None:
    with pytest.raises(ConfigError) as exc_info:
        configured([])
    assert exc_info.value.key == "sources[0].secrets"


def test_an_unknown_option_is_rejected() -> None:
    with pytest.raises(ConfigError) as exc_info:
        configured([SECRET], verification_token="legacy")
    assert exc_info.value.key == "sources[0].verification_token"


def test_the_tolerance_is_a_source_setting() -> None:
    with pytest.raises(TimestampTooOld, match="tolerance is 60 s"):
        configured([SECRET], tolerance=60).verifier.verify(slack_headers(), BODY, now=NOW + 61)


def test_the_verifier_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SlackVerifier(secrets=[])
    with pytest.raises(ValueError, match="must not be empty"):
        SlackVerifier(secrets=[b""])
    with pytest.raises(ValueError, match="tolerance"):
        SlackVerifier(secrets=[b"s"], tolerance=-1)


def test_kept_headers_are_the_signed_ones() -> None:
    assert verifier().kept_headers == ("x-slack-signature", "x-slack-request-timestamp")


# --- over HTTP ----------------------------------------------------------------------------------


def ingress() -> AbstractAsyncContextManager[tuple[httpx.AsyncClient, FakeProducer]]:
    sources = [{"name": "slack-app", "provider": "slack", "secrets": [SECRET]}]
    return ingress_for(sources, now=float(NOW))


async def test_an_event_signed_by_slack_sdk_is_accepted_and_produced() -> None:
    headers = {**slack_headers(), "content-type": "application/json", "x-slack-retry-num": "1"}
    async with ingress() as (client, producer):
        response = await client.post("/webhooks/slack-app", content=BODY, headers=headers)
    assert (response.status_code, response.json()["event_id"]) == (200, EVENT_ID)
    [record] = producer.produced
    delivery = raw.decode(record.key, record.value, record.headers)
    assert (delivery.provider, delivery.scheme, delivery.event_id, delivery.body) == (
        "slack",
        "slack",
        EVENT_ID,
        BODY,
    )
    assert record.key == f"slack-app:{EVENT_ID}".encode()
    assert dict(delivery.sender_headers) == {
        "x-slack-signature": headers["x-slack-signature"],
        "x-slack-request-timestamp": str(NOW),
    }


async def test_one_changed_byte_is_a_401_and_nothing_is_produced() -> None:
    async with ingress() as (client, producer):
        response = await client.post(
            "/webhooks/slack-app", content=flip(BODY), headers=slack_headers()
        )
    assert (response.status_code, response.json()["error"]) == (401, "signature_mismatch")
    assert producer.produced == []


async def test_url_verification_over_http_is_answered_200_and_not_produced() -> None:
    async with ingress() as (client, producer):
        response = await client.post(
            "/webhooks/slack-app", content=HANDSHAKE, headers=slack_headers(HANDSHAKE)
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"challenge": CHALLENGE}
    assert producer.produced == []
