"""The worker's composition root: settings in, a Faust app out, its whole lifecycle in view.

Faust keeps the consumer group, the table and its recovery; the raw topic's records are read
through librdkafka (:mod:`streams.raw_reader`) from the partitions Faust assigned, as raw bytes
(decoding inside the stage, so a poison record is dead-lettered instead of crash-looping the
worker), and one task hands them to the runner a batch at a time. The de-duplication table,
``dedup``, is backed by the compacted changelog ``{app_id}-dedup-changelog``; the table has the
raw topic's partition count and an entry lives in the changelog partition of its raw record,
which is what Faust's recovery expects. The web server answers ``/metrics`` and ``/healthz``
(the liveness probe's page).

Lifecycle: the runner takes over partitions when Faust assigns them (before Faust resumes them),
commits every ``commit_interval_ms`` and before Faust gives partitions away, expires old
de-duplication entries every ``state_expiry_interval_s``, and commits a last time on stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from faust.types import TP
from prometheus_client import generate_latest

from schemas import kafka_clients, telemetry
from schemas.config import Settings
from streams.at_least_once import Acknowledged
from streams.emitter import Emitter
from streams.exactly_once import Transactions, transaction_timeout_ms_for
from streams.liveness import Liveness, Progress
from streams.metrics import WorkerMetrics
from streams.offsets import GroupOffsets
from streams.overrides import WorkerApp, consumer_state
from streams.pipeline import Stage
from streams.raw_reader import RawReader, ReaderFailed
from streams.runner import Runner
from streams.state import DedupState

log = logging.getLogger("hookgate.streams")

_PROMETHEUS_TEXT = "text/plain; version=0.0.4"
#: How often the worker checks that it takes records while records wait (streams/liveness.py).
_LIVENESS_CHECK_S = 10.0
#: Records taken from the reader at a time (librdkafka keeps the next ones fetched meanwhile).
_BATCH_RECORDS = 1000
#: How long the task waits when nothing was fetched: the latency it adds to an idle worker.
_IDLE_S = 0.01
#: How often it looks again while Faust rebalances or recovers the table.
_SETTLING_S = 0.05


def health(owned: set[int], quiet_s: float, rebalancing: bool) -> dict[str, Any]:
    """The ``/healthz`` body: the raw partitions owned, the seconds since a record was taken (or
    partitions were assigned) and whether a rebalance or table recovery is under way."""
    return {
        "status": "ok",
        "partitions": sorted(owned),
        "seconds_since_last_record": round(quiet_s, 3),
        "rebalancing": rebalancing,
    }


def create_app(
    settings: Settings,
    *,
    metrics: WorkerMetrics | None = None,
    replay_fence: Mapping[int, range] | None = None,
) -> WorkerApp:
    worker = settings.worker
    raw = settings.topics.raw
    metrics = metrics or WorkerMetrics()
    # Faust creates only the last level of its data directory; a fresh checkout or volume may
    # lack the parents (HOOKGATE_HOME moved the dev broker's data elsewhere, for one).
    Path(worker.data_dir).mkdir(parents=True, exist_ok=True)
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
        # A partition's fetch must hold the largest record a source can cause.
        consumer_max_fetch_size=settings.max_record_bytes,
        table_standby_replicas=worker.standby_replicas,
    )
    app.raw_topic_name = raw.name

    raw_topic = app.topic(
        raw.name,
        key_serializer="raw",
        value_serializer="raw",
        partitions=raw.partitions,
        # Created by `hookgate topics ensure` with its retention; never by the worker.
        internal=False,
    )
    table = app.Table(
        "dedup",
        default=None,
        partitions=raw.partitions,
        # bytes keys are stored and recovered raw; values ([partition, offset, ms]) as JSON.
        key_type=bytes,
        help="Last emitted raw record per {source}:{event id} (see streams/dedup.py).",
    )

    # librdkafka refuses larger records itself (1,000,000 bytes by default).
    record_size = {"message.max.bytes": settings.max_record_bytes}
    emitter = Emitter(
        settings.kafka.bootstrap,
        max_in_flight=worker.max_in_flight,
        client_config=kafka_clients.producer(settings.kafka, **record_size),
    )
    state = DedupState(
        table.data, emitter, table.changelog_topic.get_topic_name(), worker.dedup_horizon_s * 1000
    )
    # None unless `tracing.exporter` asks for spans; the trace context travels regardless.
    tracer = telemetry.start(settings.tracing, "worker")
    stage = Stage(
        lookup=state.get,
        canonical_topic=settings.topics.canonical.name,
        dead_letter_topic=settings.topics.dead_letter.name,
        dedup_horizon_s=worker.dedup_horizon_s,
        type_prefix=worker.type_prefix,
        replay_fence=replay_fence,
        tracer=tracer,
    )

    def crash(error: BaseException) -> None:
        # Progress could not be committed: stop, so the records are read again from the last
        # commit once the worker is restarted.
        app.add_future(app.crash(error))

    reader = RawReader(
        kafka_clients.librdkafka(settings.kafka),
        raw.name,
        worker.app_id,
        settings.max_record_bytes,
    )
    offsets = GroupOffsets(kafka_clients.librdkafka(settings.kafka), worker.app_id, raw.name)
    runner = Runner(
        stage=stage,
        state=state,
        emitter=emitter,
        metrics=metrics,
        highwater=reader.highwater,
        crash=crash,
        starts=lambda partitions: {p: o.start for p, o in offsets.read(partitions).items()},
    )
    if worker.guarantee == "exactly_once":
        runner.sink = Transactions(
            client_config=kafka_clients.librdkafka(settings.kafka, **record_size),
            app_id=worker.app_id,
            raw_topic=raw.name,
            state=state,
            metrics=metrics,
            on_refused=runner.dead_letter,
            transaction_timeout_ms=transaction_timeout_ms_for(worker.commit_interval_ms),
        )
    else:

        async def commit_offsets(offsets: dict[int, int]) -> bool:
            committed = await app.consumer._commit(  # type: ignore[attr-defined]
                {TP(raw.name, p): o for p, o in offsets.items()}
            )
            return bool(committed)

        runner.sink = Acknowledged(
            emitter=emitter,
            state=state,
            commit_offsets=commit_offsets,
            on_refused=runner.dead_letter,
        )

    liveness = (
        Liveness(
            offsets=offsets,
            stall_timeout_s=worker.stall_timeout_s,
            progress=Progress(
                owned=lambda: runner.owned,
                positions=runner.positions,
                taken_at=lambda: runner.taken_at,
            ),
            describe=lambda: consumer_state(app),
        )
        if worker.stall_timeout_s
        else None
    )

    async def assigned(partitions: set[int]) -> None:
        await runner.assign(partitions)
        # Each from where the runner resumes it: a kept partition after its last commit, a new
        # one at the group's committed offset (read again by librdkafka if the runner could not).
        positions = runner.positions()
        reader.assign({p: positions.get(p) for p in partitions})

    async def stopped() -> None:
        await runner.close()
        reader.close()
        offsets.close()
        if tracer is not None:
            tracer.close()

    # Started before Faust's services, stopped after them: the agent and the commits on
    # revocation emit through it until the end.
    app.own_services = [emitter]
    app.on_assigned = assigned
    app.on_revoking = runner.commit
    app.on_stopped = stopped
    # Subscribed, so that the group assigns its partitions here (and the table's follow them);
    # Faust does not fetch its records (overrides 6.): the reader does.
    app.topics.add(raw_topic)
    app.handed_out = lambda: runner.unacked

    @app.task  # type: ignore[untyped-decorator]
    async def take_raw() -> None:
        # Not while Faust rebalances or recovers the table: records taken then could belong to a
        # partition on its way out, or meet a table not yet recovered.
        try:
            while not app.should_stop:
                if app.busy() or not app.flow_control.is_active():
                    await asyncio.sleep(_SETTLING_S)
                    continue
                records = reader.take(_BATCH_RECORDS)
                if not records:
                    await asyncio.sleep(_IDLE_S)
                    continue
                await runner.handle_batch(records)
        except ReaderFailed as exc:
            crash(exc)

    @app.timer(worker.commit_interval_ms / 1000)  # type: ignore[untyped-decorator]
    async def commit() -> None:
        await runner.commit()

    @app.timer(worker.state_expiry_interval_s)  # type: ignore[untyped-decorator]
    async def expire() -> None:
        await runner.expire()

    @app.timer(_LIVENESS_CHECK_S)  # type: ignore[untyped-decorator]
    async def check_liveness() -> None:
        if liveness is None:
            return
        if app.busy():
            liveness.note_busy(time.monotonic())
            return
        try:
            waiting = await asyncio.to_thread(liveness.probe)
        except KafkaException as exc:
            # The broker cannot say (an outage): no verdict this round.
            log.info("liveness: cannot read offsets: %s", exc)
            return
        # Again after the probe: a rebalance may have begun while it ran.
        if app.busy():
            liveness.note_busy(time.monotonic())
            return
        stalled = liveness.verdict(time.monotonic(), waiting)
        if stalled is not None:
            await runner.commit()
            crash(stalled)

    @app.page("/healthz")
    async def healthz_page(view: Any, request: Any) -> Any:
        # The liveness probe's page: answers while the app runs (a stuck worker stops itself,
        # streams/liveness.py); the body is for people.
        return view.json(health(runner.owned, time.monotonic() - runner.taken_at, app.busy()))

    @app.page("/metrics")
    async def metrics_page(view: Any, request: Any) -> Any:
        # aiohttp takes the charset apart from the content type.
        return view.bytes(generate_latest(metrics.registry), content_type=_PROMETHEUS_TEXT)

    return app
