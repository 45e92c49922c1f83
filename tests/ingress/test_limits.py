"""What one client can hold of the ingress: a body that never finishes arriving, body bytes in
flight across requests, and deliveries waiting for the broker's acknowledgement.

Requests are driven through ASGI directly, so a test can stall a body half-way, as a slow or
hostile sender does, and the app answers as uvicorn would let it (both as the Starlette app and
as ``hookgate ingress`` serves it, through :class:`ingress.server.DirectRoutes`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from ingress.app import create_app
from ingress.schemes.standard_webhooks import decode_secret, sign
from ingress.server import DirectRoutes
from schemas.config import ConfigError, parse
from tests.fakes import FakeProducer, settle

SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_795_000_000
KIB = 1024


def app_with(producer: FakeProducer, served: bool, **ingress: Any) -> Any:
    settings = parse(
        {
            "ingress": ingress,
            "sources": [
                {"name": "demo", "provider": "standard-webhooks", "secrets": [SECRET_TEXT]}
            ],
        },
        env={},
    )
    app = create_app(settings, producer=producer, clock=lambda: float(NOW))
    return DirectRoutes(app) if served else app


def signed_headers(body: bytes, msg_id: str = "msg_1") -> list[tuple[bytes, bytes]]:
    signature = sign(decode_secret(SECRET_TEXT), msg_id, NOW, body)
    return [
        (b"webhook-id", msg_id.encode()),
        (b"webhook-timestamp", str(NOW).encode()),
        (b"webhook-signature", signature.encode()),
        (b"content-length", str(len(body)).encode()),
    ]


class Exchange:
    """One request over ASGI whose body arrives in the given chunks; ``hold`` stalls the body
    after the first chunk until :meth:`finish` (a sender that stops sending)."""

    def __init__(self, app: Any, body_chunks: Sequence[bytes], *, hold: bool = False) -> None:
        self.app = app
        self.chunks = list(body_chunks)
        self.released = asyncio.Event()
        if not hold:
            self.released.set()
        self.sent: list[dict[str, Any]] = []
        body = b"".join(self.chunks)
        self.headers = signed_headers(body, msg_id=f"msg_{id(self)}")
        self.task: asyncio.Task[None] | None = None
        self.began = False

    async def _send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def start(self) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "server": ("hookgate", 80),
            "path": "/webhooks/demo",
            "raw_path": b"/webhooks/demo",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"hookgate"), *self.headers],
        }
        self.task = asyncio.create_task(self.app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if self.began:
            await self.released.wait()  # the first chunk arrives; the rest only when released
        self.began = True
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    def finish(self) -> None:
        self.released.set()

    async def answer(self) -> tuple[int, dict[str, str], dict[str, Any]]:
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        return start["status"], headers, json.loads(body)


# --- a body that stops arriving -------------------------------------------------------------


async def test_a_body_that_stops_arriving_is_a_408_after_the_body_deadline(served: bool) -> None:
    producer = FakeProducer()
    app = app_with(producer, served, body_timeout_ms=100)
    stalled = Exchange(app, [b'{"half": ', b"1}"], hold=True)
    stalled.start()
    status, headers, answer = await stalled.answer()
    assert (status, answer["error"]) == (408, "body_timeout")
    assert headers["connection"] == "close"
    assert producer.produced == []


async def test_a_body_that_arrives_in_pieces_within_the_deadline_is_accepted(
    served: bool,
) -> None:
    app = app_with(FakeProducer(), served, body_timeout_ms=10_000)
    exchange = Exchange(app, [b'{"a": ', b"1", b"}"])
    exchange.start()
    assert (await exchange.answer())[0] == 200


# --- body bytes in flight -------------------------------------------------------------------


async def test_a_body_that_would_pass_the_in_flight_byte_cap_is_a_503_with_retry_after(
    served: bool,
) -> None:
    producer = FakeProducer()
    app = app_with(producer, served, max_body_bytes_in_flight=1024 * KIB)
    half = b"x" * (600 * KIB)
    holding = Exchange(app, [half[:KIB], half[KIB:]], hold=True)
    holding.start()
    await settle()
    refused = Exchange(app, [half])
    refused.start()
    status, headers, answer = await refused.answer()
    assert (status, answer["error"]) == (503, "overloaded")
    assert int(headers["retry-after"]) > 0
    holding.finish()
    assert (await holding.answer())[0] == 200


async def test_body_bytes_are_released_when_a_request_ends(served: bool) -> None:
    app = app_with(FakeProducer(), served, max_body_bytes_in_flight=1024 * KIB)
    for _ in range(3):
        exchange = Exchange(app, [b"{}" + b" " * (600 * KIB)])
        exchange.start()
        assert (await exchange.answer())[0] == 200


def test_the_in_flight_byte_cap_must_hold_the_largest_body_a_source_accepts() -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\].max_body_bytes") as exc_info:
        parse(
            {
                "ingress": {"max_body_bytes_in_flight": 1_048_576},
                "sources": [
                    {
                        "name": "big",
                        "provider": "standard-webhooks",
                        "secrets": [SECRET_TEXT],
                        "max_body_bytes": 2_097_152,
                    }
                ],
            },
            env={},
        )
    assert exc_info.value.key == "ingress.max_body_bytes_in_flight"


# --- produces awaiting the broker ------------------------------------------------------------


async def test_deliveries_past_the_produce_limit_are_shed_with_503_and_retry_after(
    served: bool,
) -> None:
    producer = FakeProducer(hold=asyncio.Event())
    app = app_with(producer, served, max_produces_in_flight=1)
    waiting = Exchange(app, [b"{}"])
    waiting.start()
    await settle()
    shed = Exchange(app, [b"{}"])
    shed.start()
    status, headers, answer = await shed.answer()
    assert (status, answer["error"]) == (503, "overloaded")
    assert int(headers["retry-after"]) > 0
    assert producer.hold is not None
    producer.hold.set()
    assert (await waiting.answer())[0] == 200
    assert len(producer.produced) == 1
