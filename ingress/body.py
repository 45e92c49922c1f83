"""Reading a request body with a hard limit and a deadline, never buffering more than the limit."""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect
from starlette.types import Receive

from ingress.errors import BodyTimeout, MalformedHeader, PayloadTooLarge
from ingress.limits import Held

#: The longest between two sweeps for overdue body reads; a deadline shorter than four of these
#: is swept four times as often, so a read never overruns its deadline by more than a quarter.
_SWEEP_S = 0.25


class BodyDeadlines:
    """The body-read deadline of every delivery, enforced by one periodic sweep that cancels the
    overdue reads, instead of an ``asyncio.timeout`` per request: its ``Timeout`` object, timer
    and reschedule were ~4 % of a delivery's samples in a profile under load (BENCHMARKS.md).
    A read gives up at most ``sweep_s`` after its deadline.

    The sweep runs only while a read is registered: it starts with the first read and ends at
    the first sweep that finds none, so nothing is left running when no requests come (and no
    lifespan is needed to stop it)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.sweep_s = min(_SWEEP_S, timeout_s / 4)
        # Each reading task, with the loop time past which its read fails.
        self._reading: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def read(self, receive: Receive, limit: int, held: Held) -> bytes:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a body is read in a task: the deadline cancels that task")
        loop = asyncio.get_running_loop()
        reading = self._reading
        reading[task] = loop.time() + self.timeout_s
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep(), name="ingress-body-deadlines")
        cancelling = task.cancelling()
        try:
            return await _read(receive, limit, held)
        except asyncio.CancelledError:
            # Ours only if the sweep cancelled it and no one else did meanwhile (as
            # asyncio.timeout decides): a cancellation from outside still propagates.
            if task in self._expired and task.uncancel() <= cancelling:
                # A sender that stalls mid-body would otherwise hold its connection and bytes.
                raise BodyTimeout(f"the body did not arrive within {self.timeout_s:g} s") from None
            raise
        finally:
            del reading[task]
            self._expired.discard(task)

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._reading:
                await asyncio.sleep(self.sweep_s)
                now = loop.time()
                for task, deadline in self._reading.items():
                    if deadline <= now and task not in self._expired:
                        self._expired.add(task)
                        task.cancel()
        finally:
            self._sweeper = None


async def read_limited(
    receive: Receive,
    declared: str | None,
    limit: int,
    held: Held,
    deadlines: BodyDeadlines,
) -> bytes:
    """The body from ASGI ``receive``, at most ``limit`` bytes, in full within the deadline of
    ``deadlines`` (from the call); its bytes are reserved in ``held`` (``declared``, the
    content-length header's value, before they are read)."""
    _check_declared(declared, limit, held)
    return await deadlines.read(receive, limit, held)


def check_received(declared: str | None, limit: int, held: Held, received: bytes) -> bytes:
    """:func:`read_limited`'s limits for a body the server already holds in full (the ingress's
    HTTP protocol hands it over; over ASGI there is no telling): there is no read to wait for,
    so no deadline to register (its task lookup and bookkeeping were ~2 % of a delivery in a
    profile under load). The parser read exactly the content-length's bytes, so the header
    is only checked for its form."""
    if declared is not None and not _well_formed(declared):
        raise MalformedHeader("content-length is not a non-negative integer")
    size = len(received)
    if size > limit:
        raise PayloadTooLarge(f"body of {size} bytes exceeds the limit of {limit}")
    held.reserve(size)
    return received


def _well_formed(declared: str) -> bool:
    # Bounded before int(): Python refuses to convert more than 4300 digits (a 500).
    return declared.isascii() and declared.isdigit() and len(declared) <= 20


def _check_declared(declared: str | None, limit: int, held: Held) -> None:
    if declared is not None:
        if not _well_formed(declared):
            raise MalformedHeader("content-length is not a non-negative integer")
        if int(declared) > limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
        held.reserve(int(declared))


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
