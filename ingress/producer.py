"""The ingress's Kafka producer: acknowledged writes over the shared bridge.

Every HTTP request is answered from its own record's delivery report
(:mod:`schemas.producer_bridge`: idempotent, ``acks=all``), so a 2xx means the record is in
every in-sync replica. What this
module adds is the ingress's answers: a record Kafka refuses as too large is a 413 (the sender
must not retry it for days); anything else not acknowledged in time, a full queue, or a producer
that failed for good is a 503 the sender retries. A failed producer also fails ``/readyz``, so an
orchestrator restarts the process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ingress.errors import BrokerUnavailable, IngressError, PayloadTooLarge
from schemas.producer_bridge import (
    BridgeError,
    BridgeFailed,
    Delivered,
    ProducerBridge,
    QueueFull,
    RecordRefused,
)

__all__ = ["Delivered", "KafkaProducer", "OnOutcome", "RawProducer"]

#: Gets a record's coordinates once the broker acknowledged it, or the error to answer the
#: sender with. Called once, on the event loop.
OnOutcome = Callable[[Delivered | IngressError], None]


class RawProducer(Protocol):
    """What the ingress needs of a producer (tests stand in a fake without Kafka)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        on_outcome: OnOutcome,
    ) -> None:
        """Queue one record now; ``on_outcome`` gets what became of it. Raises IngressError
        when it cannot be queued (``on_outcome`` is then never called)."""
        ...

    async def ready(self, topic: str) -> bool: ...


class KafkaProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        delivery_timeout_ms: int = 5000,
        client_config: Mapping[str, str] | None = None,
        max_message_bytes: int = 1_000_000,
    ) -> None:
        config: dict[str, Any] = {
            # Batching: a record waits up to this long for others to share its produce request.
            # At hundreds to thousands of deliveries/s, 2 ms batched a handful of records, so
            # librdkafka's broker thread woke, built, compressed and sent for nearly every one,
            # pre-empting the event loop on a one-core process; 5 ms cost 13 % less CPU per
            # delivery (BENCHMARKS.md), and at most 3 ms of latency at low rates.
            # ``kafka.client`` may set its own.
            "linger.ms": 5,
            **(client_config or {}),
            # librdkafka refuses larger records itself (its default is 1,000,000 bytes): it
            # must fit the largest body a source accepts, plus headers.
            "message.max.bytes": max_message_bytes,
            "bootstrap.servers": bootstrap_servers,
            "compression.type": "lz4",
            # A request waits at most this long for its ack; then the sender gets a 503.
            "message.timeout.ms": delivery_timeout_ms,
            "request.timeout.ms": min(delivery_timeout_ms, 30_000),
            # Come back quickly once a restarted broker is reachable again.
            "reconnect.backoff.max.ms": 1000,
        }
        # librdkafka reports every record by message.timeout.ms; the margin covers the poll
        # interval so that report, not this backstop, is what normally answers.
        self._timeout = delivery_timeout_ms / 1000 + 2
        self._bridge = ProducerBridge(config, name="ingress")

    @property
    def failure(self) -> BridgeFailed | None:
        return self._bridge.failure

    async def start(self) -> None:
        await self._bridge.start()

    async def stop(self, flush_timeout: float = 10.0) -> None:
        # Requests still waiting get their answer from the final flush's delivery reports.
        await self._bridge.stop(flush_timeout)

    def submit(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        on_outcome: OnOutcome,
    ) -> None:
        """Queue one record; ``on_outcome`` gets :class:`Delivered` once the broker acknowledged
        it (``acks=all``), or the IngressError to answer. A full queue is a 503 at once, not a
        request left waiting for room."""

        def settle(outcome: Delivered | BridgeError) -> None:
            on_outcome(_answer(outcome) if isinstance(outcome, BridgeError) else outcome)

        try:
            self._bridge.submit(topic, key, value, headers, settle, ack_timeout=self._timeout)
        except BridgeError as error:
            raise _answer(error) from None

    async def ready(self, topic: str) -> bool:
        """True when the cluster answers for ``topic`` and the producer has not failed."""
        return await self._bridge.ready(topic)


def _answer(error: BridgeError) -> IngressError:
    # A record too large for Kafka will never be taken: 413, not a 503 the sender retries for days.
    if isinstance(error, RecordRefused) and error.too_large:
        return PayloadTooLarge(
            "the delivery is larger than Kafka accepts (raise the raw topic's max.message.bytes "
            "or lower the source's max_body_bytes)"
        )
    if isinstance(error, QueueFull):
        return BrokerUnavailable("producer queue is full")
    if isinstance(error, BridgeFailed):
        return BrokerUnavailable("producer failed; the ingress must be restarted")
    return BrokerUnavailable(f"Kafka did not accept the record: {error}")
