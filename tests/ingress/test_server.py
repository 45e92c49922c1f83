"""The ingress as ``hookgate ingress`` serves it: a real uvicorn server on 127.0.0.1, raw HTTP/1.1
over sockets, a FAKE producer. What is claimed here happens before the app sees a request:
request heads bounded in size and header count, connections bounded in number.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from ingress.server import asgi_app, server_options
from schemas.config import parse
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
