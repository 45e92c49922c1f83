"""A webhook sender as providers are: signs each attempt, retries on 503 and dead connections.

Deliveries are signed with the ``standardwebhooks`` library (an implementation independent of
the ingress). A share of them is sent more than once, as senders that missed an answer or
retry on a schedule do; some of those copies go out at the same moment through both ingress
processes. Every copy is retried until it gets a 2xx (503 and connection errors, moving to the
other ingress on a dead connection, as a load balancer would) or until ``give_up_after``.
What counts downstream is which event ids got at least one 2xx: those must come out.

The sender runs its own event loop in a thread, so the fault script can block in the main one.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from tests.faults.pipeline import SECRET, SOURCE

#: Copies of a repeated delivery: 2 to 5, as the issue asks.
MIN_COPIES, MAX_COPIES = 2, 5


@dataclass(frozen=True)
class Delivery:
    event_id: str
    body: bytes
    copies: int
    #: The copies go out at once, alternating between the ingress processes.
    concurrent: bool


def plan(
    count: int, seed: int, *, repeat_share: float = 0.25, concurrent_share: float = 0.5
) -> list[Delivery]:
    """``count`` distinct events; ``repeat_share`` of them sent 2-5 times."""
    rng = random.Random(seed)
    deliveries = []
    for i in range(count):
        event_id = f"evt_{seed}_{i}"
        body = json.dumps(
            {
                "type": "job.finished",
                "timestamp": "2026-11-30T10:00:00Z",
                "data": {"id": f"job_{seed}_{i}", "n": i},
            }
        ).encode()
        repeated = rng.random() < repeat_share
        deliveries.append(
            Delivery(
                event_id,
                body,
                copies=rng.randint(MIN_COPIES, MAX_COPIES) if repeated else 1,
                concurrent=repeated and rng.random() < concurrent_share,
            )
        )
    return deliveries


@dataclass
class SendStats:
    planned: int = 0
    copies_planned: int = 0
    deliveries_done: int = 0
    #: HTTP requests made, retries included.
    requests: int = 0
    #: Event ids that got at least one 2xx.
    accepted: set[str] = field(default_factory=set)
    #: Event ids with a copy that was never answered 2xx within ``give_up_after``.
    given_up: set[str] = field(default_factory=set)
    #: Event id -> an answer no sender retries (4xx, 500): a failure of the system under test.
    refused: dict[str, str] = field(default_factory=dict)
    #: Answers and errors by kind: 200, 503, "ConnectError", ...
    answers: Counter[str] = field(default_factory=Counter)


class Sender:
    def __init__(
        self,
        urls: list[str],
        deliveries: list[Delivery],
        *,
        rate: float,
        concurrency: int = 32,
        give_up_after: float = 90.0,
        seed: int = 0,
    ) -> None:
        self._urls = urls
        self._deliveries = deliveries
        self._rate = rate
        self._concurrency = concurrency
        self._give_up_after = give_up_after
        self._rng = random.Random(seed ^ 0x5E11D)
        self._webhook = Webhook(SECRET)
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.stats = SendStats(
            planned=len(deliveries), copies_planned=sum(d.copies for d in deliveries)
        )

    # -- control from the main thread ---------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="sender", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def halt(self) -> None:
        """Stop early: copies in progress are abandoned (used when a run fails)."""
        self._halt.set()

    def join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    # -- the loop -----------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by the harness, never swallowed
            self.error = exc

    async def _run(self) -> None:
        queue: asyncio.Queue[Delivery | None] = asyncio.Queue(maxsize=self._concurrency)
        limits = httpx.Limits(max_connections=4 * self._concurrency)
        async with httpx.AsyncClient(timeout=15.0, limits=limits) as client:
            tasks = [
                asyncio.create_task(self._drain(client, queue)) for _ in range(self._concurrency)
            ]
            started = time.monotonic()
            for i, delivery in enumerate(self._deliveries):
                if self._halt.is_set():
                    break
                # Paced, so the load spans the faults; a slow system slows it further
                # (the queue is bounded), as backpressure would.
                delay = started + i / self._rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await queue.put(delivery)
            for _ in tasks:
                await queue.put(None)
            await asyncio.gather(*tasks)

    async def _drain(
        self, client: httpx.AsyncClient, queue: asyncio.Queue[Delivery | None]
    ) -> None:
        while (delivery := await queue.get()) is not None:
            first = self._rng.randrange(len(self._urls))
            if delivery.concurrent:
                await asyncio.gather(
                    *(self._send_copy(client, delivery, first + k) for k in range(delivery.copies))
                )
            else:
                for k in range(delivery.copies):
                    await self._send_copy(client, delivery, first + k)
            self.stats.deliveries_done += 1

    async def _send_copy(self, client: httpx.AsyncClient, delivery: Delivery, target: int) -> None:
        deadline = time.monotonic() + self._give_up_after
        attempt = 0
        while not self._halt.is_set():
            url = self._urls[target % len(self._urls)]
            # Each attempt is signed anew with the current time, as senders do.
            now = datetime.now(UTC)
            headers = {
                "webhook-id": delivery.event_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._webhook.sign(
                    delivery.event_id, now, delivery.body.decode()
                ),
                "content-type": "application/json",
            }
            self.stats.requests += 1
            try:
                response = await client.post(
                    f"{url}/webhooks/{SOURCE}", content=delivery.body, headers=headers
                )
            except httpx.TransportError as exc:
                # A dead or dying ingress: try the other one, as a load balancer would.
                self.stats.answers[type(exc).__name__] += 1
                target += 1
            else:
                self.stats.answers[str(response.status_code)] += 1
                if response.is_success:
                    self.stats.accepted.add(delivery.event_id)
                    return
                if response.status_code != 503:
                    self.stats.refused[delivery.event_id] = (
                        f"{response.status_code} {response.text[:200]}"
                    )
                    return
            attempt += 1
            if time.monotonic() >= deadline:
                self.stats.given_up.add(delivery.event_id)
                return
            backoff = min(2.0, 0.05 * 2**attempt)
            await asyncio.sleep(backoff * (0.5 + self._rng.random()))
