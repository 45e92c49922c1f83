"""The ingress's Kafka producer: awaitable, acknowledged writes on top of confluent-kafka.

Why confluent-kafka and not aiokafka here: librdkafka pipelines several produce requests per
connection and batches concurrent requests' records together, while aiokafka sends one request
at a time per broker. Every HTTP request awaits its own record's
delivery report, so the producer is idempotent with ``acks=all``: a 2xx means the record is in
every in-sync replica, and librdkafka's internal retries cannot duplicate or reorder it.

librdkafka calls back from the thread that polls it; a dedicated thread polls, and each
delivery report settles its request's future on the event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ingress.errors import BrokerUnavailable, IngressError, PayloadTooLarge

log = logging.getLogger("hookgate.ingress.producer")


@dataclass(frozen=True, slots=True)
class Delivered:
    partition: int
    offset: int


class KafkaProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        delivery_timeout_ms: int = 5000,
        client_config: Mapping[str, str] | None = None,
        max_message_bytes: int = 1_000_000,
    ) -> None:
        self._config: dict[str, Any] = {
            # librdkafka refuses larger records itself (its default is 1,000,000 bytes): it
            # must fit the largest body a source accepts, plus headers.
            "message.max.bytes": max_message_bytes,
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            # Long enough to batch concurrent requests, short against request latency.
            "linger.ms": 2,
            "compression.type": "lz4",
            # A request waits at most this long for its ack; then the sender gets a 503.
            "message.timeout.ms": delivery_timeout_ms,
            "request.timeout.ms": min(delivery_timeout_ms, 30_000),
            # Come back quickly once a restarted broker is reachable again.
            "reconnect.backoff.max.ms": 1000,
            "error_cb": self._on_error,
        }
        # Client settings first, our guarantees last: `acks: 1` in the config must not turn a
        # 2xx into a promise the broker did not make.
        self._config = {**(client_config or {}), **self._config}
        self._timeout = delivery_timeout_ms / 1000
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready_checked_at = 0.0
        self._ready = False
        self._fatal: str | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._producer = Producer(self._config)
        self._stopping.clear()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    async def stop(self, flush_timeout: float = 10.0) -> None:
        producer = self._producer
        if producer is None:
            return
        # Requests still waiting get their answer from the final flush's delivery reports.
        remaining = await asyncio.to_thread(producer.flush, flush_timeout)
        if remaining:
            log.warning("producer closed with %d undelivered records", remaining)
        self._stopping.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join, 5)
        self._producer = None

    async def produce(
        self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> Delivered:
        """Write one record and wait until the broker acknowledged it (``acks=all``)."""
        producer, loop = self._producer, self._loop
        if producer is None or loop is None:
            raise BrokerUnavailable("producer is not running")
        if self._fatal is not None:
            raise BrokerUnavailable("producer failed; the ingress must be restarted")
        future: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, future, err, msg)

        try:
            producer.produce(
                topic, value=value, key=key, headers=list(headers), on_delivery=on_delivery
            )
        except BufferError:
            raise BrokerUnavailable("producer queue is full") from None
        except KafkaException as exc:
            raise _refusal(exc.args[0]) from None
        try:
            # librdkafka reports every record by message.timeout.ms; the margin covers the
            # poll interval so that report, not this timeout, is what normally answers.
            return await asyncio.wait_for(future, self._timeout + 2)
        except TimeoutError:
            raise BrokerUnavailable("no acknowledgement from Kafka in time") from None

    async def ready(self, topic: str) -> bool:
        """True when the cluster answers a metadata request for ``topic`` (cached for 1 s)."""
        producer = self._producer
        if producer is None or self._fatal is not None:
            return False
        now = time.monotonic()
        if now - self._ready_checked_at > 1.0:
            self._ready_checked_at = now
            self._ready = await asyncio.to_thread(_topic_known, producer, topic)
        return self._ready

    def _poll(self) -> None:
        producer = self._producer
        while producer is not None and not self._stopping.is_set():
            producer.poll(0.05)

    def _on_error(self, err: KafkaError) -> None:
        # Transport errors (broker down) are retried by librdkafka and surface as delivery
        # timeouts; only a fatal error (idempotence broken) leaves the producer unusable.
        if err.fatal():
            self._fatal = err.str()
            log.error("fatal producer error: %s", err.str())
        else:
            log.warning("kafka: %s", err.str())


def _settle(future: asyncio.Future[Delivered], err: KafkaError | None, msg: Message) -> None:
    if future.done():  # the request already gave up waiting
        return
    if err is not None:
        future.set_exception(_refusal(err))
    else:
        future.set_result(Delivered(partition=msg.partition() or 0, offset=msg.offset() or 0))


_TOO_LARGE = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})


def _refusal(err: KafkaError) -> IngressError:
    # A record too large for Kafka will never be taken: 413, not a 503 the sender retries for days.
    if err.code() in _TOO_LARGE:
        return PayloadTooLarge(
            "the delivery is larger than Kafka accepts (raise the raw topic's max.message.bytes "
            "or lower the source's max_body_bytes)"
        )
    return BrokerUnavailable(f"Kafka did not accept the record: {err.str()}")


def _topic_known(producer: Producer, topic: str) -> bool:
    try:
        metadata = producer.list_topics(topic, timeout=2.0)
    except KafkaException:
        return False
    entry = metadata.topics.get(topic)
    return entry is not None and entry.error is None
