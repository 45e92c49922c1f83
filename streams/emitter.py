"""The worker's output producer: idempotent, ``acks=all``, pipelined, over the shared bridge.

Faust's own producer is not idempotent outside exactly-once mode, and Faust commits a source
offset once the event is acked by the stream, whatever became of what the agent sent. So the
worker writes its canonical events, dead letters and de-duplication state through this producer,
and commits a raw offset only after :meth:`Emitter.flushed` said that everything written before
was acknowledged (:mod:`streams.runner`): a raw offset is committed only after its canonical
event (or dead letter) and its state are in Kafka, while many writes are in flight at once.

Why a flush per commit and not a report per record: librdkafka then reports failures only, so a
write is one call into librdkafka and nothing else. Per-record reports (two Python callbacks, a
hop to the event loop and the bookkeeping to commit in offset order) cost ~70 µs of the ~150 µs a
raw record cost the worker's main thread (issue 7, bench/README.md). A flush sends at once,
whatever ``linger.ms`` says, and the runner pauses its writes while it waits (a few ms).

What this module adds to the bridge (:mod:`schemas.producer_bridge`) is the worker's reading of
a failure: a record the client will never send is :class:`~streams.errors.RecordRefused` at
once (the pipeline dead-letters the raw record instead); anything else, including a fatal
producer error or a record the broker did not take, is :class:`EmitFailed`, and the worker
stops so it restarts from its last commit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Protocol

from mode import Service

from schemas.producer_bridge import BridgeError, ProducerBridge, QueueFull
from schemas.producer_bridge import RecordRefused as BridgeRefused
from streams.errors import RecordRefused

#: How long the worker's producers gather records into one request (see Emitter).
LINGER_MS = 20
#: Seconds between two looks for room while the in-flight bound is reached.
_ROOM_S = 0.005
#: How long a flush may wait for the broker: the producer's own message timeout plus a margin.
_MESSAGE_TIMEOUT_MS = 30_000
_FLUSH_S = _MESSAGE_TIMEOUT_MS / 1000 + 5


class EmitFailed(Exception):
    """A record was not written (the producer failed, or the broker did not acknowledge it):
    the worker stops and restarts from its last commit, which does not cover that record."""


class Emits(Protocol):
    """What the pipeline needs of an emitter (tests stand in a fake without Kafka)."""

    def write(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        *,
        partition: int | None = None,
    ) -> None: ...

    def has_room(self) -> bool: ...

    async def room(self) -> None: ...

    async def flushed(self) -> None: ...


class Emitter(Service):
    """A ``mode`` service: the worker app starts it before Faust's own services and stops it
    after them (``streams/app.py``), so every write of a running app has a running producer and
    a stopping app delivers what is in flight."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        max_in_flight: int,
        client_config: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.max_in_flight = max_in_flight
        config: dict[str, Any] = {
            **(client_config or {}),
            "bootstrap.servers": bootstrap_servers,
            # Batches of ~20 ms: the broker (on the worker's machine in the benchmark) and
            # librdkafka spend per request, and 5 ms cost ~30 % more CPU per event
            # (bench/README.md). Canonical visibility waits for the commit interval anyway.
            "linger.ms": LINGER_MS,
            # Give up (and restart from the last commit) well within a rebalance timeout, so a
            # member with stuck writes is not evicted while it holds uncommitted records.
            "message.timeout.ms": _MESSAGE_TIMEOUT_MS,
            # Room for max_in_flight records plus the few one raw record writes past the bound
            # (has_room() is asked per raw record): librdkafka's queue is never what refuses.
            "queue.buffering.max.messages": max(100_000, max_in_flight + 1_000),
        }
        self._bridge = ProducerBridge(config, reports="errors", name="emitter")

    async def on_start(self) -> None:
        await self._bridge.start()

    async def on_stop(self) -> None:
        # Deliver what is in flight: a stop commits after it (streams/app.py).
        await self._bridge.stop(30)

    def write(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        *,
        partition: int | None = None,
    ) -> None:
        """Queue one record (``value`` None: a tombstone; ``partition`` None: by key).

        Raises :class:`RecordRefused` when the client will never send it (e.g. larger than
        ``message.max.bytes``) and :class:`EmitFailed` when the producer cannot send any more.
        """
        while True:
            try:
                self._bridge.write(topic, key, value, headers, partition=partition)
                return
            except QueueFull:
                # Only the queue's byte bound (1 GiB by default) can get here: has_room() keeps
                # the record count below its bound. Wait in place, the record half written.
                time.sleep(_ROOM_S)
            except BridgeRefused as refused:
                raise RecordRefused(str(refused)) from None
            except BridgeError as error:
                raise EmitFailed(str(error)) from error

    def has_room(self) -> bool:
        """Fewer than ``max_in_flight`` records written and not yet acknowledged."""
        return self._bridge.in_flight < self.max_in_flight

    async def room(self) -> None:
        """Wait until :meth:`has_room`: a slow broker slows the stream down instead of growing
        memory."""
        # Polled: acknowledgements free room inside librdkafka, which reports none of them.
        while not self.has_room() and self._bridge.failure is None:  # noqa: ASYNC110
            await asyncio.sleep(_ROOM_S)

    async def flushed(self) -> None:
        """Wait until every record written so far is acknowledged; :class:`EmitFailed` if one
        was not (the first failure since the previous flush)."""
        try:
            await self._bridge.flushed(_FLUSH_S)
        except BridgeError as error:
            raise EmitFailed(str(error)) from error
