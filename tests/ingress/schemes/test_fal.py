"""fal.ai: Ed25519 over request id, user id, timestamp and the body's SHA-256; keys from a JWKS.

fal publishes no verifier library, so ``cryptography`` plays fal: it signs with a private key
whose public half the test hands to the ingress, statically or through a JWKS served by a local
``http.server`` (loopback only).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import string
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
from ingress.providers import configure_sources, fal
from ingress.schemes import jwks as jwks_module
from ingress.schemes.fal import FalVerifier, JwksKeys, decode_public_key, parse_jwks, sign
from schemas import raw
from schemas.config import ConfigError, FalSource, parse
from tests.asgi import client_of
from tests.fakes import FakeProducer
from tests.fuzz import EVERY_OUTCOME, mutate, outcome


def private_key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def x_of(key: Ed25519PrivateKey) -> str:
    """The key as a JWK's ``x``: base64url of the 32 raw bytes, padding stripped."""
    return base64.urlsafe_b64encode(key.public_key().public_bytes_raw()).decode().rstrip("=")


KEY = private_key("hookgate fal test key")
NEW_KEY = private_key("fal's next key")
STRANGER = private_key("not fal")
NOW = 1_795_000_000
REQUEST_ID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
USER_ID = "user_2x7"
BODY = b'{"request_id": "764cabcf-b745-4b3e-ae38-1200304cf45b", "status": "OK"}'
# A known answer: Ed25519 is deterministic, so this pins the message layout.
KNOWN_SIGNATURE = (
    "d5d318c6d2c07e86164c8b916966765e418ab492befe5cc4d572a1be72e3776238a44336fe14aa3ab5981fb0f301b8"
    "50ca65f98d8ea37442fcce3c9962b89a02"
)


def fal_headers(
    body: bytes = BODY,
    *,
    key: Ed25519PrivateKey = KEY,
    request_id: str = REQUEST_ID,
    user_id: str = USER_ID,
    timestamp: int = NOW,
) -> dict[str, str]:
    """What fal sends, built from its documentation without ingress.schemes.fal."""
    message = f"{request_id}\n{user_id}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}"
    return {
        "x-fal-webhook-request-id": request_id,
        "x-fal-webhook-user-id": user_id,
        "x-fal-webhook-timestamp": str(timestamp),
        "x-fal-webhook-signature": key.sign(message.encode()).hex(),
        "content-type": "application/json",
    }


def static_verifier(*keys: Ed25519PrivateKey, tolerance: int = 300) -> FalVerifier:
    public = [decode_public_key(x_of(k)) for k in keys or (KEY,)]
    return FalVerifier(JwksKeys(None, static=public), tolerance=tolerance)


def seed_of(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.private_bytes_raw()).decode()


def flip(data: bytes, index: int = -3) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def configured_fal(**source: Any) -> FalVerifier:
    settings = parse({"sources": [{"name": "fal", "provider": "fal", **source}]}, env={})
    verifier = configure_sources(settings)["fal"].verifier
    assert isinstance(verifier, FalVerifier)
    return verifier


# --- the signature --------------------------------------------------------------------------


def test_fals_signature_layout_gives_the_known_answer() -> None:
    assert fal_headers()["x-fal-webhook-signature"] == KNOWN_SIGNATURE
    assert sign(KEY, REQUEST_ID, USER_ID, NOW, BODY) == KNOWN_SIGNATURE


def test_a_delivery_signed_like_fal_verifies_with_its_request_id_as_event_id() -> None:
    result = static_verifier().verify(fal_headers(), BODY, now=NOW)
    assert (result.event_id, result.key_index, result.timestamp) == (REQUEST_ID, 0, NOW)


def test_the_known_answer_verifies() -> None:
    headers = {**fal_headers(), "x-fal-webhook-signature": KNOWN_SIGNATURE}
    assert static_verifier().verify(headers, BODY, now=NOW).event_id == REQUEST_ID


@pytest.mark.parametrize("index", [0, 20, -3, -1])
def test_one_changed_body_byte_is_a_mismatch(index: int) -> None:
    with pytest.raises(SignatureMismatch):
        static_verifier().verify(fal_headers(), flip(BODY, index), now=NOW)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-fal-webhook-request-id", "764cabcf-b745-4b3e-ae38-1200304cf45c"),
        ("x-fal-webhook-user-id", "user_2x8"),
        ("x-fal-webhook-timestamp", str(NOW + 1)),
    ],
)
def test_each_signed_header_is_covered(name: str, value: str) -> None:
    with pytest.raises(SignatureMismatch):
        static_verifier().verify({**fal_headers(), name: value}, BODY, now=NOW)


def test_a_signature_by_another_key_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatch, match="no fal public key"):
        static_verifier().verify(fal_headers(key=STRANGER), BODY, now=NOW)


def test_an_upper_case_hex_signature_verifies() -> None:
    headers = fal_headers()
    headers["x-fal-webhook-signature"] = headers["x-fal-webhook-signature"].upper()
    assert static_verifier().verify(headers, BODY, now=NOW).key_index == 0


def test_the_body_is_verified_as_raw_bytes() -> None:
    body = b"\xff\xfe not json \r\n"
    assert static_verifier().verify(fal_headers(body), body, now=NOW).event_id == REQUEST_ID


def test_every_key_is_tried_and_the_index_names_the_one_that_matched() -> None:
    v = static_verifier(STRANGER, KEY, NEW_KEY)
    assert v.verify(fal_headers(key=NEW_KEY), BODY, now=NOW).key_index == 2
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 1


def test_kept_headers_are_the_four_fal_headers() -> None:
    assert static_verifier().kept_headers == (
        "x-fal-webhook-request-id",
        "x-fal-webhook-user-id",
        "x-fal-webhook-timestamp",
        "x-fal-webhook-signature",
    )


# --- the window -----------------------------------------------------------------------------


@pytest.mark.parametrize("now", [NOW - 300, NOW + 300])
def test_a_timestamp_at_the_tolerance_passes(now: int) -> None:
    assert static_verifier().verify(fal_headers(), BODY, now=now).timestamp == NOW


def test_a_stale_timestamp_is_too_old() -> None:
    with pytest.raises(TimestampTooOld, match="301 s old; tolerance is 300 s"):
        static_verifier().verify(fal_headers(), BODY, now=NOW + 301)


def test_a_future_timestamp_is_in_the_future() -> None:
    with pytest.raises(TimestampInFuture, match="301 s ahead"):
        static_verifier().verify(fal_headers(), BODY, now=NOW - 301)


def test_the_tolerance_is_configurable() -> None:
    with pytest.raises(TimestampTooOld, match="tolerance is 10 s"):
        static_verifier(tolerance=10).verify(fal_headers(), BODY, now=NOW + 11)
    assert configured_fal(public_keys=[x_of(KEY)], tolerance=900).verify(
        fal_headers(), BODY, now=NOW + 899
    )


def test_a_forgery_with_a_stale_timestamp_is_a_mismatch_not_too_old() -> None:
    with pytest.raises(SignatureMismatch):
        static_verifier().verify(fal_headers(key=STRANGER), BODY, now=NOW + 10_000)


# --- hostile headers ------------------------------------------------------------------------

Mutate = Callable[[dict[str, str]], None]


def put(name: str, value: str) -> Mutate:
    return lambda h: h.__setitem__(f"x-fal-webhook-{name}", value)


def drop(name: str) -> Mutate:
    return lambda h: h.__delitem__(f"x-fal-webhook-{name}")


SIG = KNOWN_SIGNATURE
HOSTILE: list[tuple[str, Mutate, type[IngressError]]] = [
    ("signature-missing", drop("signature"), MissingSignature),
    ("signature-empty", put("signature", ""), MissingSignature),
    ("all-missing", lambda h: h.clear(), MissingSignature),
    ("request-id-missing", drop("request-id"), MissingHeader),
    ("user-id-missing", drop("user-id"), MissingHeader),
    ("user-id-empty", put("user-id", ""), MissingHeader),
    ("timestamp-missing", drop("timestamp"), MissingHeader),
    ("request-id-space", put("request-id", "req 1"), MalformedHeader),
    ("request-id-newline", put("request-id", "req\n1"), MalformedHeader),
    ("request-id-257", put("request-id", "r" * 257), MalformedHeader),
    ("request-id-non-ascii", put("request-id", "réq"), MalformedHeader),
    ("user-id-newline", put("user-id", f"{USER_ID}\n{NOW}"), MalformedHeader),
    ("user-id-nul", put("user-id", "u\x00"), MalformedHeader),
    ("timestamp-letters", put("timestamp", "soon"), MalformedHeader),
    ("timestamp-negative", put("timestamp", f"-{NOW}"), MalformedHeader),
    ("timestamp-plus", put("timestamp", f"+{NOW}"), MalformedHeader),
    ("timestamp-leading-zero", put("timestamp", f"0{NOW}"), MalformedHeader),
    ("timestamp-decimal", put("timestamp", f"{NOW}.0"), MalformedHeader),
    ("timestamp-space", put("timestamp", f" {NOW}"), MalformedHeader),
    ("timestamp-13-digits", put("timestamp", "9" * 13), MalformedHeader),
    ("timestamp-arabic-digits", put("timestamp", "١٧٩٥٠٠٠٠٠٠"), MalformedHeader),
    ("signature-short", put("signature", SIG[:-2]), MalformedHeader),
    ("signature-long", put("signature", SIG + "00"), MalformedHeader),
    ("signature-not-hex", put("signature", "g" * 128), MalformedHeader),
    (
        "signature-base64",
        put("signature", base64.b64encode(bytes.fromhex(SIG)).decode()),
        MalformedHeader,
    ),
    ("signature-0x", put("signature", "0x" + SIG[2:]), MalformedHeader),
    ("signature-spaces", put("signature", " " + SIG[1:]), MalformedHeader),
    ("signature-fullwidth", put("signature", "\uff10" + SIG[1:]), MalformedHeader),
    ("signature-wrong-but-well-formed", put("signature", "ab" * 64), SignatureMismatch),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_header_gives_its_documented_error(
    mutate: Mutate, expected: type[IngressError]
) -> None:
    headers = fal_headers()
    mutate(headers)
    with pytest.raises(IngressError) as exc_info:
        static_verifier().verify(headers, BODY, now=NOW)
    assert type(exc_info.value) is expected


def test_random_headers_and_bodies_only_ever_raise_ingress_errors() -> None:
    rng = random.Random(7)
    v = static_verifier(KEY, NEW_KEY)
    pieces = [SIG, REQUEST_ID, USER_ID, str(NOW), "\n", " ", "0", "f", "é", "\x00", "="]

    def junk() -> str:
        if rng.random() < 0.5:
            return "".join(rng.choices(string.printable, k=rng.randrange(140)))
        return "".join(rng.choices(pieces, k=rng.randrange(4)))

    outcomes: set[str] = set()
    for _ in range(1500):
        headers = mutate(fal_headers(), rng, junk, drop=0.08, change=0.3)
        body = BODY if rng.random() < 0.7 else rng.randbytes(rng.randrange(64))
        outcomes.add(outcome(v.verify, headers, body, now=NOW + rng.uniform(-600, 600)))
    assert outcomes >= EVERY_OUTCOME


# --- keys in the config ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        x_of(KEY),
        x_of(KEY) + "=",
        base64.b64encode(KEY.public_key().public_bytes_raw()).decode(),
        json.dumps({"kty": "OKP", "crv": "Ed25519", "x": x_of(KEY), "kid": "k1"}),
        " " + x_of(KEY) + "\n",
    ],
    ids=["base64url", "base64url-padded", "base64", "jwk-json", "whitespace"],
)
def test_a_configured_public_key_is_read_in_each_accepted_spelling(text: str) -> None:
    assert decode_public_key(text).public_bytes_raw() == KEY.public_key().public_bytes_raw()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        base64.b64encode(b"x" * 31).decode(),
        "ÄÖÜ",
        '{"kty": "RSA", "n": "abc"}',
        '{"kty": "OKP", "crv": "Ed25519"}',
        "{not json",
    ],
    ids=["empty", "junk", "31-bytes", "non-ascii", "rsa-jwk", "jwk-without-x", "broken-json"],
)
def test_an_unusable_public_key_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"base64|bytes|JWK|JSON"):
        decode_public_key(text)


def test_static_keys_alone_need_no_jwks() -> None:
    v = configured_fal(public_keys=[x_of(KEY)])
    assert v.keys.url is None
    assert v.keys.fetches == 0
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 0


def test_without_static_keys_the_jwks_url_defaults_to_fals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def fake_get(url: str, timeout: float) -> bytes:
        asked.append(url)
        raise OSError("no network in tests")

    monkeypatch.setattr(jwks_module, "http_get", fake_get)
    v = configured_fal()
    v.keys.wait(5)
    assert v.keys.url == "https://rest.alpha.fal.ai/.well-known/jwks.json"
    assert asked == ["https://rest.alpha.fal.ai/.well-known/jwks.json"]


@pytest.mark.parametrize(
    ("source", "key", "reason"),
    [
        ({"jwks_url": None}, "sources[0].jwks_url", "needs a jwks_url, public_keys"),
        ({"public_keys": ["AAAA"]}, "sources[0].public_keys[0]", "32 bytes"),
        (
            {"public_keys": [x_of(KEY), "nope!"]},
            "sources[0].public_keys[1]",
            "not base64",
        ),
        ({"jwks_url": "http://fal.example/jwks.json"}, "sources[0].jwks_url", "https://"),
        ({"jwks_url": "file:///etc/passwd"}, "sources[0].jwks_url", "https://"),
        ({"jwks_url": 5}, "sources[0].jwks_url", "must be a str"),
        (
            {"public_keys": [x_of(KEY)], "jwks_cache_s": 0},
            "sources[0].jwks_cache_s",
            "whole number of seconds",
        ),
        (
            {"public_keys": [x_of(KEY)], "jwks_min_refresh_s": True},
            "sources[0].jwks_min_refresh_s",
            "whole number of seconds",
        ),
        (
            {"public_keys": [x_of(KEY)], "signing_key": seed_of(KEY)},
            "sources[0].signing_key",
            "unknown key",
        ),
        ({"public_keys": [x_of(KEY)], "secrets": ["s"]}, "sources[0].secrets", "public_keys"),
        ({"public_keys": [x_of(KEY)], "jwks": "x"}, "sources[0].jwks", "unknown key"),
    ],
    ids=[
        "no-keys",
        "short-key",
        "second-key-bad",
        "http-jwks",
        "file-jwks",
        "jwks-not-string",
        "cache-zero",
        "refresh-bool",
        "signing-key-is-not-configuration",
        "secrets",
        "unknown-option",
    ],
)
def test_a_bad_configuration_names_the_key(source: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as exc_info:
        configured_fal(**source)
    assert exc_info.value.key == key


def test_a_bad_signing_key_error_does_not_echo_it() -> None:
    secret = base64.b64encode(b"sixteen byte key").decode()
    source = fal_source(public_keys=[x_of(KEY)])
    assert fal.PROVIDER.sign_with_key is not None
    with pytest.raises(ValueError, match="32 bytes") as exc_info:
        fal.PROVIDER.sign_with_key(source, BODY, "req_1", NOW, "http://h/webhooks/fal", secret)
    assert secret not in str(exc_info.value)


# --- hookgate send --------------------------------------------------------------------------


def fal_source(**options: Any) -> FalSource:
    settings = parse({"sources": [{"name": "fal", "provider": "fal", **options}]}, env={})
    source = settings.sources["fal"]
    assert isinstance(source, FalSource)
    return source


def test_the_senders_private_key_signs_deliveries_the_sources_verifier_accepts() -> None:
    source = configure_sources(
        parse(
            {"sources": [{"name": "fal", "provider": "fal", "public_keys": [x_of(KEY)]}]},
            env={},
        )
    )["fal"]
    assert source.provider.sign is None  # fal shares no secret with its receivers
    assert source.provider.sign_with_key is not None
    body = sample_payload("fal")
    out = source.provider.sign_with_key(
        source.settings, body, "req_send", NOW, "http://h/webhooks/fal", seed_of(KEY)
    )
    assert out.headers["x-fal-webhook-request-id"] == "req_send"
    assert source.verifier.verify(dict(out.headers), out.body, NOW).event_id == "req_send"


def test_the_bundled_sample_is_a_fal_result_with_a_seed_beyond_2_to_the_53() -> None:
    sample = json.loads(sample_payload("fal"))
    assert sample["status"] == "OK"
    assert sample["payload"]["seed"] > 2**53
    assert str(sample["payload"]["seed"]).encode() in sample_payload("fal")
    image = sample["payload"]["images"][0]
    assert {"url", "content_type", "width", "height"} <= set(image)


# --- the JWKS -------------------------------------------------------------------------------


def jwks(*keys: Ed25519PrivateKey) -> bytes:
    entries: list[dict[str, str]] = [{"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "rsa-1"}]
    entries += [
        {"kty": "OKP", "crv": "Ed25519", "x": x_of(k), "kid": f"k{i}"} for i, k in enumerate(keys)
    ]
    return json.dumps({"keys": entries}).encode()


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the too-large case hangs up mid-answer: a broken pipe here is expected, not news


@dataclass
class JwksServer:
    """fal's JWKS endpoint, on 127.0.0.1: serves ``document`` with ``status``, counts requests,
    and holds each answer while ``hold`` is set (a slow endpoint)."""

    document: bytes = field(default_factory=lambda: jwks(KEY))
    status: int = 200
    #: Answers with a redirect (``status`` 3xx) to this URL instead of the document.
    location: str | None = None
    requests: int = 0
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.hold.is_set():
                    owner.release.wait(10)
                self.send_response(owner.status)
                if owner.location is not None:
                    self.send_header("location", owner.location)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(owner.document)))
                self.end_headers()
                self.wfile.write(owner.document)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[JwksServer]:
    served = JwksServer()
    yield served
    served.close()


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def jwks_verifier(
    server: JwksServer, clock: Clock, static: Sequence[Ed25519PrivateKey] = ()
) -> FalVerifier:
    keys = JwksKeys(
        server.url,
        static=[decode_public_key(x_of(k)) for k in static],
        max_age=3600,
        min_refresh=60,
        timeout=5,
        monotonic=clock,
    )
    keys.refresh()  # as the provider does at build
    keys.wait(5)
    return FalVerifier(keys)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_from_the_jwks_url_is_not_followed(server: JwksServer, status: int) -> None:
    # jwks_url passed the https-or-loopback check; a redirect's target never did.
    elsewhere = JwksServer()
    try:
        server.status, server.location = status, elsewhere.url
        with pytest.raises(Exception, match="redirect"):
            jwks_module.http_get(server.url, 5)
        assert (server.requests, elsewhere.requests) == (1, 0)
    finally:
        elsewhere.close()


def test_keys_fetched_at_start_are_used(server: JwksServer) -> None:
    v = configured_fal(jwks_url=server.url)
    v.keys.wait(5)
    assert server.requests == 1
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 0


def test_static_keys_come_first_and_jwks_keys_follow(server: JwksServer) -> None:
    v = configured_fal(public_keys=[x_of(STRANGER)], jwks_url=server.url)
    v.keys.wait(5)
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 1
    assert v.verify(fal_headers(key=STRANGER), BODY, now=NOW).key_index == 0


def test_a_rotated_in_key_is_refused_once_then_found_by_one_background_refresh(
    server: JwksServer,
) -> None:
    clock = Clock()
    v = jwks_verifier(server, clock)
    server.document = jwks(KEY, NEW_KEY)  # fal rotates
    clock.now += 61
    with pytest.raises(SignatureMismatch):
        v.verify(fal_headers(key=NEW_KEY), BODY, now=NOW)
    v.keys.wait(5)
    assert server.requests == 2
    # fal's retry, after the refresh landed.
    assert v.verify(fal_headers(key=NEW_KEY), BODY, now=NOW).key_index == 1
    assert server.requests == 2


def test_failures_within_the_rate_limit_window_cause_no_fetch(server: JwksServer) -> None:
    clock = Clock()
    v = jwks_verifier(server, clock)
    for _ in range(50):
        clock.now += 1  # 50 s: inside the 60 s window since the start-up fetch
        with pytest.raises(SignatureMismatch):
            v.verify(fal_headers(key=STRANGER), BODY, now=NOW)
    v.keys.wait(5)
    assert server.requests == 1


def test_many_failures_after_the_window_cause_exactly_one_fetch(server: JwksServer) -> None:
    clock = Clock()
    v = jwks_verifier(server, clock)
    clock.now += 120
    for _ in range(100):
        with pytest.raises(SignatureMismatch):
            v.verify(fal_headers(key=STRANGER), BODY, now=NOW)
    v.keys.wait(5)
    assert server.requests == 2
    assert v.keys.fetches == 2


def test_a_slow_jwks_endpoint_never_blocks_a_request(server: JwksServer) -> None:
    clock = Clock()
    v = jwks_verifier(server, clock)
    server.hold.set()
    clock.now += 61
    started = time.perf_counter()
    for _ in range(20):
        with pytest.raises(SignatureMismatch):
            v.verify(fal_headers(key=NEW_KEY), BODY, now=NOW)
        clock.now += 61  # even past the window: one fetch in flight at a time
    assert time.perf_counter() - started < 1.0
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 0
    server.release.set()
    v.keys.wait(5)
    assert server.requests == 2


@pytest.mark.parametrize(
    ("status", "document"),
    [
        (500, b'{"error": "internal"}'),
        (200, b"<html>maintenance</html>"),
        (200, b'{"keys": []}'),
        (200, json.dumps({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}).encode()),
        (200, b"{" + b" " * 70_000 + b"}"),
    ],
    ids=["http-500", "not-json", "no-keys", "no-ed25519-key", "too-large"],
)
def test_a_failing_jwks_endpoint_keeps_the_old_keys(
    server: JwksServer, status: int, document: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    v = jwks_verifier(server, clock)
    server.status, server.document = status, document
    clock.now += 61
    with caplog.at_level(logging.WARNING, logger="hookgate.ingress.jwks"):
        with pytest.raises(SignatureMismatch):
            v.verify(fal_headers(key=NEW_KEY), BODY, now=NOW)
        v.keys.wait(5)
    assert server.requests == 2
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 0
    [record] = [r for r in caplog.records if r.name == "hookgate.ingress.jwks"]
    assert record.getMessage() == "fal JWKS fetch failed; keeping the keys held"


def test_an_unreachable_jwks_at_start_is_retried_after_the_window(server: JwksServer) -> None:
    clock = Clock()
    server.status = 503
    v = jwks_verifier(server, clock)
    with pytest.raises(SignatureMismatch, match="no fal public key is loaded yet"):
        v.verify(fal_headers(), BODY, now=NOW)
    server.status = 200
    clock.now += 61
    with pytest.raises(SignatureMismatch):
        v.verify(fal_headers(), BODY, now=NOW)  # starts the refresh, does not wait for it
    v.keys.wait(5)
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 0
    assert server.requests == 2


def test_a_key_set_older_than_its_max_age_is_refreshed_in_the_background(
    server: JwksServer,
) -> None:
    clock = Clock()
    v = jwks_verifier(server, clock)
    server.document = jwks(NEW_KEY)  # KEY retired
    clock.now += 3601
    # Served from the cache while the refresh runs...
    assert v.verify(fal_headers(), BODY, now=NOW).key_index == 0
    v.keys.wait(5)
    assert server.requests == 2
    # ...then the new set replaces it.
    assert v.verify(fal_headers(key=NEW_KEY), BODY, now=NOW).key_index == 0
    with pytest.raises(SignatureMismatch):
        v.verify(fal_headers(), BODY, now=NOW)


def test_the_jwks_parser_skips_other_key_types() -> None:
    keys = parse_jwks(jwks(KEY, NEW_KEY))
    assert [k.public_bytes_raw() for k in keys] == [
        KEY.public_key().public_bytes_raw(),
        NEW_KEY.public_key().public_bytes_raw(),
    ]


def test_a_jwks_with_too_many_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        parse_jwks(jwks(*(private_key(str(i)) for i in range(17))))


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
async def client(producer: FakeProducer) -> AsyncIterator[httpx.AsyncClient]:
    settings = parse(
        {
            "topics": {"raw": "t.raw"},
            "sources": [{"name": "fal", "provider": "fal", "public_keys": [x_of(KEY)]}],
        },
        env={},
    )
    app = create_app(settings, producer=producer, clock=lambda: float(NOW))
    async with client_of(app) as c:
        yield c


async def test_a_valid_fal_delivery_over_http_is_accepted_and_produced_once(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    body = sample_payload("fal")
    headers = fal_headers(body)
    response = await client.post("/webhooks/fal", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted", "event_id": REQUEST_ID}
    [(topic, key, value, record_headers)] = producer.produced
    delivery = raw.decode(key, value, record_headers)
    assert (topic, key, value) == ("t.raw", f"fal:{REQUEST_ID}".encode(), body)
    assert (delivery.provider, delivery.event_id) == ("fal", REQUEST_ID)
    assert dict(delivery.sender_headers) == {
        name: headers[name]
        for name in (
            "x-fal-webhook-request-id",
            "x-fal-webhook-user-id",
            "x-fal-webhook-timestamp",
            "x-fal-webhook-signature",
        )
    }


async def test_a_fal_delivery_with_one_changed_byte_is_a_401_and_produces_nothing(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    body = sample_payload("fal")
    response = await client.post("/webhooks/fal", content=flip(body), headers=fal_headers(body))
    assert (response.status_code, response.json()["error"]) == (401, "signature_mismatch")
    assert producer.produced == []
