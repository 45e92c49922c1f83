"""The worker's output producer: idempotent, ``acks=all``, pipelined, over the shared bridge.

Faust's own producer is not idempotent outside exactly-once mode, and Faust commits a source
offset once the event is acked by the stream, whatever became of what the agent sent. So the
worker sends through this producer and acks each raw record only from the delivery report of
what it emitted for it: a raw offset is committed only after its canonical event (or dead letter)
is in Kafka, while many sends are in flight at once.

The bridge (:mod:`schemas.producer_bridge`) polls librdkafka in its own thread and hands each
poll's delivery reports to the event loop in one batch. What this module adds is the worker's
reading of a failure: a record Kafka will never take is :class:`~streams.errors.RecordRefused`
(the pipeline dead-letters the raw record instead); anything else, including a fatal producer
error, is reported to ``on_done`` as is, and the pipeline crashes the worker so it restarts from
its last commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from mode import Service

from schemas.producer_bridge import BridgeError, Delivered, ProducerBridge
from schemas.producer_bridge import RecordRefused as BridgeRefused
from streams.errors import RecordRefused

OnDone = Callable[[BaseException | None], None]

#: How long the worker's producers gather records into one request (see Emitter).
LINGER_MS = 20


class Emits(Protocol):
    """What the pipeline needs of an emitter (tests stand in a fake without Kafka)."""

    async def emit(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        on_done: OnDone,
        *,
        partition: int | None = None,
    ) -> None: ...


class Emitter(Service):
    """A ``mode`` service: the worker app starts it before Faust's own services and stops it
    after them (``streams/app.py``), so every emit of a running app has a running producer and
    a stopping app delivers what is in flight."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        max_in_flight: int,
        client_config: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        config: dict[str, Any] = {
            **(client_config or {}),
            "bootstrap.servers": bootstrap_servers,
            # Batches of ~20 ms: the broker (on the worker's machine in the benchmark) and
            # librdkafka spend per request, and 5 ms cost ~30 % more CPU per event
            # (bench/README.md). Canonical visibility waits for the commit interval anyway.
            "linger.ms": LINGER_MS,
            # Give up (and restart from the last commit) well within a rebalance timeout, so a
            # member with stuck sends is not evicted while it still holds acks.
            "message.timeout.ms": 30_000,
        }
        self._bridge = ProducerBridge(config, max_in_flight=max_in_flight, name="emitter")

    async def on_start(self) -> None:
        await self._bridge.start()

    async def on_stop(self) -> None:
        # Deliver what is in flight; its reports still ack the raw records.
        await self._bridge.stop(30)

    async def emit(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        on_done: OnDone,
        *,
        partition: int | None = None,
    ) -> None:
        """Queue one record (``value`` None: a tombstone; ``partition`` None: by key);
        ``on_done`` gets ``None`` once the broker acknowledged it, else
        the reason it was not written (also when it could not even be queued, or the emitter
        is not running).

        Waits when ``max_in_flight`` records are unacknowledged, so a slow broker slows the
        stream down instead of growing memory.
        """

        def report(outcome: Delivered | BridgeError) -> None:
            on_done(_failure(outcome) if isinstance(outcome, BridgeError) else None)

        try:
            await self._bridge.send(topic, key, value, headers, report, partition=partition)
        except BridgeError as error:  # e.g. a record larger than the client accepts
            on_done(_failure(error))


def _failure(error: BridgeError) -> BaseException:
    if isinstance(error, BridgeRefused):
        return RecordRefused(str(error))
    return error
