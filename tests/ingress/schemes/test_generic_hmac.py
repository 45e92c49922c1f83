"""The configurable providers: ``generic-hmac``, ``basic-auth`` and ``api-key``.

``hmac``, ``hashlib`` and ``base64`` play the senders, independently of the ingress's modules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from hookgate.send import sample_payload
from ingress.app import create_app
from ingress.errors import (
    IngressError,
    MalformedHeader,
    MissingHeader,
    MissingSignature,
    SignatureMismatch,
    TimestampInFuture,
    TimestampTooOld,
)
from ingress.providers import PROVIDERS, ConfiguredSource, configure_sources
from ingress.schemes.base import Verifier, body_digest_id
from ingress.schemes.generic_hmac import EventIdRule, parse_pointer, resolve
from schemas import raw
from schemas.config import ConfigError, parse
from tests.asgi import client_of
from tests.fakes import FakeProducer
from tests.fuzz import EVERY_OUTCOME, mutate, outcome

SECRET = "generic-shared-secret"
OLD_SECRET = "the-previous-secret"
NOW = 1_795_000_000
BODY = (
    b'{"id": "evt_1", "type": "order.created", "data": {"id": "ord_1", "n": 12345678901234567890}}'
)


def configured(
    provider: str, secrets: Sequence[str] = (SECRET,), **options: Any
) -> ConfiguredSource:
    source = {"name": "src", "provider": provider, "secrets": list(secrets), **options}
    return configure_sources(parse({"sources": [source]}, env={}))["src"]


def verifier(provider: str, secrets: Sequence[str] = (SECRET,), **options: Any) -> Verifier:
    return configured(provider, secrets, **options).verifier


def mac(body: bytes, secret: str = SECRET, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).digest()


def hexed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"x-signature": mac(body, secret).hex()}


def flip(data: bytes, index: int = -3) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


# --- generic-hmac ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_each_algorithm_and_encoding_verifies(algorithm: str, encoding: str) -> None:
    digest = mac(BODY, algorithm=algorithm)
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    v = verifier("generic-hmac", header="X-Signature", algorithm=algorithm, encoding=encoding)
    result = v.verify({"x-signature": text}, BODY, NOW)
    assert (result.event_id, result.key_index, result.timestamp) == (body_digest_id(BODY), 0, None)
    with pytest.raises(SignatureMismatch):
        v.verify({"x-signature": text}, flip(BODY), NOW)


def test_upper_case_hex_verifies() -> None:
    v = verifier("generic-hmac", header="x-signature")
    assert v.verify({"x-signature": mac(BODY).hex().upper()}, BODY, NOW).key_index == 0


def test_a_prefix_is_required_and_stripped() -> None:
    v = verifier("generic-hmac", header="x-hub-signature-256", prefix="sha256=")
    good = {"x-hub-signature-256": "sha256=" + mac(BODY).hex()}
    assert v.verify(good, BODY, NOW).key_index == 0
    with pytest.raises(MalformedHeader, match="'sha256='"):
        v.verify({"x-hub-signature-256": mac(BODY).hex()}, BODY, NOW)


def test_the_second_secret_reports_key_index_1() -> None:
    v = verifier("generic-hmac", [OLD_SECRET, SECRET], header="x-signature")
    assert v.verify(hexed(BODY), BODY, NOW).key_index == 1


def test_another_secret_is_a_mismatch() -> None:
    v = verifier("generic-hmac", header="x-signature")
    with pytest.raises(SignatureMismatch) as exc_info:
        v.verify(hexed(BODY, "not the secret"), BODY, NOW)
    assert SECRET not in exc_info.value.detail


def timestamped(
    body: bytes, ts: int = NOW, separator: str = ".", secret: str = SECRET
) -> dict[str, str]:
    signed = f"{ts}{separator}".encode() + body
    return {"x-signature": "v1=" + mac(signed, secret).hex(), "x-timestamp": str(ts)}


def ts_verifier(**options: Any) -> Verifier:
    options = {
        "header": "x-signature",
        "prefix": "v1=",
        "timestamp_header": "X-Timestamp",
        **options,
    }
    return verifier("generic-hmac", **options)


def test_a_timestamped_signature_verifies_and_reports_its_time() -> None:
    result = ts_verifier().verify(timestamped(BODY), BODY, NOW)
    assert (result.key_index, result.timestamp) == (0, NOW)


def test_the_separator_is_configurable_including_empty() -> None:
    assert ts_verifier(separator=":").verify(timestamped(BODY, separator=":"), BODY, NOW)
    assert ts_verifier(separator="").verify(timestamped(BODY, separator=""), BODY, NOW)
    with pytest.raises(SignatureMismatch):
        ts_verifier().verify(timestamped(BODY, separator=":"), BODY, NOW)


def test_the_timestamp_is_signed() -> None:
    headers = {**timestamped(BODY), "x-timestamp": str(NOW + 1)}
    with pytest.raises(SignatureMismatch):
        ts_verifier().verify(headers, BODY, NOW)


@pytest.mark.parametrize(
    ("now", "expected"),
    [(NOW + 301, TimestampTooOld), (NOW - 301, TimestampInFuture)],
    ids=["stale", "future"],
)
def test_the_window_applies_to_a_signed_timestamp(now: int, expected: type[IngressError]) -> None:
    with pytest.raises(expected, match="tolerance is 300 s"):
        ts_verifier().verify(timestamped(BODY), BODY, now)
    assert ts_verifier().verify(timestamped(BODY), BODY, NOW + 300)


def test_the_tolerance_is_configurable() -> None:
    with pytest.raises(TimestampTooOld, match="tolerance is 30 s"):
        ts_verifier(tolerance=30).verify(timestamped(BODY), BODY, NOW + 31)


def test_a_forgery_with_a_stale_timestamp_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch):
        ts_verifier().verify(timestamped(BODY, secret="forger"), BODY, NOW + 10_000)


VALID_TS = timestamped(BODY)
HOSTILE: list[tuple[str, dict[str, str], type[IngressError]]] = [
    ("signature-missing", {"x-timestamp": str(NOW)}, MissingSignature),
    ("signature-empty", {**VALID_TS, "x-signature": ""}, MissingSignature),
    ("timestamp-missing", {"x-signature": VALID_TS["x-signature"]}, MissingHeader),
    ("timestamp-empty", {**VALID_TS, "x-timestamp": ""}, MissingHeader),
    ("timestamp-letters", {**VALID_TS, "x-timestamp": "now"}, MalformedHeader),
    ("timestamp-millis-14-digits", {**VALID_TS, "x-timestamp": "17950000000000"}, MalformedHeader),
    ("timestamp-leading-zero", {**VALID_TS, "x-timestamp": f"0{NOW}"}, MalformedHeader),
    ("timestamp-plus", {**VALID_TS, "x-timestamp": f"+{NOW}"}, MalformedHeader),
    ("no-prefix", {**VALID_TS, "x-signature": VALID_TS["x-signature"][3:]}, MalformedHeader),
    ("wrong-prefix", {**VALID_TS, "x-signature": "v2=" + "0" * 64}, MalformedHeader),
    ("short-hex", {**VALID_TS, "x-signature": VALID_TS["x-signature"][:-2]}, MalformedHeader),
    ("odd-hex", {**VALID_TS, "x-signature": VALID_TS["x-signature"][:-1]}, MalformedHeader),
    ("not-hex", {**VALID_TS, "x-signature": "v1=" + "g" * 64}, MalformedHeader),
    ("spaced-hex", {**VALID_TS, "x-signature": "v1=" + "ab " * 21 + "a"}, MalformedHeader),
    ("non-ascii", {**VALID_TS, "x-signature": "v1=" + "\u0660" * 64}, MalformedHeader),
    (
        "base64-not-hex",
        {**VALID_TS, "x-signature": "v1=" + base64.b64encode(b"x" * 32).decode()},
        MalformedHeader,
    ),
    (
        "two-signatures",
        {**VALID_TS, "x-signature": VALID_TS["x-signature"] + ",v1=" + "0" * 64},
        MalformedHeader,
    ),
    ("well-formed-but-wrong", {**VALID_TS, "x-signature": "v1=" + "0" * 64}, SignatureMismatch),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_header_gives_its_documented_error(
    headers: dict[str, str], expected: type[IngressError]
) -> None:
    with pytest.raises(IngressError) as exc_info:
        ts_verifier().verify(headers, BODY, NOW)
    assert type(exc_info.value) is expected


@pytest.mark.parametrize(
    "text",
    ["", "not base64!", base64.b64encode(b"x" * 31).decode(), "QUJD", "=" * 44],
    ids=["empty-after-prefix", "junk", "31-bytes", "3-bytes", "padding-only"],
)
def test_a_malformed_base64_signature_is_a_malformed_header(text: str) -> None:
    v = verifier("generic-hmac", header="x-sig", encoding="base64", prefix="b64:")
    with pytest.raises(MalformedHeader):
        v.verify({"x-sig": "b64:" + text}, BODY, NOW)


def test_a_non_canonical_base64_signature_is_malformed() -> None:
    good = base64.b64encode(mac(BODY)).decode()
    assert good.endswith("=")
    # The last character before '=' carries 2 unused bits: change them, same bytes decode.
    index = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(good[-2])
    twin = (
        good[:-2]
        + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[index ^ 1]
        + "="
    )
    assert base64.b64decode(twin) == base64.b64decode(good)
    v = verifier("generic-hmac", header="x-sig", encoding="base64")
    assert v.verify({"x-sig": good}, BODY, NOW).key_index == 0
    with pytest.raises(MalformedHeader):
        v.verify({"x-sig": twin}, BODY, NOW)


def test_random_headers_only_ever_raise_ingress_errors() -> None:
    rng = random.Random(3)
    v = ts_verifier(event_id_header="x-event-id")

    def junk() -> str:
        return "".join(rng.choices(string.printable + "é", k=rng.randrange(70)))

    outcomes: set[str] = set()
    for _ in range(2000):
        headers = dict(VALID_TS)
        headers["x-event-id"] = "evt_9"
        mutate(headers, rng, junk, drop=0.1, change=0.3)
        outcomes.add(outcome(v.verify, headers, BODY, NOW + rng.uniform(-500, 500)))
    assert outcomes >= EVERY_OUTCOME


def test_kept_headers_are_the_signature_timestamp_and_event_id_headers() -> None:
    assert ts_verifier(event_id_header="X-Event-Id").kept_headers == (
        "x-signature",
        "x-timestamp",
        "x-event-id",
    )
    assert verifier("generic-hmac", header="x-signature").kept_headers == ("x-signature",)


# --- event ids (all three providers) --------------------------------------------------------


def test_the_event_id_header_is_used_when_present() -> None:
    v = verifier("generic-hmac", header="x-signature", event_id_header="X-Event-Id")
    assert v.verify({**hexed(BODY), "x-event-id": "evt_hdr"}, BODY, NOW).event_id == "evt_hdr"
    assert v.verify(hexed(BODY), BODY, NOW).event_id == body_digest_id(BODY)


def test_a_malformed_event_id_header_is_refused_after_the_signature() -> None:
    v = verifier("generic-hmac", header="x-signature", event_id_header="x-event-id")
    with pytest.raises(MalformedHeader, match="x-event-id"):
        v.verify({**hexed(BODY), "x-event-id": "evt 1"}, BODY, NOW)
    with pytest.raises(SignatureMismatch):
        v.verify({**hexed(BODY, "forger"), "x-event-id": "evt 1"}, BODY, NOW)


def test_the_header_wins_over_the_pointer() -> None:
    rule = EventIdRule("x-event-id", parse_pointer("/id"))
    assert rule({"x-event-id": "from-header"}, BODY) == "from-header"
    assert rule({}, BODY) == "evt_1"


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("/id", "evt_1"),
        ("/data/id", "ord_1"),
        ("/data/n", "12345678901234567890"),
        ("/items/1/id", "it_2"),
        ("/a~1b", "slash"),
        ("/m~0n", "tilde"),
        ("/~01", "tilde-one"),
        ("/", "empty-key"),
    ],
)
def test_a_json_pointer_finds_the_event_id(pointer: str, expected: str) -> None:
    body = json.dumps(
        {
            "id": "evt_1",
            "data": {"id": "ord_1", "n": 12345678901234567890},
            "items": [{"id": "it_1"}, {"id": "it_2"}],
            "a/b": "slash",
            "m~n": "tilde",
            "~1": "tilde-one",
            "": "empty-key",
        }
    ).encode()
    assert EventIdRule(pointer=parse_pointer(pointer))({}, body) == expected


@pytest.mark.parametrize(
    ("pointer", "body"),
    [
        ("/missing", BODY),
        ("/data", BODY),
        ("/items/2/id", b'{"items": [{"id": "a"}]}'),
        ("/items/01", b'{"items": ["a", "b"]}'),
        ("/items/-", b'{"items": ["a"]}'),
        ("/id", b'{"id": true}'),
        ("/id", b'{"id": 1.5}'),
        ("/id", b'{"id": null}'),
        ("/id", b'{"id": "has space"}'),
        ("/id", b'{"id": ""}'),
        ("/id", b"not json"),
        ("/id", b'{"id": ' + b"9" * 5000 + b"}"),
        ("/id/x", b'{"id": "scalar"}'),
        ("/0", b'["a"]'),
    ],
    ids=[
        "missing",
        "object",
        "index-out-of-range",
        "leading-zero-index",
        "dash-index",
        "bool",
        "float",
        "null",
        "space",
        "empty",
        "not-json",
        "huge-int",
        "through-scalar",
        "top-level-array",
    ],
)
def test_without_a_usable_value_the_pointer_falls_back_to_the_digest(
    pointer: str, body: bytes
) -> None:
    expected = "a" if pointer == "/0" else body_digest_id(body)
    assert EventIdRule(pointer=parse_pointer(pointer))({}, body) == expected


@pytest.mark.parametrize("pointer", ["id", "", "/a~2", "/a~"])
def test_an_invalid_json_pointer_is_a_value_error(pointer: str) -> None:
    with pytest.raises(ValueError, match="pointer"):
        parse_pointer(pointer)


def test_resolve_walks_objects_and_arrays() -> None:
    assert resolve({"a": [0, {"b": 2}]}, ("a", "1", "b")) == 2
    assert resolve(None, ("a",)) is None


# --- basic-auth -----------------------------------------------------------------------------

CREDENTIALS = "hookgate:s3cr3t:with:colons"


def basic(credentials: str | bytes, scheme: str = "Basic") -> dict[str, str]:
    raw_credentials = credentials.encode() if isinstance(credentials, str) else credentials
    return {"authorization": f"{scheme} {base64.b64encode(raw_credentials).decode()}"}


def test_basic_credentials_verify() -> None:
    result = verifier("basic-auth", [CREDENTIALS]).verify(basic(CREDENTIALS), BODY, NOW)
    assert (result.event_id, result.key_index) == (body_digest_id(BODY), 0)


def test_the_basic_scheme_name_is_case_insensitive() -> None:
    v = verifier("basic-auth", [CREDENTIALS])
    assert v.verify(basic(CREDENTIALS, "basic"), BODY, NOW).key_index == 0
    assert v.verify(basic(CREDENTIALS, "BASIC"), BODY, NOW).key_index == 0


def test_the_second_credentials_report_key_index_1() -> None:
    v = verifier("basic-auth", ["old:pw", CREDENTIALS])
    assert v.verify(basic(CREDENTIALS), BODY, NOW).key_index == 1


def test_utf8_credentials_arriving_as_latin1_header_text_verify() -> None:
    # ASGI servers decode header bytes as latin-1: the UTF-8 bytes come back as 'Ã©'.
    header = "Basic " + base64.b64encode("jürgen:pässword".encode()).decode()
    assert verifier("basic-auth", ["jürgen:pässword"]).verify({"authorization": header}, BODY, NOW)


@pytest.mark.parametrize(
    "credentials",
    [
        "hookgate:wrong",
        "hookgate",
        "hookgate:s3cr3t:with:colon",
        "HOOKGATE:s3cr3t:with:colons",
        ":",
    ],
)
def test_wrong_basic_credentials_are_refused(credentials: str) -> None:
    v = verifier("basic-auth", [CREDENTIALS])
    with pytest.raises(IngressError) as exc_info:
        v.verify(basic(credentials), BODY, NOW)
    assert type(exc_info.value) is (
        MalformedHeader if ":" not in credentials else SignatureMismatch
    )
    assert "s3cr3t" not in exc_info.value.detail


BASIC_HOSTILE: list[tuple[str, dict[str, str], type[IngressError]]] = [
    ("missing", {}, MissingSignature),
    ("empty", {"authorization": ""}, MissingSignature),
    ("bearer", {"authorization": "Bearer abc"}, MissingSignature),
    ("digest", {"authorization": 'Digest username="a"'}, MissingSignature),
    ("scheme-only", {"authorization": "Basic"}, MalformedHeader),
    ("not-base64", {"authorization": "Basic not base64!"}, MalformedHeader),
    ("no-colon", basic("justauser"), MalformedHeader),
    ("non-ascii", {"authorization": "Basic é"}, MalformedHeader),
    ("bad-padding", {"authorization": "Basic YWI6Y2Q"}, MalformedHeader),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in BASIC_HOSTILE], ids=[c[0] for c in BASIC_HOSTILE]
)
def test_hostile_authorization_gives_its_documented_error(
    headers: dict[str, str], expected: type[IngressError]
) -> None:
    with pytest.raises(IngressError) as exc_info:
        verifier("basic-auth", [CREDENTIALS]).verify(headers, BODY, NOW)
    assert type(exc_info.value) is expected


def test_the_authorization_header_is_never_kept() -> None:
    assert verifier("basic-auth", [CREDENTIALS]).kept_headers == ()
    v = verifier("basic-auth", [CREDENTIALS], event_id_header="x-request-id")
    assert v.kept_headers == ("x-request-id",)


# --- api-key --------------------------------------------------------------------------------

API_KEY = "ak_live_0123456789abcdef"


def test_an_api_key_in_the_default_header_verifies() -> None:
    result = verifier("api-key", [API_KEY]).verify({"x-api-key": API_KEY}, BODY, NOW)
    assert (result.event_id, result.key_index) == (body_digest_id(BODY), 0)


def test_the_api_key_header_is_configurable() -> None:
    v = verifier("api-key", [API_KEY], header="X-Webhook-Token")
    assert v.verify({"x-webhook-token": API_KEY}, BODY, NOW).key_index == 0
    with pytest.raises(MissingSignature, match="x-webhook-token"):
        v.verify({"x-api-key": API_KEY}, BODY, NOW)


def test_the_second_api_key_reports_key_index_1() -> None:
    v = verifier("api-key", ["ak_old", API_KEY])
    assert v.verify({"x-api-key": API_KEY}, BODY, NOW).key_index == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, MissingSignature),
        ({"x-api-key": ""}, MissingSignature),
        ({"x-api-key": API_KEY[:-1]}, SignatureMismatch),
        ({"x-api-key": API_KEY + " "}, SignatureMismatch),
        ({"x-api-key": "Bearer " + API_KEY}, SignatureMismatch),
        ({"x-api-key": "☕"}, SignatureMismatch),
    ],
    ids=["missing", "empty", "shorter", "trailing-space", "bearer", "non-latin1"],
)
def test_a_wrong_or_missing_api_key_is_refused(
    headers: dict[str, str], expected: type[IngressError]
) -> None:
    with pytest.raises(IngressError) as exc_info:
        verifier("api-key", [API_KEY]).verify(headers, BODY, NOW)
    assert type(exc_info.value) is expected
    assert API_KEY not in exc_info.value.detail


def test_the_api_key_header_is_never_kept_and_the_pointer_gives_the_id() -> None:
    v = verifier("api-key", [API_KEY], event_id_pointer="/data/id")
    assert v.kept_headers == ()
    assert v.verify({"x-api-key": API_KEY}, BODY, NOW).event_id == "ord_1"


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "secrets", "options", "key", "reason"),
    [
        ("generic-hmac", [], {"header": "x-s"}, "sources[0].secrets", "at least one secret"),
        ("generic-hmac", [SECRET], {}, "sources[0].header", "is required"),
        ("generic-hmac", [SECRET], {"header": "x s"}, "sources[0].header", "not an HTTP header"),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "algorithm": "md5"},
            "sources[0].algorithm",
            "sha1, sha256, sha512",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "encoding": "b64"},
            "sources[0].encoding",
            "hex, base64",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "tolerance": 60},
            "sources[0].tolerance",
            "no timestamp",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "separator": ":"},
            "sources[0].separator",
            "timestamp_header",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "event_id_pointer": "id"},
            "sources[0].event_id_pointer",
            "starts with '/'",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "event_id_pointer": "/a~2"},
            "sources[0].event_id_pointer",
            "0 or 1",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "event_id_header": "bad header"},
            "sources[0].event_id_header",
            "not an HTTP header",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "prefix": 5},
            "sources[0].prefix",
            "must be a str",
        ),
        (
            "generic-hmac",
            [SECRET],
            {"header": "x-s", "token_param": "t"},
            "sources[0].token_param",
            "unknown key",
        ),
        ("basic-auth", [], {}, "sources[0].secrets", "at least one secret"),
        ("basic-auth", ["a:b", "nocolon"], {}, "sources[0].secrets[1]", "user:password"),
        ("basic-auth", ["a:b"], {"tolerance": 5}, "sources[0].tolerance", "no timestamp"),
        ("basic-auth", ["a:b"], {"header": "x"}, "sources[0].header", "unknown key"),
        ("api-key", [], {}, "sources[0].secrets", "at least one secret"),
        ("api-key", ["k"], {"header": "x:y"}, "sources[0].header", "not an HTTP header"),
        ("api-key", ["k"], {"tolerance": 5}, "sources[0].tolerance", "no timestamp"),
    ],
)
def test_a_bad_configuration_names_the_key(
    provider: str, secrets: list[str], options: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason) as exc_info:
        configured(provider, secrets, **options)
    assert exc_info.value.key == key
    assert "nocolon" not in str(exc_info.value)


# --- hookgate send --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "secret", "options"),
    [
        ("generic-hmac", SECRET, {"header": "x-sig", "event_id_header": "x-event-id"}),
        (
            "generic-hmac",
            SECRET,
            {
                "header": "x-sig",
                "prefix": "sha512=",
                "algorithm": "sha512",
                "encoding": "base64",
                "timestamp_header": "x-ts",
                "separator": ":",
                "event_id_header": "x-event-id",
            },
        ),
        ("basic-auth", CREDENTIALS, {"event_id_header": "x-event-id"}),
        ("api-key", API_KEY, {"header": "x-token", "event_id_header": "x-event-id"}),
    ],
    ids=["hmac", "hmac-timestamped", "basic-auth", "api-key"],
)
def test_send_signs_the_sample_so_the_verifier_accepts_it(
    provider: str, secret: str, options: dict[str, Any]
) -> None:
    source = configured(provider, [secret], **options)
    assert source.provider.sign is not None
    body = sample_payload(provider)
    assert json.loads(body)["type"]
    out = source.provider.sign(source.settings, body, "evt_send", NOW, "http://h/webhooks/src")
    result = source.verifier.verify(dict(out.headers), out.body, NOW)
    assert (result.event_id, result.key_index) == ("evt_send", 0)


def test_a_source_without_a_signature_header_is_refused_before_anything_can_sign() -> None:
    with pytest.raises(ConfigError, match="is required") as caught:
        parse({"sources": [{"name": "src", "provider": "generic-hmac"}]}, env={})
    assert caught.value.key == "sources[0].header"


def test_send_without_a_secret_is_a_value_error() -> None:
    settings = parse({"sources": [{"name": "src", "provider": "api-key"}]}, env={})
    signer = PROVIDERS["api-key"].sign
    assert signer is not None
    with pytest.raises(ValueError, match="no secret"):
        signer(settings.sources["src"], BODY, "e", NOW, "http://h")


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
async def client(producer: FakeProducer) -> AsyncIterator[httpx.AsyncClient]:
    sources = [
        {"name": "keyed", "provider": "api-key", "secrets": [API_KEY], "event_id_pointer": "/id"},
        {
            "name": "signed",
            "provider": "generic-hmac",
            "secrets": [SECRET],
            "header": "x-signature",
            "timestamp_header": "x-timestamp",
            "prefix": "v1=",
        },
        {
            "name": "signed-id",
            "provider": "generic-hmac",
            "secrets": [SECRET],
            "header": "x-signature",
            "event_id_header": "x-event-id",
        },
        {
            "name": "signed-pointer",
            "provider": "generic-hmac",
            "secrets": [SECRET],
            "header": "x-signature",
            "event_id_pointer": "/id",
        },
    ]
    settings = parse({"sources": sources}, env={})
    app = create_app(settings, producer=producer, clock=lambda: float(NOW))
    async with client_of(app) as c:
        yield c


async def test_an_api_key_delivery_is_accepted_and_the_key_is_not_on_the_record(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    response = await client.post("/webhooks/keyed", content=BODY, headers={"x-api-key": API_KEY})
    assert (response.status_code, response.json()["event_id"]) == (200, "evt_1")
    [(_, key, value, headers)] = producer.produced
    assert raw.decode(key, value, headers).sender_headers == ()
    assert all(API_KEY.encode() not in v for _, v in headers)


async def test_a_generic_hmac_delivery_over_http_is_accepted_and_a_changed_byte_is_a_401(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    headers = timestamped(BODY)
    assert (await client.post("/webhooks/signed", content=BODY, headers=headers)).status_code == 200
    response = await client.post("/webhooks/signed", content=flip(BODY), headers=headers)
    assert (response.status_code, response.json()["error"]) == (401, "signature_mismatch")
    [(_, key, value, record_headers)] = producer.produced
    assert dict(raw.decode(key, value, record_headers).sender_headers) == headers


async def test_a_delivery_replayed_with_a_fresh_event_id_header_is_keyed_as_the_original(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    # The event_id_header is not signed; the record key (the de-duplication key) must be.
    for event_id in ("evt_original", "evt_replayed"):
        headers = {**hexed(BODY), "x-event-id": event_id}
        response = await client.post("/webhooks/signed-id", content=BODY, headers=headers)
        assert response.json()["event_id"] == event_id
    first, second = (record.key for record in producer.produced)
    assert first == second


async def test_an_event_id_read_from_the_signed_body_keys_the_record_itself(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    await client.post("/webhooks/signed-pointer", content=BODY, headers=hexed(BODY))
    [record] = producer.produced
    assert record.key == b"signed-pointer:evt_1"
