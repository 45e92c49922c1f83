"""Stripe, Mux and ElevenLabs: ``t=..,v1=..`` in one header over ``{t}.{body}``.

The ``stripe`` library signs and verifies as an independent implementation; Mux and ElevenLabs
publish no Python signer, so ``hmac`` plays them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import string
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
import stripe

from hookgate.send import sample_payload
from ingress.errors import (
    IngressError,
    MalformedHeader,
    MissingSignature,
    SignatureMismatch,
    TimestampInFuture,
    TimestampTooOld,
)
from ingress.providers import ConfiguredSource, configure_sources
from ingress.providers.base import Outgoing
from ingress.schemes.base import Verifier, body_digest_id
from ingress.schemes.parsing import MAX_ID_PARSE_BYTES
from ingress.schemes.timestamped_hmac import TimestampedHmacVerifier, sign
from schemas import raw
from schemas.config import ConfigError, parse
from tests.asgi import ingress_for
from tests.fakes import FakeProducer

# Stripe's library computed this header (see test_the_known_answer_is_what_stripe_computes).
KNOWN_SECRET = "whsec_test_secret"
KNOWN_BODY = b'{"id": "evt_1", "object": "event"}'
KNOWN_TS = 1614265330
KNOWN_HEADER = "t=1614265330,v1=d8ad0119c04884f963d66fde235b40b6fb9b013e987cbf5471d69f2574a46d8e"

STRIPE_SECRET = "whsec_5Xb1nQm2R8tZk4LpW7yVc0Hd3Fj6Ga9S"
OLD_STRIPE_SECRET = "whsec_Old0Secret1Rotated2Away3Soon4Xx"
MUX_SECRET = "mux-signing-secret-9d8c7b6a"
ELEVEN_SECRET = "wsec_f33540691158e6988cf0b0ab0a6f35a18cd9b3e6aa2975c29972fd4f92611c08"
NOW = 1_795_000_000
BODY = sample_payload("stripe")
EVENT_ID = json.loads(BODY)["id"]


def configured(provider: str, secrets: list[str], **extra: Any) -> ConfiguredSource:
    source = {"name": "src", "provider": provider, "secrets": secrets, **extra}
    return configure_sources(parse({"sources": [source]}, env={}))["src"]


def adapter_signed(source: ConfiguredSource, body: bytes, event_id: str, ts: int = NOW) -> Outgoing:
    """The delivery our adapter's signer makes (what ``hookgate send`` posts)."""
    assert source.provider.sign is not None
    return source.provider.sign(source.settings, body, event_id, ts, "http://hookgate/webhooks/src")


def stripe_verifier(secrets: list[str] | None = None) -> Verifier:
    return configured("stripe", secrets or [STRIPE_SECRET]).verifier


def stripe_header(body: bytes = BODY, ts: int = NOW, secret: str = STRIPE_SECRET) -> str:
    # Stripe's own code: it signs the body as text, exactly as its servers do.
    header: str = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, ts)
    return header


def flip(body: bytes, index: int = -2) -> bytes:
    """``body`` with one byte changed (a bit of the byte at ``index``)."""
    changed = bytearray(body)
    changed[index] ^= 0x01
    return bytes(changed)


def hexmac(secret: str, content: bytes) -> str:
    return hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


# --- Stripe: the library as the sender and as the receiver --------------------------------------


def test_the_known_answer_is_what_stripe_computes() -> None:
    ours = sign(KNOWN_SECRET.encode(), KNOWN_TS, KNOWN_BODY)
    assert ours == KNOWN_HEADER == stripe_header(KNOWN_BODY, KNOWN_TS, KNOWN_SECRET)


def test_the_known_answer_verifies_with_the_body_id() -> None:
    result = stripe_verifier([KNOWN_SECRET]).verify(
        {"stripe-signature": KNOWN_HEADER}, KNOWN_BODY, now=KNOWN_TS
    )
    assert (result.event_id, result.key_index, result.timestamp) == ("evt_1", 0, KNOWN_TS)


def test_a_header_signed_by_the_stripe_library_verifies() -> None:
    result = stripe_verifier().verify({"stripe-signature": stripe_header()}, BODY, now=NOW)
    assert (result.event_id, result.key_index) == (EVENT_ID, 0)


def test_our_signed_delivery_passes_the_stripe_library() -> None:
    now = int(time.time())  # the library checks against the real clock
    out = adapter_signed(configured("stripe", [STRIPE_SECRET]), BODY, "ignored", now)
    event = stripe.Webhook.construct_event(out.body, out.headers["stripe-signature"], STRIPE_SECRET)
    assert event.id == EVENT_ID


def test_the_key_is_the_whole_whsec_string_not_its_base64_decoding() -> None:
    import base64

    decoded = base64.b64decode(STRIPE_SECRET.removeprefix("whsec_") + "==")
    header = sign(decoded, NOW, BODY)
    with pytest.raises(SignatureMismatch):
        stripe_verifier().verify({"stripe-signature": header}, BODY, now=NOW)


def test_one_changed_body_byte_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        stripe_verifier().verify({"stripe-signature": stripe_header()}, flip(BODY), now=NOW)


def test_a_wrong_secret_is_a_mismatch() -> None:
    header = stripe_header(secret="whsec_not_the_senders_secret")
    with pytest.raises(SignatureMismatch):
        stripe_verifier().verify({"stripe-signature": header}, BODY, now=NOW)


# --- Stripe: the window -------------------------------------------------------------------------


def test_stripe_accepts_a_timestamp_exactly_at_the_tolerance_either_side() -> None:
    for now in (NOW + 300, NOW - 300):
        assert stripe_verifier().verify({"stripe-signature": stripe_header()}, BODY, now).timestamp


def test_a_stale_stripe_timestamp_is_too_old() -> None:
    with pytest.raises(TimestampTooOld, match="301 s old; tolerance is 300 s"):
        stripe_verifier().verify({"stripe-signature": stripe_header()}, BODY, now=NOW + 301)


def test_the_stripe_library_accepts_any_future_timestamp_which_is_why_we_check_it() -> None:
    ahead = int(time.time()) + 86_400
    assert stripe.WebhookSignature.verify_header(
        BODY, stripe_header(ts=ahead), STRIPE_SECRET, tolerance=300
    )
    with pytest.raises(TimestampInFuture, match="301 s ahead"):
        stripe_verifier().verify({"stripe-signature": stripe_header()}, BODY, now=NOW - 301)


def test_the_tolerance_is_a_source_setting() -> None:
    verifier = configured("stripe", [STRIPE_SECRET], tolerance=10).verifier
    with pytest.raises(TimestampTooOld, match="tolerance is 10 s"):
        verifier.verify({"stripe-signature": stripe_header()}, BODY, now=NOW + 11)


def test_a_forgery_with_a_stale_timestamp_is_a_mismatch_not_too_old() -> None:
    header = stripe_header(secret="whsec_forger")
    with pytest.raises(SignatureMismatch):
        stripe_verifier().verify({"stripe-signature": header}, BODY, now=NOW + 10_000)


# --- Stripe: rotation -------------------------------------------------------------------------


def test_several_v1_entries_verify_when_any_matches() -> None:
    old = stripe_header(secret=OLD_STRIPE_SECRET).split(",")[1]
    header = f"{stripe_header()},{old}"  # t=..,v1=<new>,v1=<old>: Stripe during a roll
    assert stripe_verifier().verify({"stripe-signature": header}, BODY, now=NOW).key_index == 0
    only_old = stripe_verifier([OLD_STRIPE_SECRET])
    assert only_old.verify({"stripe-signature": header}, BODY, now=NOW).key_index == 0


def test_a_delivery_signed_with_the_second_secret_reports_key_index_1() -> None:
    verifier = stripe_verifier([OLD_STRIPE_SECRET, STRIPE_SECRET])
    assert verifier.verify({"stripe-signature": stripe_header()}, BODY, now=NOW).key_index == 1


def test_key_index_follows_configured_order_not_entry_order() -> None:
    old = stripe_header(secret=OLD_STRIPE_SECRET).split(",")[1]
    header = f"{stripe_header()},{old}"
    verifier = stripe_verifier([OLD_STRIPE_SECRET, STRIPE_SECRET])
    assert verifier.verify({"stripe-signature": header}, BODY, now=NOW).key_index == 0


def test_a_test_mode_v0_entry_is_ignored() -> None:
    # Stripe adds v0=<signature with the test secret> for test-mode events; it is not ours.
    header = stripe_header() + ",v0=" + "0" * 64
    assert stripe_verifier().verify({"stripe-signature": header}, BODY, now=NOW).key_index == 0


# --- event ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "event"}',
        b'{"id": 12345}',
        b'{"id": "evt with spaces"}',
        b'{"id": ""}',
        b'["evt_1"]',
        b"not json at all",
        b'{"id": "evt_\xff"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["no-id", "int-id", "spaces", "empty", "array", "not-json", "not-utf8", "deep"],
)
def test_a_body_without_a_usable_id_is_identified_by_its_digest(body: bytes) -> None:
    result = stripe_verifier().verify({"stripe-signature": stripe_header_raw(body)}, body, NOW)
    assert result.event_id == body_digest_id(body)


def stripe_header_raw(body: bytes) -> str:
    return sign(STRIPE_SECRET.encode(), NOW, body)


def test_a_body_over_the_parse_bound_is_identified_by_its_digest() -> None:
    body = b'{"id": "evt_big", "pad": "' + b"x" * MAX_ID_PARSE_BYTES + b'"}'
    result = stripe_verifier().verify({"stripe-signature": stripe_header_raw(body)}, body, NOW)
    assert result.event_id == body_digest_id(body)


def test_an_unverified_body_is_never_parsed() -> None:
    # A deep body with a wrong signature costs one HMAC, then a 401: the parse never runs.
    body = b"[" * 100_000
    with pytest.raises(SignatureMismatch):
        stripe_verifier().verify({"stripe-signature": stripe_header_raw(b"")}, body, NOW)


# --- hostile headers ----------------------------------------------------------------------------

GOOD_SIG = stripe_header().split(",")[1]
GOOD_HEX = GOOD_SIG.removeprefix("v1=")
HOSTILE: list[tuple[str, str | None, type[IngressError]]] = [
    ("missing", None, MissingSignature),
    ("empty", "", MissingSignature),
    ("only-t", f"t={NOW}", MissingSignature),
    ("only-v0", f"t={NOW},v0={GOOD_HEX}", MissingSignature),
    ("no-t", GOOD_SIG, MalformedHeader),
    ("two-t", f"t={NOW},t={NOW},{GOOD_SIG}", MalformedHeader),
    ("t-letters", f"t=soon,{GOOD_SIG}", MalformedHeader),
    ("t-negative", f"t=-{NOW},{GOOD_SIG}", MalformedHeader),
    ("t-leading-zero", f"t=0{NOW},{GOOD_SIG}", MalformedHeader),
    ("t-decimal", f"t={NOW}.5,{GOOD_SIG}", MalformedHeader),
    ("t-13-digits", f"t={'9' * 13},{GOOD_SIG}", MalformedHeader),
    ("t-fullwidth", "t=" + "".join(chr(0xFF10 + int(d)) for d in str(NOW)), MalformedHeader),
    ("t-empty", f"t=,{GOOD_SIG}", MalformedHeader),
    ("space-after-comma", f"t={NOW}, {GOOD_SIG}", MalformedHeader),
    ("trailing-comma", f"t={NOW},{GOOD_SIG},", MalformedHeader),
    ("item-without-equals", f"t={NOW},{GOOD_SIG},v1", MalformedHeader),
    ("semicolons", f"t={NOW};{GOOD_SIG}", MalformedHeader),
    ("v1-uppercase-hex", f"t={NOW},v1={GOOD_HEX.upper()}", MalformedHeader),
    ("v1-short", f"t={NOW},v1={GOOD_HEX[:-1]}", MalformedHeader),
    ("v1-long", f"t={NOW},v1={GOOD_HEX}0", MalformedHeader),
    ("v1-base64", f"t={NOW},v1=" + "A" * 43 + "=", MalformedHeader),
    ("v1-non-ascii", f"t={NOW},v1=" + "é" * 64, MalformedHeader),
    ("17-items", f"t={NOW}," + ",".join([GOOD_SIG] * 16), MalformedHeader),
    ("nul", f"t={NOW},{GOOD_SIG}\x00", MalformedHeader),
    ("wrong-but-well-formed", f"t={NOW},v1={'0' * 64}", SignatureMismatch),
    ("other-timestamp", f"t={NOW + 1},{GOOD_SIG}", SignatureMismatch),
]


@pytest.mark.parametrize(
    ("value", "expected"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_header_gives_its_documented_error(
    value: str | None, expected: type[IngressError]
) -> None:
    headers = {} if value is None else {"stripe-signature": value}
    with pytest.raises(IngressError) as exc_info:
        stripe_verifier().verify(headers, BODY, now=NOW)
    assert type(exc_info.value) is expected


def test_a_header_at_the_item_limit_still_verifies() -> None:
    header = f"t={NOW}," + ",".join([GOOD_SIG] * 15)
    assert stripe_verifier().verify({"stripe-signature": header}, BODY, now=NOW).key_index == 0


def test_random_headers_and_bodies_only_ever_raise_ingress_errors() -> None:
    rng = random.Random(20240602)
    verifier = stripe_verifier([OLD_STRIPE_SECRET, STRIPE_SECRET])
    pieces = [f"t={NOW}", GOOD_SIG, GOOD_HEX, "t=", "v1=", "v0=", ",", "=", " ", "\x00", "é"]

    def junk() -> str:
        match rng.randrange(3):
            case 0:
                return rng.randbytes(rng.randrange(64)).decode("latin-1")
            case 1:
                return "".join(rng.choices(string.printable, k=rng.randrange(64)))
            case _:
                return "".join(rng.choices(pieces, k=rng.randrange(8)))

    outcomes: set[str] = set()
    for _ in range(3000):
        roll = rng.random()
        value = stripe_header() if roll < 0.3 else junk()
        headers = {} if roll > 0.95 else {"stripe-signature": value}
        body = BODY if rng.random() < 0.7 else rng.randbytes(rng.randrange(64))
        try:
            verifier.verify(headers, body, now=NOW + rng.uniform(-1000, 1000))
            outcomes.add("ok")
        except IngressError as exc:
            outcomes.add(exc.reason)
    assert outcomes >= {
        "ok",
        "malformed_header",
        "missing_signature",
        "signature_mismatch",
        "timestamp_too_old",
        "timestamp_in_future",
    }


@pytest.mark.parametrize(
    ("header", "now"),
    [
        (f"t={NOW},v1={'0' * 64}", NOW),
        (stripe_header(), NOW + 10_000),
        (stripe_header(), NOW - 10_000),
        (f"t={NOW},v1=junk", NOW),
    ],
    ids=["mismatch", "too-old", "in-future", "malformed"],
)
def test_error_detail_never_contains_the_secret_or_the_expected_signature(
    header: str, now: int
) -> None:
    with pytest.raises(IngressError) as exc_info:
        stripe_verifier().verify({"stripe-signature": header}, BODY, now=now)
    text = f"{exc_info.value.detail} {exc_info.value!r}"
    assert STRIPE_SECRET not in text
    assert STRIPE_SECRET.removeprefix("whsec_") not in text
    assert GOOD_HEX not in text


# --- Mux -----------------------------------------------------------------------------------------

MUX_BODY = sample_payload("mux")


def mux_header(body: bytes = MUX_BODY, ts: int = NOW, secret: str = MUX_SECRET) -> dict[str, str]:
    return {"mux-signature": f"t={ts},v1={hexmac(secret, f'{ts}.'.encode() + body)}"}


def test_mux_verifies_with_the_event_id_from_the_body() -> None:
    result = configured("mux", [MUX_SECRET]).verifier.verify(mux_header(), MUX_BODY, now=NOW)
    assert (result.event_id, result.key_index) == (json.loads(MUX_BODY)["id"], 0)


@pytest.mark.parametrize(
    ("now", "expected"),
    [(NOW + 301, TimestampTooOld), (NOW - 301, TimestampInFuture)],
    ids=["too-old", "in-future"],
)
def test_mux_checks_300_s_both_directions(now: int, expected: type[IngressError]) -> None:
    with pytest.raises(expected):
        configured("mux", [MUX_SECRET]).verifier.verify(mux_header(), MUX_BODY, now=now)


def test_mux_tampering_and_rotation() -> None:
    verifier = configured("mux", ["old-mux-secret", MUX_SECRET]).verifier
    assert verifier.verify(mux_header(), MUX_BODY, now=NOW).key_index == 1
    with pytest.raises(SignatureMismatch):
        verifier.verify(mux_header(), flip(MUX_BODY), now=NOW)


# --- ElevenLabs ---------------------------------------------------------------------------------

ELEVEN_BODY = sample_payload("elevenlabs")


def eleven_header(ts: int = NOW, secret: str = ELEVEN_SECRET) -> dict[str, str]:
    return {"elevenlabs-signature": f"t={ts},v0={hexmac(secret, f'{ts}.'.encode() + ELEVEN_BODY)}"}


def eleven_verifier() -> Verifier:
    return configured("elevenlabs", [ELEVEN_SECRET]).verifier


def test_elevenlabs_verifies_v0_and_uses_the_body_digest_as_id() -> None:
    result = eleven_verifier().verify(eleven_header(), ELEVEN_BODY, now=NOW)
    assert (result.event_id, result.key_index) == (body_digest_id(ELEVEN_BODY), 0)


def test_elevenlabs_window_is_30_minutes_in_the_past() -> None:
    assert eleven_verifier().verify(eleven_header(), ELEVEN_BODY, now=NOW + 1800).timestamp
    with pytest.raises(TimestampTooOld, match="tolerance is 1800 s"):
        eleven_verifier().verify(eleven_header(), ELEVEN_BODY, now=NOW + 1801)


def test_elevenlabs_accepts_a_future_timestamp_as_its_sdk_does() -> None:
    assert eleven_verifier().verify(eleven_header(), ELEVEN_BODY, now=NOW - 86_400).timestamp


def test_elevenlabs_ignores_v1_entries() -> None:
    header = eleven_header()["elevenlabs-signature"].replace("v0=", "v1=")
    with pytest.raises(MissingSignature):
        eleven_verifier().verify({"elevenlabs-signature": header}, ELEVEN_BODY, now=NOW)


def test_elevenlabs_wrong_secret_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        eleven_verifier().verify(eleven_header(secret="wsec_other"), ELEVEN_BODY, now=NOW)


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["stripe", "mux", "elevenlabs"])
def test_a_source_without_a_secret_fails_at_start_naming_the_key(provider: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        configured(provider, [])
    assert exc_info.value.key == "sources[0].secrets"


@pytest.mark.parametrize("provider", ["stripe", "mux", "elevenlabs"])
def test_an_unknown_option_is_rejected(provider: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        configured(provider, [STRIPE_SECRET], signature_header="x-other")
    assert exc_info.value.key == "sources[0].signature_header"


def test_a_stripe_secret_without_its_prefix_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as exc_info:
        configured("stripe", [STRIPE_SECRET, "5Xb1nQm2R8tZk4Lp"])
    assert exc_info.value.key == "sources[0].secrets[1]"
    assert "5Xb1nQm2R8tZk4Lp" not in str(exc_info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"secrets": []}, "at least one"),
        ({"secrets": [b""]}, "must not be empty"),
        ({"tolerance": -1}, "tolerance"),
        ({"key": "t"}, "signature key"),
    ],
    ids=["no-secret", "empty-secret", "negative-tolerance", "key-t"],
)
def test_the_verifier_rejects_bad_parameters(kwargs: dict[str, Any], match: str) -> None:
    arguments: dict[str, Any] = {"secrets": [b"s"], "header": "x-sig", **kwargs}
    with pytest.raises(ValueError, match=match):
        TimestampedHmacVerifier(**arguments)


def test_kept_headers_are_the_signature_header() -> None:
    assert stripe_verifier().kept_headers == ("stripe-signature",)
    assert eleven_verifier().kept_headers == ("elevenlabs-signature",)


@pytest.mark.parametrize("provider", ["stripe", "mux", "elevenlabs"])
def test_each_provider_verifies_its_own_signed_sample(provider: str) -> None:
    secret = STRIPE_SECRET if provider == "stripe" else MUX_SECRET
    source = configured(provider, [secret])
    body = sample_payload(provider)
    out = adapter_signed(source, body, "msg_x", NOW)
    result = source.verifier.verify(out.headers, out.body, now=NOW)
    expected = body_digest_id(body) if provider == "elevenlabs" else json.loads(body)["id"]
    assert (result.event_id, source.provider.scheme) == (expected, "timestamped-hmac")


# --- over HTTP: the provider's own signer, through the ingress ----------------------------------


def ingress() -> AbstractAsyncContextManager[tuple[httpx.AsyncClient, FakeProducer]]:
    sources = [
        {"name": "stripe-live", "provider": "stripe", "secrets": [STRIPE_SECRET]},
        {"name": "mux-prod", "provider": "mux", "secrets": [MUX_SECRET]},
        {"name": "voice", "provider": "elevenlabs", "secrets": [ELEVEN_SECRET]},
    ]
    return ingress_for(sources, now=float(NOW))


Sender = Callable[[bytes], dict[str, str]]
SENDERS: list[tuple[str, str, bytes, Sender, str]] = [
    ("stripe-live", "stripe", BODY, lambda b: {"stripe-signature": stripe_header(b)}, EVENT_ID),
    ("mux-prod", "mux", MUX_BODY, mux_header, json.loads(MUX_BODY)["id"]),
    ("voice", "elevenlabs", ELEVEN_BODY, lambda b: eleven_header(), body_digest_id(ELEVEN_BODY)),
]


@pytest.mark.parametrize(("source", "provider", "body", "sender", "event_id"), SENDERS)
async def test_a_signed_delivery_is_accepted_and_produced_as_a_raw_record(
    source: str, provider: str, body: bytes, sender: Sender, event_id: str
) -> None:
    headers = {**sender(body), "content-type": "application/json"}
    async with ingress() as (client, producer):
        response = await client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert (response.status_code, response.json()["event_id"]) == (200, event_id)
    [record] = producer.produced
    delivery = raw.decode(record.key, record.value, record.headers)
    assert (delivery.provider, delivery.scheme, delivery.event_id) == (
        provider,
        "timestamped-hmac",
        event_id,
    )
    assert delivery.body == body
    signature_header = next(iter(sender(body)))
    assert dict(delivery.sender_headers) == {signature_header: headers[signature_header]}


@pytest.mark.parametrize(("source", "provider", "body", "sender", "event_id"), SENDERS)
async def test_one_changed_byte_is_a_401_and_nothing_is_produced(
    source: str, provider: str, body: bytes, sender: Sender, event_id: str
) -> None:
    async with ingress() as (client, producer):
        response = await client.post(
            f"/webhooks/{source}", content=flip(body), headers=sender(body)
        )
    assert (response.status_code, response.json()["error"]) == (401, "signature_mismatch")
    assert producer.produced == []
