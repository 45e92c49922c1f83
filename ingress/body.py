"""Reading a request body with a hard limit, never buffering more than the limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from ingress.errors import MalformedHeader, PayloadTooLarge


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        # Bounded before int(): Python refuses to convert more than 4300 digits (a 500).
        if not (declared.isascii() and declared.isdigit() and len(declared) <= 20):
            raise MalformedHeader("content-length is not a non-negative integer")
        if int(declared) > limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    # Straight from the ASGI receive channel rather than Request.stream(), an async generator
    # that costs more than the copy it saves: most bodies arrive in one message.
    receive = request.receive
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
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)
