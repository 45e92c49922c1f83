"""The ingress as ``hookgate ingress`` serves it: a real uvicorn server on 127.0.0.1, raw HTTP/1.1
over sockets, a FAKE producer. What is claimed here happens around the app: request heads
bounded in size and header count, connections bounded in number, and deliveries answered by the
HTTP protocol itself with what uvicorn gives every request (keep-alive, pipelining, HTTP/1.0,
``100-continue``, a 500 for a bug, graceful shutdown, a trusted proxy's headers), and the cyclic
garbage collector as a serving process tunes it.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from ingress.app import create_app
from ingress.deliveries import DeliveryEndpoint
from ingress.errors import BrokerUnavailable
from ingress.schemes import twilio
from ingress.schemes.standard_webhooks import decode_secret, sign
from ingress.server import GC_YOUNG_THRESHOLD, DirectRoutes, asgi_app, server_options, settle_gc
from schemas.config import parse
from tests.asgi import serving
from tests.fakes import FakeProducer
from tests.support import free_ports


@asynccontextmanager
async def running(**ingress: Any) -> AsyncIterator[int]:
    """Serves an ingress with these ``ingress`` settings; yields its port."""
    [port] = free_ports(1)
    settings = parse({"ingress": {"port": port, **ingress}}, env={})
    options = {**server_options(settings), "lifespan": "off"}
    server = uvicorn.Server(uvicorn.Config(asgi_app(settings, FakeProducer()), **options))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


def request(path: str = "/healthz", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: hookgate"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response: its status and body (by content-length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await asyncio.wait_for(reader.readexactly(length), 10)


async def test_a_head_within_the_limits_is_served_and_the_count_restarts_per_request() -> None:
    async with running(max_header_bytes=4096) as port:
        reader, writer = await connect(port)
        for _ in range(3):  # each 3 KiB head on one keep-alive connection, 9 KiB in all
            writer.write(request(headers={"x-padding": "p" * 3000}))
            assert (await answer(reader))[0] == 200
        writer.close()


async def test_a_head_over_the_size_limit_is_a_431_before_it_ends() -> None:
    async with running(max_header_bytes=4096) as port:
        reader, writer = await connect(port)
        # 8 KiB of one header, and no end of the head: the answer cannot wait for it.
        writer.write(b"POST /webhooks/demo HTTP/1.1\r\nHost: hookgate\r\nX-Big: " + b"a" * 8192)
        status, body = await answer(reader)
        assert (status, b"header_too_large" in body) == (431, True)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed
        writer.close()


async def test_more_headers_than_the_limit_is_a_431() -> None:
    async with running(max_headers=20) as port:
        reader, writer = await connect(port)
        writer.write(request(headers={f"x-h{i}": "1" for i in range(20)}))  # and Host: 21
        status, body = await answer(reader)
        assert (status, b"more than 20 headers" in body) == (431, True)
        writer.close()


async def test_headers_up_to_the_limit_are_served() -> None:
    async with running(max_headers=20) as port:
        reader, writer = await connect(port)
        writer.write(request(headers={f"x-h{i}": "1" for i in range(19)}))
        assert (await answer(reader))[0] == 200
        writer.close()


async def test_a_connection_past_max_connections_is_answered_503() -> None:
    async with running(max_connections=1) as port:
        first_reader, first = await connect(port)
        first.write(request())
        assert (await answer(first_reader))[0] == 200  # and stays open (keep-alive)
        second_reader, second = await connect(port)
        second.write(request())
        assert (await answer(second_reader))[0] == 503
        first.close()
        second.close()


async def test_a_megabyte_header_is_cut_off_and_healthz_still_answers() -> None:
    async with running() as port:
        reader, writer = await connect(port)
        writer.write(b"GET /nowhere HTTP/1.1\r\nHost: hookgate\r\nX-Big: ")
        status: int | None = None
        try:
            for _ in range(16):
                writer.write(b"a" * 65_536)
                await writer.drain()
            status = (await answer(reader))[0]
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the 431 was sent and the connection closed with our bytes unread: a reset
        assert status in (None, 431)
        writer.close()
        other_reader, other = await connect(port)
        other.write(request())
        assert (await answer(other_reader))[0] == 200
        other.close()


# --- deliveries answered by the protocol ---------------------------------------------------------
# A POST to a delivery route is answered by the ingress's HTTP protocol, without ASGI
# (ingress/http_protocol.py); what uvicorn's ASGI path gives every other request, it keeps.

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TWILIO_TOKEN = "12345678901234567890123456789012"


@asynccontextmanager
async def delivering(
    producer: FakeProducer, keep_alive_s: float | None = None, **ingress: Any
) -> AsyncIterator[int]:
    """A `demo` Standard Webhooks source and a `twilio` one (its URL as the request shows it)
    served with these ``ingress`` settings; yields the port."""
    app = demo_app(producer)
    async with (
        app.router.lifespan_context(app),
        serving(DirectRoutes(app), keep_alive_s=keep_alive_s, **ingress) as port,
    ):
        yield port


def demo_app(producer: FakeProducer) -> Starlette:
    sources = [
        {"name": "demo", "provider": "standard-webhooks", "secrets": [SECRET]},
        {"name": "twilio", "provider": "twilio", "secrets": [TWILIO_TOKEN]},
    ]
    return create_app(parse({"sources": sources}, env={}), producer=producer)


def delivery(event_id: str = "msg_1", *, version: str = "1.1", **extra: str) -> bytes:
    body = b'{"type": "invoice.paid"}'
    now = int(time.time())
    headers = {
        "Host": "hookgate",
        "webhook-id": event_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(decode_secret(SECRET), event_id, now, body),
        "content-type": "application/json",
        "content-length": str(len(body)),
        **extra,
    }
    lines = [f"POST /webhooks/demo HTTP/{version}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def head_and_body(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, await asyncio.wait_for(reader.readexactly(length), 10)


async def test_deliveries_on_one_keep_alive_connection_are_each_answered_with_date_and_server() -> (
    None
):
    async with delivering(FakeProducer()) as port:
        reader, writer = await connect(port)
        for event_id in ("msg_1", "msg_2"):
            writer.write(delivery(event_id))
            head, body = await head_and_body(reader)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"\r\ndate: " in head
            assert b"\r\nserver: uvicorn\r\n" in head
            assert b"connection: close" not in head
            assert orjson.loads(body) == {"status": "accepted", "event_id": event_id}
        writer.close()


async def test_a_delivery_whose_body_came_with_its_head_waits_for_its_ack_without_a_task() -> None:
    producer = FakeProducer(hold=asyncio.Event())
    async with delivering(producer) as port:
        reader, writer = await connect(port)
        writer.write(delivery())
        with pytest.raises(TimeoutError):  # verified and produced: no answer before the ack
            await asyncio.wait_for(reader.read(1), 0.2)
        running = [t.get_coro().__qualname__ for t in asyncio.all_tasks()]  # type: ignore[union-attr]
        assert producer.hold is not None
        producer.hold.set()
        assert (await head_and_body(reader))[0].startswith(b"HTTP/1.1 200 ")
        writer.close()
    assert not [name for name in running if "run_asgi" in name]


async def test_a_delivery_answered_without_a_task_gives_back_what_it_held_however_it_ends() -> None:
    producer = FakeProducer()
    app = demo_app(producer)
    [endpoint, *_] = [
        route.app
        for route in app.routes
        if isinstance(route, Route) and isinstance(route.app, DeliveryEndpoint)
    ]
    forged = delivery("msg_1").replace(b"webhook-id: msg_1", b"webhook-id: msg_9")
    statuses = []
    async with app.router.lifespan_context(app), serving(DirectRoutes(app)) as port:
        reader, writer = await connect(port)
        for request, refusal in (
            (forged, None),  # refused before its record: 401
            (delivery("msg_2"), BrokerUnavailable("no acknowledgement from Kafka in time")),
            (delivery("msg_3"), None),
        ):
            producer.error = refusal
            writer.write(request)
            statuses.append((await head_and_body(reader))[0].split(b" ")[1])
        writer.close()
    assert statuses == [b"401", b"503", b"200"]
    in_flight = endpoint._in_flight
    assert (in_flight.body_bytes, in_flight.produces) == (0, 0)


async def test_a_delivery_whose_body_comes_in_a_later_read_is_answered() -> None:
    async with delivering(FakeProducer()) as port:
        reader, writer = await connect(port)
        request = delivery()
        writer.write(request[:-5])
        await asyncio.sleep(0.1)  # the head and part of the body arrive alone
        writer.write(request[-5:])
        head, body = await head_and_body(reader)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert orjson.loads(body) == {"status": "accepted", "event_id": "msg_1"}
        writer.close()


async def test_pipelined_deliveries_are_answered_in_order() -> None:
    async with delivering(FakeProducer()) as port:
        reader, writer = await connect(port)
        writer.write(delivery("msg_1") + delivery("msg_2") + delivery("msg_3"))
        answered = [orjson.loads((await head_and_body(reader))[1])["event_id"] for _ in range(3)]
        assert answered == ["msg_1", "msg_2", "msg_3"]
        writer.close()


async def test_an_http_1_0_delivery_is_answered_and_its_connection_closed() -> None:
    async with delivering(FakeProducer()) as port:
        reader, writer = await connect(port)
        writer.write(delivery(version="1.0"))
        head, _ = await head_and_body(reader)
        assert (head.split(b" ")[1], b"\r\nconnection: close\r\n" in head) == (b"200", True)
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()


async def test_a_delivery_that_expects_100_continue_gets_it_before_the_body() -> None:
    async with delivering(FakeProducer()) as port:
        reader, writer = await connect(port)
        request = delivery(expect="100-continue")
        head, _, body = request.partition(b"\r\n\r\n")
        writer.write(head + b"\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        assert (await head_and_body(reader))[0].startswith(b"HTTP/1.1 200 ")
        writer.close()


async def test_a_delivery_whose_handler_fails_unexpectedly_is_a_500_and_closes() -> None:
    producer = FakeProducer(error=RuntimeError("a bug, not a refusal"))
    async with delivering(producer) as port:
        reader, writer = await connect(port)
        writer.write(delivery())
        head, body = await head_and_body(reader)
        assert (head.split(b" ")[1], body) == (b"500", b"Internal Server Error")
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()


async def test_a_delivery_awaiting_its_ack_when_the_server_stops_is_still_answered() -> None:
    producer = FakeProducer(hold=asyncio.Event())
    async with delivering(producer) as port:
        reader, writer = await connect(port)
        writer.write(delivery())
        await asyncio.sleep(0.2)  # the delivery waits for its acknowledgement
        assert producer.hold is not None
        asyncio.get_running_loop().call_later(0.5, producer.hold.set)
    # The server stopped (graceful shutdown waited for the delivery's connection); its answer
    # came.
    head, _ = await head_and_body(reader)
    assert (head.split(b" ")[1], b"\r\nconnection: close\r\n" in head) == (b"200", True)
    writer.close()


async def test_a_trusted_proxys_forwarded_scheme_is_the_url_a_url_signed_source_checks() -> None:
    body = b"MessageSid=SM1&MessageStatus=delivered"
    signature = twilio.sign(
        TWILIO_TOKEN.encode(),
        "https://hookgate/webhooks/twilio",
        [("MessageSid", "SM1"), ("MessageStatus", "delivered")],
    )
    head = (
        "POST /webhooks/twilio HTTP/1.1\r\nHost: hookgate\r\n"
        "content-type: application/x-www-form-urlencoded\r\n"
        f"x-twilio-signature: {signature}\r\ncontent-length: {len(body)}\r\n"
    )
    async with delivering(FakeProducer()) as port:
        statuses = []
        for forwarded in ("X-Forwarded-Proto: https\r\n", ""):  # from 127.0.0.1: trusted
            reader, writer = await connect(port)
            writer.write((head + forwarded + "\r\n").encode() + body)
            statuses.append((await head_and_body(reader))[0].split(b" ")[1])
            writer.close()
    assert statuses == [b"200", b"401"]  # signed for https; without the header it is http


async def test_a_delivery_on_a_connection_past_max_connections_is_answered_503() -> None:
    async with delivering(FakeProducer(), max_connections=1) as port:
        first_reader, first = await connect(port)
        first.write(delivery("msg_1"))
        assert (await head_and_body(first_reader))[0].split(b" ")[1] == b"200"
        second_reader, second = await connect(port)
        second.write(delivery("msg_2"))
        assert (await answer(second_reader))[0] == 503
        first.close()
        second.close()


async def test_a_connection_idle_for_the_keep_alive_timeout_is_closed() -> None:
    async with delivering(FakeProducer(), keep_alive_s=0.3) as port:
        reader, writer = await connect(port)
        writer.write(delivery())
        await head_and_body(reader)
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        assert 0.25 <= time.monotonic() - started < 2
        writer.close()


async def test_a_connection_used_again_within_the_timeout_stays_open_past_it() -> None:
    async with delivering(FakeProducer(), keep_alive_s=0.4) as port:
        reader, writer = await connect(port)
        for event_id in ("msg_1", "msg_2", "msg_3", "msg_4"):  # 0.75 s in all, 0.25 s apart
            writer.write(delivery(event_id))
            assert (await head_and_body(reader))[0].startswith(b"HTTP/1.1 200 ")
            await asyncio.sleep(0.25)
        writer.write(delivery("msg_5"))
        assert (await head_and_body(reader))[0].startswith(b"HTTP/1.1 200 ")
        writer.close()


# --- the collector in a serving process ----------------------------------------------------------


@pytest.fixture
def settled_gc() -> Iterator[None]:
    """settle_gc() in this process, undone afterwards."""
    threshold = gc.get_threshold()
    settle_gc()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_serving_process_leaves_its_startup_objects_out_of_collections(
    settled_gc: None,
) -> None:
    assert gc.get_freeze_count() > 10_000  # this process's modules and classes at least
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD


def test_a_serving_process_still_collects_garbage_cycles(settled_gc: None) -> None:
    class Node:
        other: Any = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second  # a cycle: reference counting alone never frees it
    # Enough allocations to trigger a collection of the youngest generation.
    kept: list[list[int]] = [[] for _ in range(GC_YOUNG_THRESHOLD * 2)]
    assert gone() is None
    assert len(kept) == GC_YOUNG_THRESHOLD * 2
