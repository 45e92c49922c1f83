"""An open-loop (fixed-rate) HTTP/1.1 load generator: tails that a closed loop would hide.

wrk keeps N requests in flight and sends the next only when one returns: when the server
stalls, wrk stops sending, and the stall shows up as one slow request instead of the many that
real senders (who do not wait for each other) would have seen. This generator schedules every
request at a fixed time (rate R over C keep-alive connections, R/C each, like wrk2) and measures
latency from the time the request *should* have been sent whenever the connection was still
busy with an earlier one (coordinated omission corrected). When the connection was idle, it
measures from the actual send: the event loop's timers are millisecond-grained, and that
lateness is the generator's, not the server's.

    python bench/loadgen.py --port 8000 --path /webhooks/bench --rate 2000 --seconds 10 \\
        --requests requests.json

``--requests`` is a JSON list of ``{"headers": {...}, "body": "..."}`` used round robin (unique
event ids for end-to-end runs). Prints one JSON object: achieved rate, status counts, latency
percentiles in ms, and per-request (send, 2xx) times when ``--times`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def build_request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time; answers parsed just enough to frame."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).lower()
        marker = head.find(b"content-length:")
        length = 0
        if marker >= 0:
            stop = head.find(b"\r\n", marker)
            length = int(head[marker + 15 : stop if stop >= 0 else None])
        if len(self.buffer) < end + 4 + length:
            return
        status = int(self.buffer[9:12])
        del self.buffer[: end + 4 + length]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def request(self, payload: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    behind: int = 0  # sends that left after their scheduled time because the connection was busy
    times: list[tuple[int, float, float]] = field(default_factory=list)


async def run(
    host: str,
    port: int,
    payloads: list[bytes],
    rate: float,
    seconds: float,
    connections: int,
    keep_times: bool,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    results = Results()
    conns = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(Connection, host, port)
        conns.append(protocol)
    interval = connections / rate
    # uvloop's loop.time() is libuv's millisecond clock: too coarse to time requests with.
    clock = time.perf_counter
    start = clock() + 0.05
    end = start + seconds
    counter = iter(range(10**12))

    async def drive(index: int, conn: Connection) -> None:
        scheduled = start + index / rate
        while scheduled < end:
            now = clock()
            if now < scheduled:
                await asyncio.sleep(scheduled - now)
                origin = clock()
            else:
                origin = scheduled
                if now - scheduled > 0.001:
                    results.behind += 1
            n = next(counter)
            sent_wall = time.time()
            try:
                status = await conn.request(payloads[n % len(payloads)])
            except ConnectionError:
                results.errors += 1
                return
            done = clock()
            results.latencies.append(done - origin)
            results.statuses[status] = results.statuses.get(status, 0) + 1
            if keep_times:
                results.times.append((n, sent_wall, sent_wall + (done - origin)))
            scheduled += interval

    began = clock()
    await asyncio.gather(*(drive(i, c) for i, c in enumerate(conns)))
    elapsed = clock() - began
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    done = len(results.latencies)
    return {
        "target_rate": rate,
        "achieved_rate": done / elapsed if elapsed > 0 else 0.0,
        "requests": done,
        "behind_schedule": results.behind,
        "errors": results.errors,
        "statuses": {str(k): v for k, v in sorted(results.statuses.items())},
        **percentiles(results.latencies),
        **({"times": results.times} if keep_times else {}),
    }


def percentiles(latencies: list[float]) -> dict[str, float | None]:
    ordered = sorted(latencies)

    def at(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "p999_ms": at(0.999), "max_ms": at(1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--times", action="store_true", help="report each request's times")
    args = parser.parse_args()
    payloads = [
        build_request(args.host, args.port, args.path, r["headers"], r["body"].encode())
        for r in json.loads(args.requests.read_text())
    ]
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    connections = max(1, min(args.connections, int(args.rate)))
    result = asyncio.run(
        run(args.host, args.port, payloads, args.rate, args.seconds, connections, args.times)
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
