"""The worker's composition root: settings in, a Faust app out.

One agent, ``normalize``, reads the raw topic as raw bytes (decoding inside the agent, so a
poison record is dead-lettered instead of crash-looping the agent). Its de-duplication table,
``dedup``, is backed by the compacted changelog ``{app_id}-dedup-changelog``. Faust writes a
table entry to the partition of the record being processed, so the raw topic is keyed by the
table key (``{source}:{event id}``) and the table has the raw topic's partition count.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors

from schemas import kafka_clients
from schemas.config import Settings
from streams.emitter import Emitter
from streams.metrics import WorkerMetrics
from streams.pipeline import Pipeline, RawRecord


class WorkerApp(faust.App):
    emitter: Emitter

    async def on_shutdown(self) -> None:
        # After the agents stopped: nothing emits any more, and stop() flushes the rest.
        await self.emitter.stop()


def create_app(
    settings: Settings,
    *,
    metrics: WorkerMetrics | None = None,
    replay_fence: Mapping[int, range] | None = None,
) -> WorkerApp:
    worker = settings.worker
    raw = settings.topics.raw
    metrics = metrics or WorkerMetrics()
    app = WorkerApp(
        worker.app_id,
        # Brokers, TLS/SASL credentials and acks for Faust's consumer and changelog producer.
        **kafka_clients.faust_app(settings.kafka),
        store=worker.store,
        datadir=str(Path(worker.data_dir)),
        web_port=worker.web_port,
        # Changelog topics follow the raw topic's layout (see module doc).
        topic_partitions=raw.partitions,
        topic_replication_factor=raw.replication_factor,
        consumer_auto_offset_reset="earliest",
    )
    app.emitter = Emitter(
        settings.kafka.bootstrap,
        max_in_flight=worker.max_in_flight,
        client_config=kafka_clients.producer(settings.kafka),
    )
    setup_prometheus_sensors(app, registry=metrics.registry, name_prefix="hookgate_faust")

    raw_topic = app.topic(
        raw.name,
        key_serializer="raw",
        value_serializer="raw",
        partitions=raw.partitions,
        # Created by `hookgate topics ensure` with its retention; never by the worker.
        internal=False,
    )
    seen = app.Table(
        "dedup",
        default=None,
        partitions=raw.partitions,
        # bytes keys are stored and recovered raw; values ([partition, offset, ms]) as JSON.
        key_type=bytes,
        help="Last emitted raw record per {source}:{event id} (see streams/dedup.py).",
    )

    def crash(error: BaseException) -> None:
        # An emit the broker refused after the producer's own retries: stop the worker so the
        # record is read again from the last committed offset (at-least-once).
        app.add_future(app.crash(error))

    pipeline = Pipeline(
        seen=seen,
        emitter=app.emitter,
        canonical_topic=settings.topics.canonical.name,
        dead_letter_topic=settings.topics.dead_letter.name,
        dedup_horizon_s=worker.dedup_horizon_s,
        type_prefix=worker.type_prefix,
        metrics=metrics,
        on_emit_failure=crash,
        replay_fence=replay_fence,
    )

    @app.agent(raw_topic, name="normalize")
    async def normalize(stream: faust.StreamT[Any]) -> None:
        await app.emitter.start()
        # noack: Pipeline acks each record itself, once its output is acknowledged.
        async for event in stream.noack().events():  # type: ignore[attr-defined]
            message = event.message
            await pipeline.process(
                RawRecord(
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=message.key,
                    value=message.value,
                    headers=_header_list(message.headers),
                ),
                event.ack,
            )

    return app


def _header_list(headers: Any) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)
