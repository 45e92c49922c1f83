"""The worker's output producer: idempotent, ``acks=all``, pipelined.

Faust's own producer is not idempotent outside exactly-once mode, and Faust commits a source
offset once the event is acked by the stream, whatever became of what the agent sent. So the
worker sends through this producer and acks each raw record only from the delivery report of
what it emitted for it: a raw offset is committed only after its canonical event (or dead letter)
is in Kafka, while many sends are in flight at once.

librdkafka (confluent-kafka) rather than aiokafka: producing is per-event work in the worker's
single Python thread, and librdkafka batches, compresses and sends in its own threads; measured
in ``bench/README.md``. A polling thread collects delivery reports and hands each batch of them to
the event loop in one ``call_soon_threadsafe``, so the loop is woken once per poll, not per event.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.errors import RecordRefused

log = logging.getLogger("hookgate.streams.emitter")

OnDone = Callable[[BaseException | None], None]


class Emitter:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        max_in_flight: int,
        client_config: Mapping[str, str] | None = None,
    ) -> None:
        self._config: dict[str, Any] = {
            **(client_config or {}),
            "bootstrap.servers": bootstrap_servers,
            # Last, so client settings cannot weaken the guarantee.
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # Give up (and restart from the last commit) well within a rebalance timeout, so a
            # member with stuck sends is not evicted while it still holds acks.
            "message.timeout.ms": 30_000,
            "error_cb": _log_error,
        }
        self._max_in_flight = max_in_flight
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        # Delivery reports run in whichever thread polls or flushes librdkafka.
        self._reports: list[tuple[OnDone, KafkaError | None]] = []
        self._reports_lock = threading.Lock()

    async def start(self) -> None:
        if self._producer is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self._max_in_flight)
        self._producer = Producer(self._config)
        self._stopping.clear()
        self._poller = threading.Thread(target=self._poll, name="emitter-poll", daemon=True)
        self._poller.start()

    async def stop(self) -> None:
        producer = self._producer
        if producer is None:
            return
        # Deliver what is in flight; its reports still ack the raw records.
        remaining = await asyncio.to_thread(producer.flush, 30)
        if remaining:
            log.warning("emitter closed with %d records unacknowledged", remaining)
        self._stopping.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join, 5)
        self._producer = None

    async def emit(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        on_done: OnDone,
    ) -> None:
        """Queue one record; ``on_done`` gets ``None`` once the broker acknowledged it.

        Waits when ``max_in_flight`` records are unacknowledged, so a slow broker slows the
        stream down instead of growing memory.
        """
        await self.start()
        assert self._producer is not None
        assert self._slots is not None
        await self._slots.acquire()

        def report(err: KafkaError | None, msg: Message) -> None:
            with self._reports_lock:
                self._reports.append((on_done, err))

        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, headers=list(headers), on_delivery=report
                )
                return
            except BufferError:
                # librdkafka's local queue is full: give the broker time to take some.
                await asyncio.sleep(0.01)
            except KafkaException as exc:  # e.g. a record larger than the client accepts
                self._slots.release()
                on_done(_failure(exc.args[0]))
                return

    def _poll(self) -> None:
        producer, loop = self._producer, self._loop
        assert producer is not None
        assert loop is not None
        while True:
            stopping = self._stopping.is_set()
            producer.poll(0.05)
            with self._reports_lock:
                batch, self._reports = self._reports, []
            if batch:
                loop.call_soon_threadsafe(self._settle, batch)
            if stopping:  # one last round after stop()'s flush, so no report is left behind
                return

    def _settle(self, batch: list[tuple[OnDone, KafkaError | None]]) -> None:
        assert self._slots is not None
        for on_done, err in batch:
            self._slots.release()
            on_done(None if err is None else _failure(err))


#: Refusals that no retry can change: the record itself is unacceptable.
_PERMANENT = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
    }
)


def _failure(err: KafkaError) -> BaseException:
    if err.code() in _PERMANENT:
        return RecordRefused(f"Kafka refused the record: {err.str()}")
    return KafkaException(err)


def _log_error(err: KafkaError) -> None:
    # Broker outages are retried by librdkafka; they surface as delivery errors only once
    # message.timeout.ms passes. A fatal error ends idempotence and shows up the same way.
    log.warning("kafka: %s", err.str())
