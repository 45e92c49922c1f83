"""The ingress app over HTTP (in-process ASGI), with a FAKE producer standing in for Kafka.

Every test runs twice: against the Starlette app over ASGI, and as ``hookgate ingress`` serves it
over HTTP on a socket (uvicorn with the ingress's protocol, which answers deliveries itself, and
:class:`ingress.server.DirectRoutes` around the app).

``FakeProducer`` records what the app would write and answers ``ready`` as told; nothing here
talks to a broker. The real producer against a real broker is covered by the Kafka tests.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette

from ingress.app import create_app
from ingress.errors import BrokerUnavailable
from ingress.logs import JsonFormatter
from ingress.providers import INLINE_MAX_BODY
from ingress.schemes.fal import FalVerifier
from ingress.schemes.standard_webhooks import StandardWebhooksVerifier, decode_secret, sign
from schemas import raw, tracecontext
from schemas.config import Settings, parse
from tests.asgi import client_of, metric
from tests.fakes import FakeProducer

SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET = decode_secret(SECRET_TEXT)
OLD_SECRET_TEXT = "whsec_" + base64.b64encode(b"the previous secret, now rotated").decode()
OLD_SECRET = decode_secret(OLD_SECRET_TEXT)
SECRET_FRAGMENTS = (
    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    OLD_SECRET_TEXT.removeprefix("whsec_"),
    SECRET.hex(),
)

FIXED = 1_795_000_000.0  # the app's clock: 2026-11-18T11:06:40Z
NOW = int(FIXED)
RAW_TOPIC = "t.raw"
BODY = b'{"type": "invoice.paid", "data": {"id": "inv_1", "note": "caf\xc3\xa9"}}\n'
SMALL_LIMIT = 64


def settings() -> Settings:
    return parse(
        {
            "topics": {"raw": RAW_TOPIC},
            "sources": [
                {"name": "demo", "provider": "standard-webhooks", "secrets": [SECRET_TEXT]},
                {
                    "name": "rotated",
                    "provider": "standard-webhooks",
                    "secrets": [OLD_SECRET_TEXT, SECRET_TEXT],
                },
                {
                    "name": "small",
                    "provider": "standard-webhooks",
                    "secrets": [SECRET_TEXT],
                    "max_body_bytes": SMALL_LIMIT,
                },
            ],
        },
        env={},
    )


@pytest.fixture
def app(producer: FakeProducer) -> Starlette:
    return create_app(settings(), producer=producer, clock=lambda: FIXED)


@pytest.fixture
async def client(app: Starlette, served: bool) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app, served=served) as c:
        yield c


@pytest.fixture
async def asgi_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI only, for what an HTTP client cannot send or observe over a socket."""
    async with client_of(app) as c:
        yield c


def signed(
    body: bytes = BODY,
    *,
    msg_id: str = "msg_1",
    timestamp: int = NOW,
    secret: bytes = SECRET,
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


async def post(
    client: httpx.AsyncClient,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    source: str = "demo",
) -> httpx.Response:
    return await client.post(
        f"/webhooks/{source}", content=body, headers=signed(body) if headers is None else headers
    )


# --- accepted deliveries -----------------------------------------------------------------------


async def test_a_valid_delivery_is_answered_200_with_its_event_id(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "event_id": "msg_1"}


async def test_a_valid_delivery_is_produced_once_to_the_raw_topic(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    await post(client)
    assert [(p.topic, p.key) for p in producer.produced] == [(RAW_TOPIC, b"demo:msg_1")]


async def test_the_produced_value_is_the_body_byte_for_byte(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    await post(client)
    assert producer.produced[0].value == BODY


async def test_the_produced_headers_are_a_raw_delivery_record(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    await post(client)
    record = producer.produced[0]
    delivery = raw.decode(record.key, record.value, record.headers)
    assert (delivery.source, delivery.provider, delivery.scheme, delivery.event_id) == (
        "demo",
        "standard-webhooks",
        "standard-webhooks",
        "msg_1",
    )
    assert delivery.received_at_ms == NOW * 1000
    assert delivery.content_type == "application/json"


async def test_the_produced_record_keeps_the_signed_sender_headers(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    headers = signed()
    await post(client, headers=headers)
    record = producer.produced[0]
    delivery = raw.decode(record.key, record.value, record.headers)
    assert dict(delivery.sender_headers) == {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": headers["webhook-signature"],
    }


async def test_a_delivery_signed_by_the_standardwebhooks_library_is_accepted(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    moment = datetime.fromtimestamp(NOW, tz=UTC)
    signature = Webhook(SECRET_TEXT).sign("msg_lib", moment, BODY.decode())
    headers = {
        "webhook-id": "msg_lib",
        "webhook-timestamp": str(NOW),
        "webhook-signature": signature,
    }
    response = await post(client, headers=headers)
    assert response.status_code == 200
    assert producer.produced[0].key == b"demo:msg_lib"


async def test_a_delivery_signed_with_the_second_secret_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    assert (await post(client, source="rotated")).status_code == 200


# --- refusals ----------------------------------------------------------------------------------


async def test_an_unknown_source_is_a_json_404(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    response = await post(client, source="nobody")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_source"
    assert producer.produced == []


async def test_an_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_get_on_the_webhook_path_is_a_json_405_that_allows_post(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/webhooks/demo")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["allow"] == "POST"


async def test_a_body_declared_over_the_limit_is_a_413(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    body = b"x" * (SMALL_LIMIT + 1)
    response = await post(client, body, signed(body), source="small")
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert producer.produced == []


async def test_a_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    body = b'{"type":"a.b","pad":"' + b"x" * (SMALL_LIMIT - 23) + b'"}'
    assert len(body) == SMALL_LIMIT
    assert (await post(client, body, signed(body), source="small")).status_code == 200


async def test_a_streamed_body_over_the_limit_is_a_413(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 32

    response = await client.post("/webhooks/small", content=chunks(), headers=signed(b"x" * 320))
    assert response.status_code == 413
    assert "content-length" not in response.request.headers
    assert producer.produced == []


async def test_a_streamed_body_is_not_read_past_the_limit(asgi_client: httpx.AsyncClient) -> None:
    # Over ASGI the client yields a chunk only when the app asks for one; over a socket the
    # kernel takes the sender's bytes whatever the server reads, so this is the app's claim.
    client = asgi_client
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(100):
            sent.append(i)
            yield b"x" * 32

    await client.post("/webhooks/small", content=chunks(), headers=signed(b""))
    assert len(sent) * 32 <= SMALL_LIMIT + 32


async def test_a_forged_signature_is_a_401_signature_mismatch(client: httpx.AsyncClient) -> None:
    response = await post(client, headers=signed(secret=b"not the sender's secret"))
    assert response.status_code == 401
    assert response.json()["error"] == "signature_mismatch"


async def test_a_forged_signature_produces_nothing(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    await post(client, headers=signed(secret=b"not the sender's secret"))
    assert producer.produced == []


async def test_a_changed_body_is_a_401_signature_mismatch(client: httpx.AsyncClient) -> None:
    response = await post(client, BODY.replace(b"inv_1", b"inv_2"), signed(BODY))
    assert response.json()["error"] == "signature_mismatch"


async def test_a_stale_timestamp_is_a_401_that_names_the_tolerance(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    response = await post(client, headers=signed(timestamp=NOW - 301))
    assert response.status_code == 401
    assert response.json()["error"] == "timestamp_too_old"
    assert "tolerance is 300 s" in response.json()["detail"]
    assert producer.produced == []


async def test_a_future_timestamp_is_a_401(client: httpx.AsyncClient) -> None:
    response = await post(client, headers=signed(timestamp=NOW + 301))
    assert response.status_code == 401
    assert response.json()["error"] == "timestamp_in_future"


async def test_a_timestamp_at_the_tolerance_is_accepted(client: httpx.AsyncClient) -> None:
    assert (await post(client, headers=signed(timestamp=NOW - 300))).status_code == 200


async def test_a_missing_signature_is_a_401(client: httpx.AsyncClient) -> None:
    headers = signed()
    del headers["webhook-signature"]
    response = await post(client, headers=headers)
    assert (response.status_code, response.json()["error"]) == (401, "missing_signature")


async def test_a_missing_webhook_id_is_a_400(client: httpx.AsyncClient) -> None:
    headers = signed()
    del headers["webhook-id"]
    response = await post(client, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, "missing_header")


@pytest.mark.parametrize("timestamp", ["soon", "1.5e9", "+1795000000", "01795000000"])
async def test_a_malformed_timestamp_is_a_400(client: httpx.AsyncClient, timestamp: str) -> None:
    headers = {**signed(), "webhook-timestamp": timestamp}
    response = await post(client, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, "malformed_header")


@pytest.mark.parametrize("length", ["ten", "-1", "1e3"])
async def test_a_content_length_that_is_not_a_number_is_a_400(
    asgi_client: httpx.AsyncClient, producer: FakeProducer, length: str
) -> None:
    # The app's own check; over HTTP, httpx refuses to send one, and uvicorn's parser answers
    # 400 before the app (tests/ingress/test_server.py).
    response = await post(asgi_client, headers={**signed(), "content-length": length})
    assert (response.status_code, response.json()["error"]) == (400, "malformed_header")
    assert producer.produced == []


async def test_a_broker_that_does_not_acknowledge_is_a_503_with_retry_after(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    producer.error = BrokerUnavailable("no acknowledgement from Kafka in time")
    response = await post(client)
    assert response.status_code == 503
    assert response.json()["error"] == "broker_unavailable"
    assert response.headers["retry-after"] == "5"


async def test_a_refusal_that_is_not_retriable_has_no_retry_after(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, headers=signed(secret=b"not the sender's secret"))
    assert "retry-after" not in response.headers


# --- trace context (tracing off: the context travels, no spans) --------------------------------

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def produced_trace(producer: FakeProducer) -> tracecontext.TraceContext | None:
    record = producer.produced[0]
    return raw.decode(record.key, record.value, record.headers).trace


async def test_the_senders_traceparent_and_tracestate_are_carried_in_the_raw_record(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    headers = {**signed(), "traceparent": TRACEPARENT, "tracestate": "rojo=00f067aa0ba902b7"}
    await post(client, headers=headers)
    trace = produced_trace(producer)
    assert trace is not None
    assert (trace.traceparent, trace.state) == (TRACEPARENT, "rojo=00f067aa0ba902b7")


async def test_a_delivery_without_a_traceparent_starts_a_new_trace(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    await post(client)
    await post(client, headers=signed(msg_id="msg_2"))
    first, second = (raw.decode(p.key, p.value, p.headers).trace for p in producer.produced)
    assert first is not None
    assert second is not None
    assert first.trace_id != second.trace_id


async def test_an_invalid_traceparent_is_ignored_and_the_delivery_accepted_in_a_new_trace(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    invalid = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"  # upper case
    response = await post(client, headers={**signed(), "traceparent": invalid})
    assert response.status_code == 200
    trace = produced_trace(producer)
    assert trace is not None
    assert trace.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_two_traceparent_headers_are_ignored(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = [*signed().items(), ("traceparent", TRACEPARENT), ("traceparent", other)]
    await client.post("/webhooks/demo", content=BODY, headers=headers)
    trace = produced_trace(producer)
    assert trace is not None
    assert trace.trace_id not in ("4bf92f3577b34da6a3ce929d0e0e4736", other[3:35])


async def test_tracestate_headers_are_combined_in_order(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    headers = [
        *signed().items(),
        ("traceparent", TRACEPARENT),
        ("tracestate", "rojo=1"),
        ("tracestate", "congo=2"),
    ]
    await client.post("/webhooks/demo", content=BODY, headers=headers)
    trace = produced_trace(producer)
    assert trace is not None
    assert trace.state == "rojo=1,congo=2"


# --- health, readiness, lifespan ---------------------------------------------------------------


async def test_healthz_answers_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_answers_503_when_the_producer_is_not_ready(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    producer.ready_answer = False
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert RAW_TOPIC in response.json()["detail"]


async def test_readyz_answers_200_when_the_producer_is_ready(
    client: httpx.AsyncClient, producer: FakeProducer
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert producer.ready_asked == [RAW_TOPIC]


async def test_the_lifespan_starts_and_stops_the_producer(
    app: Starlette, producer: FakeProducer
) -> None:
    async with app.router.lifespan_context(app):
        assert (producer.started, producer.stopped) == (True, False)
    assert producer.stopped


# --- metrics -----------------------------------------------------------------------------------


async def test_metrics_count_deliveries_by_outcome(client: httpx.AsyncClient) -> None:
    await post(client)
    await post(client, headers=signed(msg_id="msg_2", secret=b"not the sender's secret"))
    await post(client, source="nobody")
    name = "hookgate_ingress_deliveries_total"
    assert await metric(client, name, source="demo", outcome="accepted") == 1
    assert await metric(client, name, source="demo", outcome="signature_mismatch") == 1
    assert await metric(client, name, source="<unknown>", outcome="unknown_source") == 1


async def test_metrics_count_verification_failures_by_reason(client: httpx.AsyncClient) -> None:
    await post(client, headers=signed(timestamp=NOW - 301))
    name = "hookgate_ingress_verification_failures_total"
    assert await metric(client, name, source="demo", reason="timestamp_too_old") == 1


async def test_metrics_name_the_position_of_the_secret_that_matched(
    client: httpx.AsyncClient,
) -> None:
    await post(client, source="rotated")
    name = "hookgate_ingress_secret_matches_total"
    assert await metric(client, name, source="rotated", key_index="1") == 1
    assert await metric(client, name, source="rotated", key_index="0") is None


async def test_metrics_are_served_in_the_prometheus_text_format(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


# --- what runs off the event loop --------------------------------------------------------------

WHPK = (
    "whpk_"
    + base64.b64encode(
        bytes.fromhex(
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        )  # RFC 8032
    ).decode()
)


WHPK_2 = "whpk_" + base64.b64encode(bytes(range(1, 33))).decode()  # any 32 bytes are a key
KEYED_SOURCES = [
    ({"provider": "standard-webhooks", "public_keys": [WHPK]}, StandardWebhooksVerifier),
    (
        {"provider": "standard-webhooks", "secrets": [SECRET_TEXT], "public_keys": [WHPK]},
        StandardWebhooksVerifier,
    ),
    ({"provider": "fal", "public_keys": [WHPK.removeprefix("whpk_")]}, FalVerifier),
]
KEYED_IDS = ["standard-webhooks-keys", "standard-webhooks-secrets-and-keys", "fal"]


async def verifying_thread(
    monkeypatch: pytest.MonkeyPatch,
    source: dict[str, Any],
    verifier: type[Any],
    served: bool,
    body: bytes,
) -> int:
    """The thread that verified one (unsigned: 401) delivery of ``body``."""
    threads: list[int] = []
    original = verifier.verify

    def spy(self: Any, *args: Any) -> Any:
        threads.append(threading.get_ident())
        return original(self, *args)

    monkeypatch.setattr(verifier, "verify", spy)
    app = create_app(
        parse({"sources": [{"name": "keyed", **source}]}, env={}), producer=FakeProducer()
    )
    async with client_of(app, served=served) as c:
        response = await c.post("/webhooks/keyed", content=body)
    assert response.status_code == 401  # no signature; what matters is where it was checked
    assert len(threads) == 1
    return threads[0]


@pytest.mark.parametrize(("source", "verifier"), KEYED_SOURCES, ids=KEYED_IDS)
@pytest.mark.parametrize("served", [False, True], ids=["starlette", "served"])
async def test_a_source_with_public_keys_verifies_a_large_body_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
    source: dict[str, Any],
    verifier: type[Any],
    served: bool,
) -> None:
    body = b"x" * (INLINE_MAX_BODY + 1)
    thread = await verifying_thread(monkeypatch, source, verifier, served, body)
    assert thread != threading.get_ident()


@pytest.mark.parametrize(
    ("source", "verifier"),
    [
        (
            {"provider": "standard-webhooks", "public_keys": [WHPK, WHPK_2]},
            StandardWebhooksVerifier,
        ),
        ({"provider": "fal", "public_keys": [WHPK.removeprefix("whpk_"), WHPK_2[5:]]}, FalVerifier),
        # fal's fetched key set may hold any number of keys.
        (
            {
                "provider": "fal",
                "public_keys": [WHPK.removeprefix("whpk_")],
                "jwks_url": "http://127.0.0.1:9/jwks.json",  # refused at once
            },
            FalVerifier,
        ),
    ],
    ids=["standard-webhooks-two-keys", "fal-two-keys", "fal-jwks"],
)
async def test_a_source_with_several_keys_verifies_even_a_small_body_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, source: dict[str, Any], verifier: type[Any]
) -> None:
    thread = await verifying_thread(monkeypatch, source, verifier, True, BODY)
    assert thread != threading.get_ident()


@pytest.mark.parametrize(("source", "verifier"), KEYED_SOURCES, ids=KEYED_IDS)
async def test_one_key_and_a_small_body_verify_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, source: dict[str, Any], verifier: type[Any]
) -> None:
    # At most two signature checks: cheaper than the hand-over to a thread and back.
    assert len(BODY) <= INLINE_MAX_BODY
    thread = await verifying_thread(monkeypatch, source, verifier, True, BODY)
    assert thread == threading.get_ident()


# --- secrets never leave -----------------------------------------------------------------------


async def test_no_response_or_log_line_contains_a_secret(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [
        await post(client, source="rotated"),
        await post(client, headers=signed(secret=OLD_SECRET + b"x"), source="rotated"),
        await post(client, headers=signed(timestamp=NOW - 3600), source="rotated"),
        await post(client, headers={**signed(), "webhook-signature": "v1,!!"}, source="rotated"),
        await post(client, source="nobody"),
        await client.get("/metrics"),
    ]
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert any('"delivery"' in line for line in lines)  # the delivery log lines were captured
    answers = [f"{r.headers}\n{r.text}" for r in responses]
    for text in answers + lines:
        for fragment in SECRET_FRAGMENTS:
            assert fragment not in text
