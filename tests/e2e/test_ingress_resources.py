"""What many slow or oversized clients cost ``hookgate ingress``: memory stays bounded by its
limits and ``/healthz`` keeps answering.

The real process on the real broker, and hostile clients on raw sockets: bodies declared at the
source's limit that stall half-way, bodies declared far over it, and chunked bodies that trickle
in. Before the limits (issue 8, finding 1) 300 stalled 1 MiB uploads took the process from 50 to
356 MiB and held it there; now the body deadline (``body_timeout_ms``) ends them and the
in-flight cap (``max_body_bytes_in_flight``) refuses what would pass it.

The bounds are stated generously, for a loaded 2-core machine; they catch unbounded growth, not
a slowdown: growth of the peak RSS at most the in-flight cap plus :data:`OVERHEAD`, and every
``/healthz`` within :data:`HEALTHZ_WITHIN` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Stack, serving

pytestmark = pytest.mark.kafka

MIB = 1_048_576
SLOW, OVERSIZED, TRICKLING = 300, 100, 100
IN_FLIGHT_CAP = 32 * MIB
BODY_TIMEOUT_MS = 5_000
#: Peak RSS growth allowed beyond the in-flight cap: parsers, buffers and tasks of ~500
#: connections, and the allocator's slack.
OVERHEAD = 96 * MIB
HEALTHZ_WITHIN = 3.0


def rss(pid: int, field: str = "VmRSS") -> int:
    """``VmRSS`` (now) or ``VmHWM`` (the peak) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:

    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("resources"),
        ingress_settings={
            "body_timeout_ms": BODY_TIMEOUT_MS,
            "max_body_bytes_in_flight": IN_FLIGHT_CAP,
        },
    )
    with serving(stack, "ingress"):
        yield stack


def head(port: int, extra: str) -> bytes:
    return (
        f"POST /webhooks/e2e HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


async def status_of(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), BODY_TIMEOUT_MS / 1000 + 30)
    return int(line.split(b" ", 2)[1]) if line else 0  # 0: closed without an answer


async def stalled(port: int) -> int:
    """Declares a body at the source's limit, sends a quarter of it, then stops sending."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head(port, f"Content-Length: {MIB}\r\n") + b"x" * (MIB // 4))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await status_of(reader)
    finally:
        writer.close()


async def oversized(port: int) -> int:
    """Declares a body of 1 GiB and starts sending it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head(port, f"Content-Length: {1024 * MIB}\r\n") + b"x" * 65_536)
        return await status_of(reader)
    finally:
        writer.close()


async def trickling(port: int) -> int:
    """A chunked body of 64 KiB chunks, one every half second, never finished."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(status_of(reader))
    try:
        writer.write(head(port, "Transfer-Encoding: chunked\r\n"))
        while not answer.done():
            writer.write(b"10000\r\n" + b"x" * 65_536 + b"\r\n")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            await asyncio.wait([answer], timeout=0.5)
        return answer.result()
    finally:
        answer.cancel()
        writer.close()


async def test_slow_and_oversized_clients_leave_memory_bounded_and_healthz_answering(
    stack: Stack,
) -> None:
    pid = stack.processes["ingress"].pid
    assert stack.post(b'{"warm": "up"}').status_code == 200
    before = rss(pid)
    port = stack.ingress_port
    clients = [
        *(asyncio.ensure_future(stalled(port)) for _ in range(SLOW)),
        *(asyncio.ensure_future(oversized(port)) for _ in range(OVERSIZED)),
        *(asyncio.ensure_future(trickling(port)) for _ in range(TRICKLING)),
    ]
    waits: list[float] = []
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        while not all(c.done() for c in clients):
            started = time.monotonic()
            assert (await client.get("/healthz")).status_code == 200
            waits.append(time.monotonic() - started)
            await asyncio.sleep(0.25)
    statuses = [c.result() for c in clients]
    peak = rss(pid, "VmHWM")
    slow, big, trickled = (
        Counter(statuses[:SLOW]),
        Counter(statuses[SLOW : SLOW + OVERSIZED]),
        Counter(statuses[SLOW + OVERSIZED :]),
    )
    print(
        f"\nresources: {SLOW} stalled, {OVERSIZED} oversized, {TRICKLING} trickling clients; "
        f"RSS {before / MIB:.0f} MiB before, peak {peak / MIB:.0f} MiB "
        f"(+{(peak - before) / MIB:.0f} MiB; cap {IN_FLIGHT_CAP // MIB} MiB + {OVERHEAD // MIB}); "
        f"/healthz {len(waits)} answers, slowest {max(waits) * 1000:.0f} ms; "
        f"stalled {dict(slow)}, oversized {dict(big)}, trickling {dict(trickled)}"
    )
    assert peak - before <= IN_FLIGHT_CAP + OVERHEAD
    assert max(waits) <= HEALTHZ_WITHIN
    # Each was refused by a limit: the deadline, the in-flight cap, or the body limit.
    assert set(slow) == {408, 503}, slow
    assert set(big) == {413}, big
    assert set(trickled) <= {408, 503}, trickled
    # What they held is given back: a delivery is accepted again.
    assert stack.post(b'{"after": "the storm"}').status_code == 200
