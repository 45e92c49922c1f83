"""Luma AI: unsigned callbacks authenticated by a secret token in the callback URL.

The token travels as the last path segment (``/webhooks/{source}/{token}``) or a query parameter,
is compared in constant time against every configured token, and never reaches the raw record,
the logs or a refusal's detail.
"""

from __future__ import annotations

import json
import logging
import random
import string
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hookgate.send import sample_payload
from ingress.app import create_app
from ingress.errors import IngressError, MissingSignature, SignatureMismatch
from ingress.logs import JsonFormatter
from ingress.providers import ConfiguredSource, configure_sources
from ingress.schemes.base import body_digest_id
from ingress.schemes.token import SecretSet
from ingress.server import DirectRoutes
from schemas import raw
from schemas.config import ConfigError, parse
from tests.asgi import client_of
from tests.fakes import FakeProducer

TOKEN = "lu_7Qm2vX9kPz4RtY8wN3bC6dF1"
OLD_TOKEN = "lu_old-0123456789abcdefghij"
GENERATION = "d1968551-6113-4b46-b567-09210c2e79b0"
BODY = json.dumps(
    {
        "id": GENERATION,
        "state": "completed",
        "assets": {"video": "https://storage.cdn-luma.com/v.mp4"},
        "created_at": "2026-11-18T11:02:31.405Z",
    }
).encode()
BASE = "https://hooks.example.com/webhooks/luma"


def configured(*tokens: str, **options: Any) -> ConfiguredSource:
    source = {"name": "luma", "provider": "luma", "secrets": list(tokens or (TOKEN,)), **options}
    return configure_sources(parse({"sources": [source]}, env={}))["luma"]


def verify(url: str, body: bytes = BODY, *tokens: str, **options: Any) -> Any:
    return configured(*tokens, **options).verifier.verify({}, body, 0, url)


# --- where the token travels ----------------------------------------------------------------


def test_a_token_as_the_last_path_segment_verifies() -> None:
    result = verify(f"{BASE}/{TOKEN}")
    assert (result.event_id, result.key_index, result.timestamp) == (
        f"{GENERATION}:completed",
        0,
        None,
    )


def test_a_token_in_the_query_verifies() -> None:
    assert verify(f"{BASE}?token={TOKEN}").key_index == 0
    assert verify(f"{BASE}?a=1&token={TOKEN}&b=2").key_index == 0


def test_the_query_parameter_name_is_configurable() -> None:
    assert verify(f"{BASE}?k={TOKEN}", BODY, TOKEN, token_param="k").key_index == 0
    with pytest.raises(MissingSignature):
        verify(f"{BASE}?token={TOKEN}", BODY, TOKEN, token_param="k")


def test_a_path_token_behind_a_prefix_is_found() -> None:
    assert verify(f"https://h.example/hookgate/webhooks/luma/{TOKEN}").key_index == 0


def test_the_path_token_must_follow_this_sources_name() -> None:
    with pytest.raises(MissingSignature):
        verify(f"https://h.example/webhooks/other/{TOKEN}")


def test_the_second_token_reports_key_index_1() -> None:
    assert verify(f"{BASE}/{TOKEN}", BODY, OLD_TOKEN, TOKEN).key_index == 1


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/{TOKEN[:-1]}",
        f"{BASE}/{TOKEN}x",
        f"{BASE}/{TOKEN.upper()}",
        f"{BASE}?token={TOKEN[1:]}",
        f"{BASE}/wrong?token=also-wrong",
    ],
    ids=["shorter", "longer", "case", "query-shorter", "both-wrong"],
)
def test_a_wrong_token_is_a_mismatch(url: str) -> None:
    with pytest.raises(SignatureMismatch) as exc_info:
        verify(url)
    assert TOKEN not in exc_info.value.detail


def test_a_wrong_path_token_with_a_right_query_token_verifies() -> None:
    assert verify(f"{BASE}/stale?token={TOKEN}").key_index == 0


@pytest.mark.parametrize(
    "url",
    [BASE, f"{BASE}?token=", f"{BASE}?other={TOKEN}", "", "not a url", "http://[::1/x"],
    ids=["bare", "empty-param", "other-param", "empty-url", "junk", "bad-ipv6"],
)
def test_no_token_is_a_missing_signature(url: str) -> None:
    with pytest.raises(MissingSignature):
        verify(url)


def test_random_urls_only_ever_raise_ingress_errors() -> None:
    rng = random.Random(5)
    verifier = configured(OLD_TOKEN, TOKEN).verifier
    pieces = [BASE, "/", "?", "&", "token=", TOKEN, "%", "%2F", "#", "é", "\x00", "[", "]"]
    outcomes: set[str] = set()
    for _ in range(2000):
        roll = rng.random()
        if roll < 0.1:
            url = rng.choice([f"{BASE}/{TOKEN}", f"{BASE}?token={OLD_TOKEN}"])
        elif roll < 0.5:
            url = "".join(rng.choices(pieces, k=rng.randrange(6)))
        else:
            url = "".join(rng.choices(string.printable, k=rng.randrange(80)))
        try:
            verifier.verify({}, rng.randbytes(rng.randrange(40)), 0, url)
            outcomes.add("ok")
        except IngressError as exc:
            outcomes.add(exc.reason)
    assert outcomes >= {"ok", "missing_signature", "signature_mismatch"}


def test_secret_set_compares_every_secret_and_answers_the_first_match() -> None:
    secrets = SecretSet([b"a" * 30, b"b" * 30, b"a" * 30])
    assert secrets.index(b"a" * 30) == 0
    assert secrets.index(b"b" * 30) == 1
    assert secrets.index(b"c") is None
    assert secrets.index(b"") is None


# --- event ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["queued", "dreaming", "completed", "failed"])
def test_each_state_change_is_its_own_event(state: str) -> None:
    body = json.dumps({"id": GENERATION, "state": state}).encode()
    assert verify(f"{BASE}/{TOKEN}", body).event_id == f"{GENERATION}:{state}"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"id": "g1"}',
        b'{"state": "completed"}',
        b'{"id": 5, "state": "completed"}',
        b'{"id": "g 1", "state": "completed"}',
        b'{"id": "", "state": "completed"}',
        b"\xff\xfe",
        b"[" * 100_000,
    ],
    ids=["not-json", "array", "no-state", "no-id", "int-id", "space", "empty-id", "binary", "deep"],
)
def test_a_body_without_id_and_state_is_identified_by_its_digest(body: bytes) -> None:
    assert verify(f"{BASE}/{TOKEN}", body).event_id == body_digest_id(body)


def test_nothing_is_kept_from_the_headers() -> None:
    assert configured().verifier.kept_headers == ()


# --- configuration and hookgate send --------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "options", "key", "reason"),
    [
        ([], {}, "sources[0].secrets", "at least one secret"),
        (["short-token"], {}, "sources[0].secrets[0]", "24-512 URL-safe"),
        ([TOKEN, TOKEN[:-1] + "/"], {}, "sources[0].secrets[1]", "URL-safe"),
        ([TOKEN + "%20"], {}, "sources[0].secrets[0]", "URL-safe"),
        ([TOKEN], {"tolerance": 60}, "sources[0].tolerance", "no timestamp"),
        ([TOKEN], {"token_param": "a b"}, "sources[0].token_param", "URL-safe"),
        ([TOKEN], {"token_param": 1}, "sources[0].token_param", "must be a str"),
        ([TOKEN], {"header": "x"}, "sources[0].header", "unknown key"),
    ],
    ids=["none", "short", "slash", "percent", "tolerance", "param-space", "param-int", "unknown"],
)
def test_a_bad_configuration_names_the_key(
    tokens: list[str], options: dict[str, Any], key: str, reason: str
) -> None:
    source = {"name": "luma", "provider": "luma", "secrets": tokens, **options}
    with pytest.raises(ConfigError, match=reason) as exc_info:
        configure_sources(parse({"sources": [source]}, env={}))
    assert exc_info.value.key == key
    for token in tokens:
        assert token not in str(exc_info.value)


def test_the_bundled_sample_is_a_completed_generation() -> None:
    sample = json.loads(sample_payload("luma"))
    assert sample["state"] == "completed"
    assert sample["assets"]["video"].startswith("https://")
    assert {"id", "created_at"} <= set(sample)


def test_send_puts_the_token_in_the_query_and_the_verifier_accepts_it() -> None:
    source = configured(TOKEN, token_param="cb")
    assert source.provider.sign is not None
    out = source.provider.sign(source.settings, sample_payload("luma"), "x", 0, BASE)
    assert out.url == f"{BASE}?cb={TOKEN}"
    sample_id = json.loads(sample_payload("luma"))["id"]
    assert source.verifier.verify(dict(out.headers), out.body, 0, out.url).event_id == (
        f"{sample_id}:completed"
    )


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
async def client(producer: FakeProducer, served: bool) -> AsyncIterator[httpx.AsyncClient]:
    sources = [
        {"name": "luma", "provider": "luma", "secrets": [OLD_TOKEN, TOKEN]},
        {"name": "other", "provider": "api-key", "secrets": ["k"]},
    ]
    app = create_app(parse({"sources": sources}, env={}), producer=producer)
    # As the Starlette app, and as `hookgate ingress` serves it (DirectRoutes).
    async with client_of(app, served=served) as c:
        yield c


def ingress_log(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the ingress logged, with every field (the test client logs its own URLs)."""
    records = [r for r in caplog.records if r.name.startswith("hookgate")]
    assert records
    return "\n".join(JsonFormatter().format(r) for r in records)


@pytest.mark.parametrize("path", [f"/webhooks/luma/{TOKEN}", f"/webhooks/luma?token={TOKEN}"])
async def test_a_callback_with_its_token_is_accepted_and_the_token_is_kept_nowhere(
    client: httpx.AsyncClient,
    producer: FakeProducer,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await client.post(path, content=BODY)
    assert response.status_code == 200, response.text
    assert response.json()["event_id"] == f"{GENERATION}:completed"
    [(_, key, value, headers)] = producer.produced
    assert raw.decode(key, value, headers).sender_headers == ()
    assert all(TOKEN.encode() not in v for _, v in headers)
    assert TOKEN not in ingress_log(caplog)


async def test_a_wrong_path_token_is_a_401_and_is_not_logged(
    client: httpx.AsyncClient, producer: FakeProducer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await client.post(f"/webhooks/luma/{TOKEN[:-1]}", content=BODY)
    assert (response.status_code, response.json()["error"]) == (401, "signature_mismatch")
    assert TOKEN[:-1] not in response.text
    assert TOKEN[:-1] not in ingress_log(caplog)
    assert producer.produced == []


async def test_a_path_token_for_a_provider_without_path_tokens_is_a_404(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"/webhooks/other/{TOKEN}", content=BODY)
    assert response.status_code == 404


async def _post_raw_query(app: Any, query: bytes) -> tuple[int, bytes]:
    """POSTs BODY to ``/webhooks/luma`` with ``query`` as the raw query bytes, which an HTTP
    client would percent-encode first; ASGI lets a server hand over any bytes."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "server": ("hookgate", 80),
        "path": "/webhooks/luma",
        "raw_path": b"/webhooks/luma",
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"hookgate"), (b"content-length", str(len(BODY)).encode())],
    }
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize("served", [False, True], ids=["starlette", "served"])
async def test_a_query_that_is_not_utf8_is_a_400_that_never_shows_the_token(
    producer: FakeProducer, caplog: pytest.LogCaptureFixture, served: bool
) -> None:
    sources = [{"name": "luma", "provider": "luma", "secrets": [TOKEN]}]
    app = create_app(parse({"sources": sources}, env={}), producer=producer)
    query = f"token={TOKEN}&x=".encode() + b"\xff\xfe"
    with caplog.at_level(logging.DEBUG):
        status, body = await _post_raw_query(DirectRoutes(app) if served else app, query)
    assert (status, json.loads(body)["error"]) == (400, "malformed_query")
    assert TOKEN.encode() not in body
    assert TOKEN not in ingress_log(caplog)
    assert producer.produced == []
