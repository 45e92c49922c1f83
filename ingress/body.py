"""Reading a request body with a hard limit and a deadline, never buffering more than the limit."""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect
from starlette.types import Receive

from ingress.errors import BodyTimeout, MalformedHeader, PayloadTooLarge
from ingress.limits import Held


async def read_limited(
    receive: Receive, declared: str | None, limit: int, held: Held, timeout_s: float
) -> bytes:
    """The body from ASGI ``receive``, at most ``limit`` bytes, in full within ``timeout_s``
    seconds of the call; its bytes are reserved in ``held`` (``declared``, the content-length
    header's value, before they are read)."""
    if declared is not None:
        # Bounded before int(): Python refuses to convert more than 4300 digits (a 500).
        if not (declared.isascii() and declared.isdigit() and len(declared) <= 20):
            raise MalformedHeader("content-length is not a non-negative integer")
        if int(declared) > limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
        held.reserve(int(declared))
    try:
        async with asyncio.timeout(timeout_s):
            return await _read(receive, limit, held)
    except TimeoutError:
        # A sender that stalls mid-body would otherwise hold its connection and its bytes.
        raise BodyTimeout(f"the body did not arrive within {timeout_s:g} s") from None


async def _read(receive: Receive, limit: int, held: Held) -> bytes:
    # Straight from the ASGI receive channel rather than Request.stream(), an async generator
    # that costs more than the copy it saves: most bodies arrive in one message.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        # Chunked uploads declare no length: count as the bytes arrive and stop at the limit.
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        held.reserve(size)
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)
