"""Reading a request body with a hard limit, never buffering more than the limit."""

from __future__ import annotations

from starlette.requests import Request

from ingress.errors import MalformedHeader, PayloadTooLarge


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        # Bounded before int(): Python refuses to convert more than 4300 digits (a 500).
        if not (declared.isascii() and declared.isdigit() and len(declared) <= 20):
            raise MalformedHeader("content-length is not a non-negative integer")
        if int(declared) > limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    # Chunked uploads declare no length: count as the bytes arrive and stop at the limit.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
