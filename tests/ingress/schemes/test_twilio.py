"""Twilio: the ``twilio`` library's ``RequestValidator`` signs (and checks) every variant.

Form bodies (the URL then the sorted parameters), JSON bodies (``bodySHA256`` in the URL, the URL
alone signed), the default-port spellings, ``public_url`` behind a proxy, and shared-key SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from hookgate.send import sample_payload
from ingress.app import create_app
from ingress.errors import IngressError, MalformedHeader, MissingSignature, SignatureMismatch
from ingress.providers import configure_sources
from ingress.schemes.base import body_digest_id
from ingress.schemes.twilio import MAX_FIELDS, TwilioVerifier, port_variants, sign, signed_url
from schemas import raw
from schemas.config import ConfigError, parse
from tests.asgi import client_of
from tests.fakes import FakeProducer

TOKEN = "12345678901234567890123456789012"
OLD_TOKEN = "abcdefabcdefabcdefabcdefabcdefab"
PUBLIC_URL = "https://hooks.example.com/twilio/status"
# What the ingress sees behind the proxy: another scheme, host, port and path.
SEEN_URL = "http://10.0.3.7:8000/webhooks/twilio"
MESSAGE_SID = "SM0123456789abcdef0123456789abcdef"
FORM = {
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "MessageSid": MESSAGE_SID,
    "SmsSid": MESSAGE_SID,
    "MessageStatus": "delivered",
    "From": "+15005550006",
    "To": "+15005550009",
    "Body": "Café at 5? 50% off & free ☕",
    "Empty": "",
}
BODY = urlencode(FORM).encode()


def library_signed(url: str, params: Any, token: str = TOKEN, algorithm: str | None = None) -> str:
    signature: str = RequestValidator(token).compute_signature(url, params, algorithm)
    return signature


def verifier(*tokens: str, public_url: str | None = PUBLIC_URL) -> TwilioVerifier:
    return TwilioVerifier(tokens=[t.encode() for t in tokens or (TOKEN,)], public_url=public_url)


def headers_for(signature: str, **extra: str) -> dict[str, str]:
    return {"x-twilio-signature": signature, **extra}


def json_delivery(body: bytes, query: str = "") -> tuple[str, str]:
    """(the URL Twilio calls, its signature): ``bodySHA256`` appended, the URL alone signed."""
    digest = RequestValidator(TOKEN).compute_hash(body.decode())
    url = f"{PUBLIC_URL}?{query + '&' if query else ''}bodySHA256={digest}"
    return url, library_signed(url, {})


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


class MultiDict(dict[str, list[str]]):
    """What Flask gives the library for repeated form names (``getall``)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


# --- form bodies ----------------------------------------------------------------------------


def test_a_form_signed_by_the_twilio_library_verifies() -> None:
    result = verifier().verify(headers_for(library_signed(PUBLIC_URL, FORM)), BODY, 0, SEEN_URL)
    assert (result.event_id, result.key_index, result.timestamp) == (
        f"{MESSAGE_SID}:delivered",
        0,
        None,
    )


def test_our_signature_is_accepted_by_the_twilio_library() -> None:
    ours = sign(TOKEN.encode(), PUBLIC_URL, list(FORM.items()))
    assert ours == library_signed(PUBLIC_URL, FORM)
    assert RequestValidator(TOKEN).validate(PUBLIC_URL, FORM, ours)


def test_repeated_names_are_sorted_by_value_and_identical_pairs_count_once() -> None:
    pairs = [("b", "2"), ("a", "z"), ("a", "y"), ("a", "z"), ("c", "")]
    expected = library_signed(PUBLIC_URL, MultiDict(a=["z", "y", "z"], b=["2"], c=[""]))
    assert sign(TOKEN.encode(), PUBLIC_URL, pairs) == expected
    body = urlencode(pairs).encode()
    assert verifier().verify(headers_for(expected), body, 0, SEEN_URL).key_index == 0


def test_names_sort_case_sensitively_like_the_library() -> None:
    form = {"b": "1", "B": "2", "a": "3", "_": "4", "é": "5"}
    signature = library_signed(PUBLIC_URL, form)
    assert verifier().verify(headers_for(signature), urlencode(form).encode(), 0, SEEN_URL)


def test_a_form_with_plus_encoded_spaces_and_utf8_verifies() -> None:
    body = b"Body=caf%C3%A9+at+5&From=%2B15005550006"
    signature = library_signed(PUBLIC_URL, {"Body": "café at 5", "From": "+15005550006"})
    assert verifier().verify(headers_for(signature), body, 0, SEEN_URL).key_index == 0


def test_an_empty_body_signs_the_url_alone() -> None:
    signature = library_signed(PUBLIC_URL, {})
    assert verifier().verify(headers_for(signature), b"", 0, SEEN_URL).key_index == 0


@pytest.mark.parametrize("index", [0, 10, len(BODY) // 2, -1])
def test_one_changed_form_byte_is_a_mismatch(index: int) -> None:
    with pytest.raises(SignatureMismatch):
        verifier().verify(
            headers_for(library_signed(PUBLIC_URL, FORM)), flip(BODY, index), 0, SEEN_URL
        )


def test_an_added_form_field_is_a_mismatch() -> None:
    signature = library_signed(PUBLIC_URL, FORM)
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers_for(signature), BODY + b"&Extra=1", 0, SEEN_URL)


def test_another_token_is_a_mismatch() -> None:
    signature = library_signed(PUBLIC_URL, FORM, token="not the account's token")
    with pytest.raises(SignatureMismatch, match="no configured auth token"):
        verifier().verify(headers_for(signature), BODY, 0, SEEN_URL)


def test_the_secondary_token_reports_key_index_1() -> None:
    signature = library_signed(PUBLIC_URL, FORM, token=TOKEN)
    assert (
        verifier(OLD_TOKEN, TOKEN).verify(headers_for(signature), BODY, 0, SEEN_URL).key_index == 1
    )


def test_a_form_beyond_the_field_limit_is_refused_without_parsing_it_all() -> None:
    body = b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS + 1))
    with pytest.raises(SignatureMismatch, match="more than 1000 fields"):
        verifier().verify(headers_for(library_signed(PUBLIC_URL, {})), body, 0, SEEN_URL)


# --- the URL --------------------------------------------------------------------------------


def test_the_query_string_comes_from_the_request_and_is_signed() -> None:
    url = PUBLIC_URL + "?tenant=acme&x=a%20b"
    signature = library_signed(url, FORM)
    assert verifier().verify(headers_for(signature), BODY, 0, SEEN_URL + "?tenant=acme&x=a%20b")
    with pytest.raises(SignatureMismatch):
        verifier().verify(headers_for(signature), BODY, 0, SEEN_URL + "?tenant=evil&x=a%20b")


def test_without_public_url_the_request_url_is_the_signed_url() -> None:
    url = "https://ingress.example.com/webhooks/twilio?a=1"
    signature = library_signed(url, FORM)
    assert verifier(public_url=None).verify(headers_for(signature), BODY, 0, url).key_index == 0
    with pytest.raises(SignatureMismatch):
        verifier(public_url=None).verify(headers_for(signature), BODY, 0, SEEN_URL + "?a=1")


@pytest.mark.parametrize(
    ("signed_as", "public_url"),
    [
        ("https://hooks.example.com:443/twilio/status", PUBLIC_URL),
        (PUBLIC_URL, "https://hooks.example.com:443/twilio/status"),
        ("http://hooks.example.com:80/twilio/status", "http://hooks.example.com/twilio/status"),
        ("http://hooks.example.com/twilio/status", "http://hooks.example.com:80/twilio/status"),
    ],
    ids=["signed-with-443", "configured-with-443", "signed-with-80", "configured-with-80"],
)
def test_both_default_port_spellings_verify(signed_as: str, public_url: str) -> None:
    signature = library_signed(signed_as, FORM)
    v = verifier(public_url=public_url)
    assert v.verify(headers_for(signature), BODY, 0, SEEN_URL).key_index == 0


def test_port_variants_follow_the_library() -> None:
    assert port_variants("https://h/p?q") == ("https://h/p?q", "https://h:443/p?q")
    assert port_variants("https://h:8443/p") == ("https://h:8443/p", "https://h/p")
    assert port_variants("http://[::1]:8080/p") == ("http://[::1]:8080/p", "http://[::1]/p")
    assert port_variants("http://[::1]/p") == ("http://[::1]/p", "http://[::1]:80/p")
    assert port_variants("not a url") == ("not a url",)


def test_signed_url_takes_the_query_from_the_request_only() -> None:
    assert signed_url(PUBLIC_URL, SEEN_URL + "?a=1&b=") == PUBLIC_URL + "?a=1&b="
    assert signed_url(PUBLIC_URL, SEEN_URL) == PUBLIC_URL
    assert signed_url(None, SEEN_URL + "?a") == SEEN_URL + "?a"


# --- JSON bodies ----------------------------------------------------------------------------

JSON_BODY = b'{"MessageSid": "SM1", "status": "delivered", "note": "caf\xc3\xa9"}'


def test_a_json_body_signed_by_the_library_verifies() -> None:
    url, signature = json_delivery(JSON_BODY)
    assert RequestValidator(TOKEN).validate(url, JSON_BODY.decode(), signature)
    request_url = SEEN_URL + "?" + url.partition("?")[2]
    result = verifier().verify(headers_for(signature), JSON_BODY, 0, request_url)
    assert result.event_id == body_digest_id(url.encode() + b"\n" + JSON_BODY)


def test_a_json_body_with_more_query_parameters_verifies() -> None:
    url, signature = json_delivery(JSON_BODY, "tenant=acme")
    request_url = SEEN_URL + "?" + url.partition("?")[2]
    assert verifier().verify(headers_for(signature), JSON_BODY, 0, request_url).key_index == 0


def test_a_changed_json_byte_is_a_mismatch_of_the_body_hash() -> None:
    url, signature = json_delivery(JSON_BODY)
    request_url = SEEN_URL + "?" + url.partition("?")[2]
    with pytest.raises(SignatureMismatch, match="bodySHA256"):
        verifier().verify(headers_for(signature), flip(JSON_BODY, 5), 0, request_url)


def test_a_changed_body_hash_in_the_url_is_a_signature_mismatch() -> None:
    url, signature = json_delivery(JSON_BODY)
    forged = url.replace("bodySHA256=", "bodySHA256=0")[:-1]
    request_url = SEEN_URL + "?" + forged.partition("?")[2]
    with pytest.raises(SignatureMismatch, match="auth token"):
        verifier().verify(headers_for(signature), JSON_BODY, 0, request_url)


def test_a_body_hash_that_is_not_hex_is_a_mismatch_not_a_crash() -> None:
    url = PUBLIC_URL + "?bodySHA256=%E2%98%95"
    signature = library_signed(url, {})
    with pytest.raises(SignatureMismatch, match="bodySHA256"):
        verifier().verify(headers_for(signature), JSON_BODY, 0, SEEN_URL + "?bodySHA256=%E2%98%95")


# --- shared keys (HMAC-SHA256) --------------------------------------------------------------

SETTINGS = "x-twilio-webhooks-signature-settings"


def test_a_shared_key_sha256_signature_verifies() -> None:
    signature = library_signed(PUBLIC_URL, FORM, algorithm="HMAC_SHA256")
    headers = headers_for(
        signature, **{SETTINGS: "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256"}
    )
    assert verifier(OLD_TOKEN, TOKEN).verify(headers, BODY, 0, SEEN_URL).key_index == 1


def test_a_settings_header_without_an_algorithm_means_sha1() -> None:
    headers = headers_for(library_signed(PUBLIC_URL, FORM), **{SETTINGS: "key=k1"})
    assert verifier().verify(headers, BODY, 0, SEEN_URL).key_index == 0


def test_an_unknown_algorithm_is_a_missing_signature() -> None:
    headers = headers_for(library_signed(PUBLIC_URL, FORM), **{SETTINGS: "algorithm=HMAC_MD5"})
    with pytest.raises(MissingSignature, match="HMAC_SHA1 and HMAC_SHA256"):
        verifier().verify(headers, BODY, 0, SEEN_URL)


def test_kept_headers_are_the_signature_and_its_settings() -> None:
    assert verifier().kept_headers == ("x-twilio-signature", SETTINGS)


# --- hostile headers ------------------------------------------------------------------------

VALID = library_signed(PUBLIC_URL, FORM)
SHA256_SIG = library_signed(PUBLIC_URL, FORM, algorithm="HMAC_SHA256")
HOSTILE: list[tuple[str, dict[str, str], type[IngressError]]] = [
    ("missing", {}, MissingSignature),
    ("empty", {"x-twilio-signature": ""}, MissingSignature),
    ("not-base64", {"x-twilio-signature": "not base64!"}, MalformedHeader),
    ("hex", {"x-twilio-signature": "0f" * 20}, MalformedHeader),
    ("truncated", {"x-twilio-signature": VALID[:-4]}, MalformedHeader),
    ("unpadded", {"x-twilio-signature": VALID.rstrip("=")}, MalformedHeader),
    ("extra-padding", {"x-twilio-signature": VALID + "="}, MalformedHeader),
    ("non-canonical", {"x-twilio-signature": VALID[:-2] + "N="}, MalformedHeader),
    (
        "urlsafe",
        {"x-twilio-signature": base64.urlsafe_b64encode(b"\xfb\xff" * 10).decode()},
        MalformedHeader,
    ),
    ("spaces", {"x-twilio-signature": " " + VALID}, MalformedHeader),
    ("non-ascii", {"x-twilio-signature": "é" + VALID[1:]}, MalformedHeader),
    ("sha256-length-without-settings", {"x-twilio-signature": SHA256_SIG}, MalformedHeader),
    (
        "sha1-length-with-sha256-settings",
        {"x-twilio-signature": VALID, SETTINGS: "algorithm=HMAC_SHA256"},
        MalformedHeader,
    ),
    (
        "well-formed-but-wrong",
        {"x-twilio-signature": base64.b64encode(b"x" * 20).decode()},
        SignatureMismatch,
    ),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_header_gives_its_documented_error(
    headers: dict[str, str], expected: type[IngressError]
) -> None:
    with pytest.raises(IngressError) as exc_info:
        verifier().verify(headers, BODY, 0, SEEN_URL)
    assert type(exc_info.value) is expected
    assert TOKEN not in exc_info.value.detail


def test_random_signatures_bodies_and_urls_only_ever_raise_ingress_errors() -> None:
    rng = random.Random(11)
    v = verifier(OLD_TOKEN, TOKEN)
    outcomes: set[str] = set()
    for _ in range(1500):
        headers = {"x-twilio-signature": VALID}
        if rng.random() < 0.4:
            headers["x-twilio-signature"] = "".join(
                rng.choices(string.printable + "é☕", k=rng.randrange(40))
            )
        if rng.random() < 0.2:
            headers[SETTINGS] = "".join(rng.choices("algorithm=HMAC_SHA256,key= ", k=30))
        body = BODY if rng.random() < 0.5 else rng.randbytes(rng.randrange(100))
        url = SEEN_URL if rng.random() < 0.6 else "".join(rng.choices(string.printable, k=40))
        if rng.random() < 0.2:
            url += "?bodySHA256=" + "".join(rng.choices("0123456789abcdef%", k=64))
        try:
            v.verify(headers, body, 0, url)
            outcomes.add("ok")
        except IngressError as exc:
            outcomes.add(exc.reason)
    assert outcomes >= {"ok", "malformed_header", "signature_mismatch", "missing_signature"}


# --- event ids ------------------------------------------------------------------------------


def event_id_of(form: Sequence[tuple[str, str]], url: str = PUBLIC_URL) -> str:
    body = urlencode(form).encode()
    signature = library_signed(url, MultiDict(_grouped(form)))
    return (
        verifier()
        .verify(headers_for(signature), body, 0, SEEN_URL + url[len(PUBLIC_URL) :])
        .event_id
    )


def _grouped(form: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in form:
        grouped.setdefault(name, []).append(value)
    return grouped


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ([("MessageSid", "SM1"), ("MessageStatus", "sent")], "SM1:sent"),
        ([("SmsSid", "SM2"), ("SmsStatus", "received")], "SM2:received"),
        ([("MessageSid", "SM3"), ("SmsStatus", "received"), ("SmsSid", "SM3")], "SM3:received"),
        (
            [("CallSid", "CA1"), ("CallStatus", "completed"), ("SequenceNumber", "3")],
            "CA1:completed:3",
        ),
        (
            [("CallSid", "CA1"), ("RecordingSid", "RE1"), ("RecordingStatus", "completed")],
            "RE1:completed",
        ),
        (
            [("MessageSid", "SM4"), ("MessageStatus", "failed"), ("CallStatus", "x")],
            "SM4:failed",
        ),
    ],
    ids=["message", "incoming-sms", "sms-status", "call-sequence", "recording", "precedence"],
)
def test_the_event_id_is_the_sid_and_the_status(form: list[tuple[str, str]], expected: str) -> None:
    assert event_id_of(form) == expected


@pytest.mark.parametrize(
    "form",
    [
        [("MessageSid", "SM1")],
        [("MessageStatus", "sent")],
        [("MessageSid", "SM1"), ("MessageStatus", "")],
        [("MessageSid", "SM1"), ("MessageStatus", "sent"), ("MessageStatus", "delivered")],
        [("MessageSid", "SM 1"), ("MessageStatus", "sent")],
        [("EventType", "onMessageAdded"), ("ConversationSid", "CH1")],
    ],
    ids=["no-status", "no-sid", "empty-status", "repeated-status", "space-in-sid", "other-product"],
)
def test_without_a_usable_sid_and_status_the_id_is_the_digest_of_url_and_body(
    form: list[tuple[str, str]],
) -> None:
    body = urlencode(form).encode()
    assert event_id_of(form) == body_digest_id(PUBLIC_URL.encode() + b"\n" + body)


FORM_PAIRS = [("MessageSid", "SM1"), ("MessageStatus", "sent")]


def id_with_token(token: str, form: Sequence[tuple[str, str]] = FORM_PAIRS) -> str:
    body = urlencode(form).encode()
    signature = library_signed(PUBLIC_URL, MultiDict(_grouped(form)))
    headers = headers_for(signature, **{"i-twilio-idempotency-token": token})
    return verifier().verify(headers, body, 0, SEEN_URL).event_id


def test_twilios_idempotency_token_is_the_event_id_when_sent() -> None:
    assert id_with_token("3f2c7a1e-idem") == "3f2c7a1e-idem"


def test_the_idempotency_token_names_other_products_events_too() -> None:
    assert id_with_token("tok-1", [("EventType", "onMessageAdded")]) == "tok-1"


@pytest.mark.parametrize("token", ["", "has space", "x" * 257, "caf\u00e9"])
def test_an_unusable_idempotency_token_falls_back_to_the_sid_and_status(token: str) -> None:
    assert id_with_token(token) == "SM1:sent"


def test_the_same_form_posted_to_another_url_is_another_event() -> None:
    form = [("Digits", "1234")]
    assert event_id_of(form) != event_id_of(form, PUBLIC_URL + "?step=2")


# --- configuration and hookgate send --------------------------------------------------------


def configured(**source: Any) -> Any:
    settings = parse({"sources": [{"name": "tw", "provider": "twilio", **source}]}, env={})
    return configure_sources(settings)["tw"]


@pytest.mark.parametrize(
    ("source", "key", "reason"),
    [
        ({}, "sources[0].secrets", "at least one secret"),
        ({"secrets": [TOKEN], "tolerance": 300}, "sources[0].tolerance", "no timestamp"),
        ({"secrets": [TOKEN], "public_url": "ftp://h/p"}, "sources[0].public_url", "http"),
        ({"secrets": [TOKEN], "public_url": "https:///p"}, "sources[0].public_url", "host"),
        ({"secrets": [TOKEN], "public_url": PUBLIC_URL + "?a=1"}, "sources[0].public_url", "query"),
        ({"secrets": [TOKEN], "public_url": PUBLIC_URL + "#f"}, "sources[0].public_url", "query"),
        (
            {"secrets": [TOKEN], "public_url": "https://u:p@h.example/p"},
            "sources[0].public_url",
            "credentials",
        ),
        ({"secrets": [TOKEN], "public_url": 5}, "sources[0].public_url", "must be a str"),
        ({"secrets": [TOKEN], "signing_key": "x"}, "sources[0].signing_key", "unknown key"),
    ],
    ids=[
        "no-token",
        "tolerance",
        "ftp",
        "no-host",
        "query",
        "fragment",
        "credentials",
        "int",
        "unknown",
    ],
)
def test_a_bad_configuration_names_the_key(source: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as exc_info:
        configured(**source)
    assert exc_info.value.key == key


def test_the_bundled_sample_is_a_form_without_repeated_names_or_a_trailing_newline() -> None:
    sample = sample_payload("twilio")
    pairs = parse_qsl(sample.decode(), keep_blank_values=True, strict_parsing=True)
    assert len({name for name, _ in pairs}) == len(pairs)
    assert dict(pairs)["MessageStatus"] == "delivered"
    assert not sample.endswith(b"\n")


@pytest.mark.parametrize("public_url", [None, PUBLIC_URL])
def test_send_signs_the_sample_form_so_that_the_library_and_the_verifier_accept_it(
    public_url: str | None,
) -> None:
    options = {} if public_url is None else {"public_url": public_url}
    source = configured(secrets=[TOKEN], **options)
    url = "http://127.0.0.1:8000/webhooks/tw"
    out = source.provider.sign(source.settings, sample_payload("twilio"), "idem-1", 0, url)
    assert out.headers["content-type"] == "application/x-www-form-urlencoded"
    params = dict(parse_qsl(out.body.decode(), keep_blank_values=True))
    assert RequestValidator(TOKEN).validate(
        public_url or url, params, out.headers["x-twilio-signature"]
    )
    result = source.verifier.verify(dict(out.headers), out.body, 0, out.url)
    assert result.event_id == "idem-1"  # sent as I-Twilio-Idempotency-Token, as Twilio does


def test_send_signs_a_json_body_with_body_sha256_in_the_url() -> None:
    source = configured(secrets=[TOKEN], public_url=PUBLIC_URL)
    out = source.provider.sign(
        source.settings, JSON_BODY, "e", 0, "http://127.0.0.1:8000/webhooks/tw"
    )
    assert f"bodySHA256={hashlib.sha256(JSON_BODY).hexdigest()}" in out.url
    public = PUBLIC_URL + "?" + out.url.partition("?")[2]
    assert RequestValidator(TOKEN).validate(
        public, JSON_BODY.decode(), out.headers["x-twilio-signature"]
    )
    assert source.verifier.verify(dict(out.headers), out.body, 0, out.url).key_index == 0


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
async def client(producer: FakeProducer) -> AsyncIterator[httpx.AsyncClient]:
    source = {"name": "twilio", "provider": "twilio", "secrets": [TOKEN], "public_url": PUBLIC_URL}
    settings = parse({"sources": [source]}, env={})
    app = create_app(settings, producer=producer, clock=lambda: 0.0)
    async with client_of(app, base_url="http://10.0.3.7:8000") as c:
        yield c


async def test_a_form_signed_by_the_library_is_accepted_over_http(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    signature = library_signed(PUBLIC_URL + "?tenant=acme", FORM)
    response = await client.post(
        "/webhooks/twilio?tenant=acme",
        content=BODY,
        headers={
            "x-twilio-signature": signature,
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["event_id"] == f"{MESSAGE_SID}:delivered"
    [(_, key, value, headers)] = producer.produced
    delivery = raw.decode(key, value, headers)
    assert (delivery.provider, delivery.body) == ("twilio", BODY)
    assert dict(delivery.sender_headers) == {"x-twilio-signature": signature}


async def test_a_changed_form_byte_over_http_is_a_401(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    response = await client.post(
        "/webhooks/twilio",
        content=flip(BODY, 30),
        headers={"x-twilio-signature": library_signed(PUBLIC_URL, FORM)},
    )
    assert (response.status_code, response.json()["error"]) == (401, "signature_mismatch")
    assert producer.produced == []


async def test_a_body_over_64_kib_is_a_413_by_default(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    # Twilio's callbacks are a few KB; a large unsigned form must not be parsed before 401.
    body = b"Body=" + b"%41" * (65_536 // 3)
    signature = library_signed(PUBLIC_URL, dict(parse_qsl(body.decode())))
    response = await client.post(
        "/webhooks/twilio", content=body, headers={"x-twilio-signature": signature}
    )
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
    assert producer.produced == []


def test_a_twilio_source_can_raise_its_body_limit() -> None:
    assert configured(secrets=[TOKEN]).settings.max_body_bytes == 65_536
    assert configured(secrets=[TOKEN], max_body_bytes=1_048_576).settings.max_body_bytes == (
        1_048_576
    )


async def test_twilio_verifies_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    original = TwilioVerifier.verify

    def spy(self: TwilioVerifier, *args: Any) -> Any:
        threads.append(threading.get_ident())
        return original(self, *args)

    monkeypatch.setattr(TwilioVerifier, "verify", spy)
    signature = library_signed(PUBLIC_URL, FORM)
    response = await client.post(
        "/webhooks/twilio", content=BODY, headers={"x-twilio-signature": signature}
    )
    assert response.status_code == 200, response.text
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


# --- the record key: what the signature covers ------------------------------------------------


async def post_form(
    client: httpx.AsyncClient, form: Sequence[tuple[str, str]], **extra: str
) -> str:
    signature = library_signed(PUBLIC_URL, MultiDict(_grouped(form)))
    response = await client.post(
        "/webhooks/twilio",
        content=urlencode(form).encode(),
        headers={
            "x-twilio-signature": signature,
            "content-type": "application/x-www-form-urlencoded",
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    event_id: str = response.json()["event_id"]
    return event_id


async def test_text_shifted_between_fields_keeps_the_signature_and_the_record_key(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    # The signed string is name + value, concatenated: moving "SmsSid{sid}" into the status
    # field signs the same, and makes another {Sid}:{Status} id.
    shifted = {**FORM, "MessageStatus": f"deliveredSmsSid{MESSAGE_SID}"}
    del shifted["SmsSid"]
    ids = [await post_form(client, list(form.items())) for form in (FORM, shifted)]
    assert ids[0] != ids[1]
    first, second = (record.key for record in producer.produced)
    assert first == second


async def test_a_request_replayed_with_a_fresh_idempotency_token_keeps_its_record_key(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    for token in ("idem-original", "idem-replayed"):
        await post_form(client, list(FORM.items()), **{"i-twilio-idempotency-token": token})
    first, second = (record.key for record in producer.produced)
    assert first == second


async def test_another_status_of_the_same_message_is_keyed_as_another_event(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    for status in ("sent", "delivered"):
        await post_form(client, list({**FORM, "MessageStatus": status}.items()))
    first, second = (record.key for record in producer.produced)
    assert first != second
