"""GitHub, PagerDuty and Shopify: HMAC-SHA256 over the raw body, the event id from a header.

None of them publishes a Python verifier, so ``hmac`` and ``base64`` play the senders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import string
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from hookgate.send import sample_payload
from ingress.errors import IngressError, MalformedHeader, MissingSignature, SignatureMismatch
from ingress.providers import ConfiguredSource, configure_sources
from ingress.providers.base import Outgoing
from ingress.schemes.base import Verifier, body_digest_id
from ingress.schemes.body_hmac import GITHUB, PAGERDUTY, SHOPIFY, BodyHmacVerifier, sign
from schemas import raw
from schemas.config import ConfigError, parse
from tests.asgi import ingress_for
from tests.fakes import FakeProducer

# GitHub's documented test values ("Validating webhook deliveries").
GITHUB_DOC_SECRET = "It's a Secret to Everybody"
GITHUB_DOC_BODY = b"Hello, World!"
GITHUB_DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SECRET = "s3cr3t-shared-with-the-sender"
OLD_SECRET = "the-previous-secret"
NOW = 1_795_000_000
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def configured(provider: str, secrets: list[str], **extra: Any) -> ConfiguredSource:
    source = {"name": "src", "provider": provider, "secrets": secrets, **extra}
    return configure_sources(parse({"sources": [source]}, env={}))["src"]


def adapter_signed(source: ConfiguredSource, body: bytes, event_id: str, ts: int = NOW) -> Outgoing:
    """The delivery our adapter's signer makes (what ``hookgate send`` posts)."""
    assert source.provider.sign is not None
    return source.provider.sign(source.settings, body, event_id, ts, "http://hookgate/webhooks/src")


def verifier(provider: str, secrets: list[str] | None = None) -> Verifier:
    return configured(provider, secrets or [SECRET]).verifier


def digest(body: bytes, secret: str = SECRET) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def flip(body: bytes, index: int = -2) -> bytes:
    changed = bytearray(body)
    changed[index] ^= 0x01
    return bytes(changed)


# The senders, played independently of ingress.schemes.body_hmac.
def github_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-hub-signature-256": "sha256=" + digest(body, secret).hex(),
        "x-github-delivery": DELIVERY,
        "x-github-event": "push",
        "x-github-hook-id": "292430182",
    }


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    entries = ",".join("v1=" + digest(body, s).hex() for s in secrets or (SECRET,))
    return {"x-pagerduty-signature": entries, "x-webhook-id": "PD_WEBHOOK_01HBX"}


def shopify_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-shopify-hmac-sha256": base64.b64encode(digest(body, secret)).decode(),
        "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "x-shopify-topic": "orders/create",
        "x-shopify-shop-domain": "shop.myshopify.com",
        "x-shopify-triggered-at": "2026-11-18T11:06:30.877041743Z",
        "x-shopify-api-version": "2025-07",
    }


GITHUB_BODY = sample_payload("github")
PAGERDUTY_BODY = sample_payload("pagerduty")
SHOPIFY_BODY = sample_payload("shopify")


# --- known answers ------------------------------------------------------------------------------


def test_githubs_documented_vector_verifies() -> None:
    v = verifier("github", [GITHUB_DOC_SECRET])
    headers = {"x-hub-signature-256": GITHUB_DOC_SIGNATURE, "x-github-delivery": DELIVERY}
    result = v.verify(headers, GITHUB_DOC_BODY, now=NOW)
    assert (result.event_id, result.key_index, result.timestamp) == (DELIVERY, 0, None)


def test_sign_reproduces_githubs_documented_vector() -> None:
    assert sign(GITHUB_DOC_SECRET.encode(), GITHUB_DOC_BODY, GITHUB) == GITHUB_DOC_SIGNATURE


def test_sign_writes_each_format() -> None:
    body = b'{"a": 1}'
    assert sign(SECRET.encode(), body, PAGERDUTY) == "v1=" + digest(body).hex()
    assert sign(SECRET.encode(), body, SHOPIFY) == base64.b64encode(digest(body)).decode()


# --- each provider: its sender accepted, tampering and wrong secrets refused ------------------

Headers = Callable[[bytes], dict[str, str]]
PLAYED: list[tuple[str, bytes, Headers, str]] = [
    ("github", GITHUB_BODY, github_headers, DELIVERY),
    ("pagerduty", PAGERDUTY_BODY, pagerduty_headers, "PD_WEBHOOK_01HBX"),
    ("shopify", SHOPIFY_BODY, shopify_headers, "98880550-7158-44d4-b7cd-2c97c8a091b5"),
]
IDS = [p[0] for p in PLAYED]


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_the_senders_delivery_verifies_with_the_header_event_id(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    result = verifier(provider).verify(headers(body), body, now=NOW)
    assert (result.event_id, result.key_index, result.timestamp) == (event_id, 0, None)


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_one_changed_body_byte_is_a_mismatch(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    with pytest.raises(SignatureMismatch):
        verifier(provider).verify(headers(body), flip(body), now=NOW)


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_a_wrong_secret_is_a_mismatch(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    with pytest.raises(SignatureMismatch):
        verifier(provider, ["not the sender's secret"]).verify(headers(body), body, now=NOW)


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_a_delivery_signed_with_the_second_secret_reports_key_index_1(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    assert verifier(provider, [OLD_SECRET, SECRET]).verify(headers(body), body, NOW).key_index == 1


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_nothing_is_signed_but_the_body_so_any_time_is_accepted(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    assert verifier(provider).verify(headers(body), body, now=0).timestamp is None


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_our_signed_sample_verifies(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    source = configured(provider, [SECRET])
    out = adapter_signed(source, body, "evt_42", NOW)
    assert source.verifier.verify(out.headers, out.body, now=NOW).event_id == "evt_42"
    assert source.provider.scheme == "body-hmac"


# --- PagerDuty: a list of v1 entries --------------------------------------------------------


def test_pagerduty_sends_one_entry_per_secret_and_any_may_match() -> None:
    headers = pagerduty_headers(PAGERDUTY_BODY, OLD_SECRET, SECRET)
    assert verifier("pagerduty").verify(headers, PAGERDUTY_BODY, now=NOW).key_index == 0
    both = verifier("pagerduty", [SECRET, OLD_SECRET])
    assert both.verify(headers, PAGERDUTY_BODY, now=NOW).key_index == 0  # configured order


def test_pagerduty_ignores_entries_of_other_versions_and_spaces_after_commas() -> None:
    good = pagerduty_headers(PAGERDUTY_BODY)["x-pagerduty-signature"]
    headers = {"x-pagerduty-signature": f"v2=somethingnew, {good}"}
    assert verifier("pagerduty").verify(headers, PAGERDUTY_BODY, now=NOW).key_index == 0


def test_pagerduty_signer_signs_with_every_secret() -> None:
    source = configured("pagerduty", [OLD_SECRET, SECRET])
    out = adapter_signed(source, PAGERDUTY_BODY, "e1", NOW)
    assert (
        out.headers["x-pagerduty-signature"]
        == pagerduty_headers(PAGERDUTY_BODY, OLD_SECRET, SECRET)["x-pagerduty-signature"]
    )


# --- event ids ----------------------------------------------------------------------------------


def test_shopify_falls_back_to_the_webhook_id_then_to_the_digest() -> None:
    headers = shopify_headers(SHOPIFY_BODY)
    del headers["x-shopify-event-id"]
    v = verifier("shopify")
    assert v.verify(headers, SHOPIFY_BODY, now=NOW).event_id == headers["x-shopify-webhook-id"]
    del headers["x-shopify-webhook-id"]
    assert v.verify(headers, SHOPIFY_BODY, now=NOW).event_id == body_digest_id(SHOPIFY_BODY)


@pytest.mark.parametrize(
    ("provider", "body", "headers", "id_header"),
    [
        ("github", GITHUB_BODY, github_headers, "x-github-delivery"),
        ("pagerduty", PAGERDUTY_BODY, pagerduty_headers, "x-webhook-id"),
    ],
    ids=["github", "pagerduty"],
)
def test_an_absent_or_empty_id_header_falls_back_to_the_digest(
    provider: str, body: bytes, headers: Headers, id_header: str
) -> None:
    h = headers(body)
    for value in ("", None):
        if value is None:
            del h[id_header]
        else:
            h[id_header] = value
        assert verifier(provider).verify(h, body, now=NOW).event_id == body_digest_id(body)


@pytest.mark.parametrize("bad", ["has space", "tab\there", "x" * 257, "é", "nul\x00"])
def test_a_malformed_id_header_is_refused_after_the_signature(bad: str) -> None:
    headers = {**github_headers(GITHUB_BODY), "x-github-delivery": bad}
    with pytest.raises(MalformedHeader, match="x-github-delivery"):
        verifier("github").verify(headers, GITHUB_BODY, now=NOW)
    # ... but a forgery is reported as a forgery, whatever its id header says.
    forged = {**github_headers(GITHUB_BODY, "forger"), "x-github-delivery": bad}
    with pytest.raises(SignatureMismatch):
        verifier("github").verify(forged, GITHUB_BODY, now=NOW)


# --- hostile headers ----------------------------------------------------------------------------

GH = github_headers(GITHUB_BODY)["x-hub-signature-256"]
PD = pagerduty_headers(PAGERDUTY_BODY)["x-pagerduty-signature"]
SH = shopify_headers(SHOPIFY_BODY)["x-shopify-hmac-sha256"]
HOSTILE: list[tuple[str, str, str | None, type[IngressError]]] = [
    ("github-missing", "github", None, MissingSignature),
    ("github-empty", "github", "", MissingSignature),
    ("github-no-prefix", "github", GH.removeprefix("sha256="), MalformedHeader),
    ("github-sha1", "github", "sha1=" + "0" * 40, MalformedHeader),
    ("github-uppercase", "github", "sha256=" + GH[7:].upper(), MalformedHeader),
    ("github-uppercase-prefix", "github", "SHA256=" + GH[7:], MalformedHeader),
    ("github-short", "github", GH[:-1], MalformedHeader),
    ("github-long", "github", GH + "0", MalformedHeader),
    ("github-two", "github", f"{GH},{GH}", MalformedHeader),
    ("github-base64", "github", "sha256=" + SH, MalformedHeader),
    ("github-non-ascii", "github", "sha256=" + "é" * 64, MalformedHeader),
    ("github-wrong", "github", "sha256=" + "0" * 64, SignatureMismatch),
    ("pagerduty-missing", "pagerduty", None, MissingSignature),
    ("pagerduty-only-other-versions", "pagerduty", "v2=abc,v3=def", MissingSignature),
    ("pagerduty-bare-hex", "pagerduty", PD.removeprefix("v1="), MalformedHeader),
    ("pagerduty-empty-entry", "pagerduty", f"{PD},,{PD}", MalformedHeader),
    ("pagerduty-trailing-comma", "pagerduty", f"{PD},", MalformedHeader),
    ("pagerduty-bad-v1", "pagerduty", f"{PD},v1=xyz", MalformedHeader),
    ("pagerduty-17-entries", "pagerduty", ",".join([PD] * 17), MalformedHeader),
    ("pagerduty-semicolons", "pagerduty", f"{PD};{PD}", MalformedHeader),
    ("pagerduty-wrong", "pagerduty", "v1=" + "0" * 64, SignatureMismatch),
    ("shopify-missing", "shopify", None, MissingSignature),
    ("shopify-hex", "shopify", digest(SHOPIFY_BODY).hex(), MalformedHeader),
    ("shopify-unpadded", "shopify", SH.rstrip("="), MalformedHeader),
    ("shopify-extra-padding", "shopify", SH + "=", MalformedHeader),
    ("shopify-non-canonical", "shopify", SH[:-2] + chr(ord(SH[-2]) ^ 1) + "=", MalformedHeader),
    ("shopify-urlsafe", "shopify", SH.translate(str.maketrans("+/", "-_")) + "-", MalformedHeader),
    ("shopify-16-bytes", "shopify", base64.b64encode(b"x" * 16).decode(), MalformedHeader),
    ("shopify-space", "shopify", " " + SH, MalformedHeader),
    ("shopify-non-ascii", "shopify", "é" * 44, MalformedHeader),
    ("shopify-wrong", "shopify", base64.b64encode(b"x" * 32).decode(), SignatureMismatch),
]
BODIES = {"github": GITHUB_BODY, "pagerduty": PAGERDUTY_BODY, "shopify": SHOPIFY_BODY}
SIGNATURE_HEADERS = {
    "github": "x-hub-signature-256",
    "pagerduty": "x-pagerduty-signature",
    "shopify": "x-shopify-hmac-sha256",
}


@pytest.mark.parametrize(
    ("provider", "value", "expected"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_header_gives_its_documented_error(
    provider: str, value: str | None, expected: type[IngressError]
) -> None:
    headers = {} if value is None else {SIGNATURE_HEADERS[provider]: value}
    with pytest.raises(IngressError) as exc_info:
        verifier(provider).verify(headers, BODIES[provider], now=NOW)
    assert type(exc_info.value) is expected


def test_a_pagerduty_header_at_the_entry_limit_still_verifies() -> None:
    headers = {"x-pagerduty-signature": ",".join([PD] * 16)}
    assert verifier("pagerduty").verify(headers, PAGERDUTY_BODY, now=NOW).key_index == 0


@pytest.mark.parametrize("provider", ["github", "pagerduty", "shopify"])
def test_random_headers_and_bodies_only_ever_raise_ingress_errors(provider: str) -> None:
    rng = random.Random(f"20240604-{provider}")
    v = verifier(provider, [OLD_SECRET, SECRET])
    name = SIGNATURE_HEADERS[provider]
    good = {"github": GH, "pagerduty": PD, "shopify": SH}[provider]
    pieces = [good, good[3:], "sha256=", "v1=", "v2=x", ",", "=", "==", " ", "\x00", "é", "+"]

    def junk() -> str:
        if rng.random() < 0.5:
            return "".join(rng.choices(string.printable, k=rng.randrange(80)))
        return "".join(rng.choices(pieces, k=rng.randrange(5)))

    outcomes: set[str] = set()
    for _ in range(2000):
        roll = rng.random()
        headers = {} if roll < 0.05 else {name: good if roll < 0.4 else junk()}
        if rng.random() < 0.3:
            headers["x-github-delivery"] = headers["x-webhook-id"] = junk()
            headers["x-shopify-event-id"] = junk()
        body = BODIES[provider] if rng.random() < 0.8 else rng.randbytes(rng.randrange(64))
        try:
            v.verify(headers, body, now=NOW)
            outcomes.add("ok")
        except IngressError as exc:
            outcomes.add(exc.reason)
    assert outcomes >= {"ok", "malformed_header", "missing_signature", "signature_mismatch"}


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_error_detail_never_contains_the_secret_or_the_expected_signature(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    expected = headers(body)[SIGNATURE_HEADERS[provider]]
    for value in ("junk", "v1=junk", sign(b"forger", body, GITHUB), sign(b"f", body, SHOPIFY)):
        with pytest.raises(IngressError) as exc_info:
            verifier(provider).verify({SIGNATURE_HEADERS[provider]: value}, body, now=NOW)
        text = f"{exc_info.value.detail} {exc_info.value!r}"
        assert SECRET not in text
        assert expected.removeprefix("sha256=").removeprefix("v1=") not in text


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["github", "pagerduty", "shopify"])
def test_a_source_without_a_secret_fails_at_start_naming_the_key(provider: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        configured(provider, [])
    assert exc_info.value.key == "sources[0].secrets"


@pytest.mark.parametrize("provider", ["github", "pagerduty", "shopify"])
def test_a_tolerance_is_refused_because_nothing_is_timestamped(provider: str) -> None:
    with pytest.raises(ConfigError, match="signs no timestamp") as exc_info:
        configured(provider, [SECRET], tolerance=300)
    assert exc_info.value.key == "sources[0].tolerance"


@pytest.mark.parametrize("provider", ["github", "pagerduty", "shopify"])
def test_an_unknown_option_is_rejected(provider: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        configured(provider, [SECRET], id_header="x-request-id")
    assert exc_info.value.key == "sources[0].id_header"


def test_the_verifier_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="at least one"):
        BodyHmacVerifier(secrets=[], header="x", form=GITHUB)
    with pytest.raises(ValueError, match="must not be empty"):
        BodyHmacVerifier(secrets=[b""], header="x", form=GITHUB)


def test_kept_headers_include_what_normalization_reads() -> None:
    assert verifier("github").kept_headers == (
        "x-hub-signature-256",
        "x-github-delivery",
        "x-github-event",
        "x-github-hook-id",
    )
    assert verifier("pagerduty").kept_headers == ("x-pagerduty-signature", "x-webhook-id")
    assert set(verifier("shopify").kept_headers) == {
        "x-shopify-hmac-sha256",
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-event-id",
        "x-shopify-webhook-id",
        "x-shopify-triggered-at",
        "x-shopify-api-version",
    }


def test_github_signer_names_the_event_push_or_ping() -> None:
    source = configured("github", [SECRET])
    push = adapter_signed(source, GITHUB_BODY, "d1")
    ping = adapter_signed(source, b'{"zen": "Keep it logically awesome.", "hook_id": 1}', "d2")
    assert (push.headers["x-github-event"], ping.headers["x-github-event"]) == ("push", "ping")
    assert push.headers["x-github-delivery"] == "d1"


# --- over HTTP ----------------------------------------------------------------------------------


def ingress() -> AbstractAsyncContextManager[tuple[httpx.AsyncClient, FakeProducer]]:
    sources = [
        {"name": p, "provider": p, "secrets": [OLD_SECRET, SECRET]}
        for p in ("github", "pagerduty", "shopify")
    ]
    return ingress_for(sources, now=float(NOW))


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
async def test_a_signed_delivery_is_accepted_and_produced_with_its_kept_headers(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    sent = {**headers(body), "content-type": "application/json", "user-agent": "Sender/1.0"}
    async with ingress() as (client, producer):
        response = await client.post(f"/webhooks/{provider}", content=body, headers=sent)
    assert (response.status_code, response.json()["event_id"]) == (200, event_id)
    [record] = producer.produced
    delivery = raw.decode(record.key, record.value, record.headers)
    assert record.key == f"{provider}:{delivery.dedup_id}".encode()
    assert (delivery.provider, delivery.scheme, delivery.event_id, delivery.body) == (
        provider,
        "body-hmac",
        event_id,
        body,
    )
    # Every sender header the signature or normalization needs, and nothing else.
    assert dict(delivery.sender_headers) == headers(body)


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
async def test_one_changed_byte_is_a_401_and_nothing_is_produced(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    async with ingress() as (client, producer):
        response = await client.post(
            f"/webhooks/{provider}", content=flip(body), headers=headers(body)
        )
    assert (response.status_code, response.json()["error"]) == (401, "signature_mismatch")
    assert producer.produced == []


# --- the record key: what the signature covers, not the unsigned id header ----------------------

#: The id headers each sender sets, none of them covered by its signature.
ID_HEADERS = {
    "github": ("x-github-delivery",),
    "pagerduty": ("x-webhook-id",),
    "shopify": ("x-shopify-event-id", "x-shopify-webhook-id"),
}


async def keys_of(provider: str, *deliveries: tuple[bytes, dict[str, str]]) -> list[bytes]:
    """The raw record keys the ingress writes for ``deliveries`` (each must be accepted)."""
    async with ingress() as (client, producer):
        for body, headers in deliveries:
            response = await client.post(f"/webhooks/{provider}", content=body, headers=headers)
            assert response.status_code == 200, response.text
    return [record.key for record in producer.produced]


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
async def test_a_delivery_replayed_with_a_fresh_id_header_is_keyed_as_the_original(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    # The key is the worker's de-duplication key: the same key is the same event.
    original = headers(body)
    replayed = {**original, **dict.fromkeys(ID_HEADERS[provider], "replayed-0001")}
    first, second = await keys_of(provider, (body, original), (body, replayed))
    assert first == second


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
async def test_another_signed_body_under_the_same_id_header_is_keyed_as_another_event(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    other = body.replace(b"{", b'{"other": 1, ', 1)
    first, second = await keys_of(provider, (body, headers(body)), (other, headers(other)))
    assert first != second


async def test_one_shopify_body_under_two_topics_is_keyed_as_two_events() -> None:
    # Shopify sends the bare resource: orders/create and orders/updated may carry the same bytes.
    created = shopify_headers(SHOPIFY_BODY)
    updated = {**created, "x-shopify-topic": "orders/updated", "x-shopify-event-id": "e-2"}
    first, second = await keys_of("shopify", (SHOPIFY_BODY, created), (SHOPIFY_BODY, updated))
    assert first != second


#: What each sender's de-duplication id digests, as the raw-record schema (format 2) states it.
DEDUP_CONTENT = {
    "github": lambda body: b"push\n" + body,
    "pagerduty": lambda body: body,
    "shopify": lambda body: b"orders/create\n" + body,
}


@pytest.mark.parametrize(("provider", "body", "headers", "event_id"), PLAYED, ids=IDS)
def test_the_dedup_id_is_the_digest_of_the_signed_body_and_the_type_header(
    provider: str, body: bytes, headers: Headers, event_id: str
) -> None:
    result = verifier(provider).verify(headers(body), body, NOW)
    expected = hashlib.sha256(DEDUP_CONTENT[provider](body)).hexdigest()
    assert (result.event_id, result.dedup_id) == (event_id, f"sha256:{expected}")
