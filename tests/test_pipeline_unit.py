"""The worker's stage (streams.pipeline.Pipeline) alone: the order of emit, ack and dead letters.

No Kafka here: ``seen`` is a plain dict and the emitter is a recording fake whose sends the test
completes by hand, so each test states when the "broker" acknowledged what. This checks the
stage's own logic; the real emitter and broker are covered by the Kafka tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import pytest

from schemas import canonical
from schemas.deadletter import Header as DLQ
from schemas.raw import RawDelivery
from streams import normalizers
from streams.errors import RecordRefused
from streams.metrics import WorkerMetrics
from streams.pipeline import Pipeline, RawRecord

RAW_TOPIC = "t.raw"
CANONICAL_TOPIC = "t.canonical"
DLQ_TOPIC = "t.dlq"
HORIZON_S = 3600
T0_MS = 1_795_000_000_000

BODY = b'{"type":"invoice.paid","data":{"id":"inv_1","amount":2400}}'


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    on_done: Callable[[BaseException | None], None]

    def succeed(self) -> None:
        self.on_done(None)

    def fail(self, error: BaseException) -> None:
        self.on_done(error)


@dataclass
class FakeEmitter:
    """Stands in for streams.emitter.Emitter: records each send; the test acknowledges it."""

    sent: list[Sent] = field(default_factory=list)

    async def emit(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        on_done: Callable[[BaseException | None], None],
    ) -> None:
        self.sent.append(Sent(topic, key, value, list(headers), on_done))

    @property
    def last(self) -> Sent:
        return self.sent[-1]


@dataclass
class Stage:
    pipeline: Pipeline
    emitter: FakeEmitter
    seen: dict[bytes, object]
    metrics: WorkerMetrics
    emit_failures: list[BaseException]
    acked: list[int] = field(default_factory=list)

    async def process(self, record: RawRecord) -> None:
        await self.pipeline.process(record, lambda: self.acked.append(record.offset))

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(f"{name}_total", labels) or 0.0


@pytest.fixture
def stage() -> Stage:
    emitter = FakeEmitter()
    seen: dict[bytes, object] = {}
    metrics = WorkerMetrics()
    failures: list[BaseException] = []
    pipeline = Pipeline(
        seen=seen,
        emitter=emitter,
        canonical_topic=CANONICAL_TOPIC,
        dead_letter_topic=DLQ_TOPIC,
        dedup_horizon_s=HORIZON_S,
        type_prefix="com.example.hooks.",
        metrics=metrics,
        on_emit_failure=failures.append,
    )
    return Stage(pipeline, emitter, seen, metrics, failures)


def delivery(body: bytes = BODY, *, event_id: str = "msg_1", at_ms: int = T0_MS) -> RawDelivery:
    return RawDelivery(
        source="demo",
        provider="standard-webhooks",
        scheme="standard-webhooks",
        event_id=event_id,
        received_at_ms=at_ms,
        content_type="application/json",
        body=body,
        sender_headers=(("webhook-id", event_id), ("webhook-timestamp", str(at_ms // 1000))),
    )


def record(raw: RawDelivery | None = None, *, offset: int = 10, partition: int = 0) -> RawRecord:
    raw = raw or delivery()
    return RawRecord(RAW_TOPIC, partition, offset, raw.key, raw.body, raw.headers())


# --- emit, then ack ----------------------------------------------------------------------------


async def test_a_new_record_is_emitted_to_the_canonical_topic_as_a_cloudevent(stage: Stage) -> None:
    await stage.process(record())
    sent = stage.emitter.last
    event = canonical.decode(sent.key, sent.value, sent.headers)
    assert sent.topic == CANONICAL_TOPIC
    assert (event.id, event.type, event.partitionkey) == (
        "msg_1",
        "com.example.hooks.standard-webhooks.invoice.paid",  # the configured namespace
        "inv_1",
    )


async def test_a_record_is_not_acked_before_its_emit_completes(stage: Stage) -> None:
    await stage.process(record())
    assert stage.acked == []


async def test_a_record_is_acked_once_its_emit_completes(stage: Stage) -> None:
    await stage.process(record())
    stage.emitter.last.succeed()
    assert stage.acked == [10]


async def test_a_record_done_early_waits_for_the_earlier_records_of_its_partition(
    stage: Stage,
) -> None:
    # Faust commits past a gap at the head of the acked offsets: never show it one.
    await stage.process(record(delivery(event_id="msg_1"), offset=10))
    await stage.process(record(delivery(event_id="msg_2"), offset=11))
    stage.emitter.sent[1].succeed()
    assert stage.acked == []
    stage.emitter.sent[0].succeed()
    assert stage.acked == [10, 11]


async def test_records_of_other_partitions_do_not_wait_for_each_other(stage: Stage) -> None:
    await stage.process(record(delivery(event_id="msg_1"), offset=10, partition=0))
    await stage.process(record(delivery(event_id="msg_2"), offset=11, partition=1))
    stage.emitter.sent[1].succeed()
    assert stage.acked == [11]


async def test_an_emitted_record_is_counted_once_its_emit_completes(stage: Stage) -> None:
    await stage.process(record())
    assert stage.count("hookgate_worker_records", outcome="emitted") == 0
    stage.emitter.last.succeed()
    assert stage.count("hookgate_worker_records", outcome="emitted") == 1


async def test_an_emit_stores_the_record_coordinates_for_de_duplication(stage: Stage) -> None:
    await stage.process(record(offset=10, partition=2))
    assert stage.seen == {b"demo:msg_1": [2, 10, T0_MS]}


# --- duplicates and replays --------------------------------------------------------------------


async def test_a_second_delivery_within_the_horizon_is_dropped(stage: Stage) -> None:
    await stage.process(record(offset=10))
    await stage.process(record(delivery(at_ms=T0_MS + 60_000), offset=11))
    assert len(stage.emitter.sent) == 1


async def test_a_dropped_duplicate_is_acked_as_soon_as_the_records_before_it_are(
    stage: Stage,
) -> None:
    await stage.process(record(offset=10))
    await stage.process(record(delivery(at_ms=T0_MS + 60_000), offset=11))
    assert stage.acked == []
    stage.emitter.last.succeed()
    assert stage.acked == [10, 11]


async def test_a_dropped_duplicate_is_counted_by_outcome_and_source(stage: Stage) -> None:
    await stage.process(record(offset=10))
    await stage.process(record(delivery(at_ms=T0_MS + 60_000), offset=11))
    assert stage.count("hookgate_worker_records", outcome="duplicate") == 1
    assert stage.count("hookgate_worker_duplicates_dropped", source="demo") == 1


async def test_a_dropped_duplicate_keeps_the_first_record_as_state(stage: Stage) -> None:
    await stage.process(record(offset=10))
    await stage.process(record(delivery(at_ms=T0_MS + 60_000), offset=11))
    assert stage.seen[b"demo:msg_1"] == [0, 10, T0_MS]


async def test_a_delivery_beyond_the_horizon_is_emitted_again(stage: Stage) -> None:
    await stage.process(record(offset=10))
    await stage.process(record(delivery(at_ms=T0_MS + HORIZON_S * 1000 + 1), offset=99))
    assert len(stage.emitter.sent) == 2


async def test_a_replayed_record_is_emitted_again_marked_as_a_replay(stage: Stage) -> None:
    await stage.process(record(offset=10))
    stage.emitter.last.succeed()
    await stage.process(record(offset=10))
    first, again = stage.emitter.sent
    assert (again.topic, again.key, again.value) == (first.topic, first.key, first.value)
    assert again.headers == [*first.headers, ("ce_replay", b"true")]


async def test_a_first_emission_carries_no_replay_marker(stage: Stage) -> None:
    await stage.process(record(offset=10))
    assert not canonical.is_replay(decoded(stage.emitter.last))


async def test_an_event_carries_the_coordinates_of_its_raw_record(stage: Stage) -> None:
    await stage.process(record(offset=42, partition=2))
    assert canonical.origin_of(decoded(stage.emitter.last)) == canonical.RawOrigin(RAW_TOPIC, 2, 42)


async def test_a_replayed_record_inside_the_replay_fence_is_read_but_not_re_emitted(
    stage: Stage,
) -> None:
    fenced = fenced_stage(stage, {0: range(10, 20)})
    await fenced.process(record(offset=10))
    fenced.emitter.last.succeed()
    await fenced.process(record(offset=10))
    assert len(fenced.emitter.sent) == 1
    assert fenced.acked == [10, 10]
    assert fenced.count("hookgate_worker_records", outcome="past_replay_end") == 1


async def test_the_replay_fence_never_holds_back_a_first_emission(stage: Stage) -> None:
    fenced = fenced_stage(stage, {0: range(10, 20)})
    await fenced.process(record(offset=15))
    assert len(fenced.emitter.sent) == 1


async def test_a_replayed_record_outside_the_replay_fence_is_re_emitted(stage: Stage) -> None:
    fenced = fenced_stage(stage, {0: range(10, 20)})
    await fenced.process(record(offset=20))
    fenced.emitter.last.succeed()
    await fenced.process(record(offset=20))
    assert len(fenced.emitter.sent) == 2


def fenced_stage(stage: Stage, fence: dict[int, range]) -> Stage:
    pipeline = Pipeline(
        seen=stage.seen,
        emitter=stage.emitter,  # type: ignore[arg-type]
        canonical_topic=CANONICAL_TOPIC,
        dead_letter_topic=DLQ_TOPIC,
        dedup_horizon_s=HORIZON_S,
        metrics=stage.metrics,
        on_emit_failure=stage.emit_failures.append,
        type_prefix="com.example.hooks.",
        replay_fence=fence,
    )
    return Stage(pipeline, stage.emitter, stage.seen, stage.metrics, stage.emit_failures)


def decoded(sent: Sent) -> canonical.CanonicalEvent:
    return canonical.decode(sent.key, sent.value, sent.headers)


async def test_a_replayed_record_is_acked_after_its_emit_and_counted_as_reemitted(
    stage: Stage,
) -> None:
    await stage.process(record(offset=10))
    stage.emitter.last.succeed()
    await stage.process(record(offset=10))
    stage.emitter.last.succeed()
    assert stage.acked == [10, 10]
    assert stage.count("hookgate_worker_records", outcome="reemitted") == 1


async def test_unreadable_state_is_treated_as_none(stage: Stage) -> None:
    stage.seen[b"demo:msg_1"] = "garbage"
    await stage.process(record(offset=10))
    assert len(stage.emitter.sent) == 1
    assert stage.seen[b"demo:msg_1"] == [0, 10, T0_MS]


# --- failed emits ------------------------------------------------------------------------------


async def test_a_failed_emit_is_reported_to_on_emit_failure(stage: Stage) -> None:
    await stage.process(record())
    error = RuntimeError("broker refused")
    stage.emitter.last.fail(error)
    assert stage.emit_failures == [error]


async def test_a_failed_emit_is_not_acked(stage: Stage) -> None:
    await stage.process(record())
    stage.emitter.last.fail(RuntimeError("broker refused"))
    assert stage.acked == []


async def test_a_failed_emit_is_not_counted_as_emitted(stage: Stage) -> None:
    await stage.process(record())
    stage.emitter.last.fail(RuntimeError("broker refused"))
    assert stage.count("hookgate_worker_records", outcome="emitted") == 0


async def test_a_record_whose_emit_failed_is_emitted_again_when_read_again(stage: Stage) -> None:
    await stage.process(record(offset=10))
    stage.emitter.last.fail(RuntimeError("broker refused"))
    await stage.process(record(offset=10))
    assert len(stage.emitter.sent) == 2


# --- dead letters ------------------------------------------------------------------------------


def poison() -> RawRecord:
    headers = [(k, b"9" if k == "hookgate-format" else v) for k, v in delivery().headers()]
    return replace(record(), headers=headers)


async def test_a_record_with_bad_headers_goes_to_the_dead_letter_topic(stage: Stage) -> None:
    await stage.process(poison())
    assert [s.topic for s in stage.emitter.sent] == [DLQ_TOPIC]


async def test_a_dead_letter_keeps_the_original_key_value_and_headers(stage: Stage) -> None:
    original = poison()
    await stage.process(original)
    sent = stage.emitter.last
    assert (sent.key, sent.value) == (original.key, original.value)
    assert sent.headers[: len(original.headers)] == list(original.headers)


async def test_a_dead_letter_says_why_and_where_from(stage: Stage) -> None:
    await stage.process(replace(poison(), partition=2, offset=77))
    headers = dict(stage.emitter.last.headers)
    assert headers[DLQ.REASON] == b"undecodable_record"
    assert b"format" in headers[DLQ.ERROR]
    assert (headers[DLQ.TOPIC], headers[DLQ.PARTITION], headers[DLQ.OFFSET]) == (
        RAW_TOPIC.encode(),
        b"2",
        b"77",
    )
    assert headers[DLQ.AT].isdigit()


async def test_a_dead_lettered_record_is_acked_once_the_dead_letter_is_written(
    stage: Stage,
) -> None:
    await stage.process(poison())
    assert stage.acked == []
    stage.emitter.last.succeed()
    assert stage.acked == [10]


async def test_a_dead_letter_is_counted_by_reason(stage: Stage) -> None:
    await stage.process(poison())
    stage.emitter.last.succeed()
    assert stage.count("hookgate_worker_dead_letters", reason="undecodable_record") == 1
    assert stage.count("hookgate_worker_records", outcome="dead_lettered") == 1


async def test_a_failed_dead_letter_write_is_not_acked(stage: Stage) -> None:
    await stage.process(poison())
    stage.emitter.last.fail(RuntimeError("broker refused"))
    assert (stage.acked, len(stage.emit_failures)) == ([], 1)


async def test_a_record_without_a_key_is_dead_lettered_as_undecodable(stage: Stage) -> None:
    await stage.process(replace(record(), key=None))
    sent = stage.emitter.last
    assert (sent.topic, sent.key) == (DLQ_TOPIC, None)
    assert dict(sent.headers)[DLQ.REASON] == b"undecodable_record"


async def test_a_record_with_a_null_value_is_dead_lettered_with_an_empty_value(
    stage: Stage,
) -> None:
    await stage.process(replace(record(), value=None))
    sent = stage.emitter.last
    assert (sent.topic, sent.value) == (DLQ_TOPIC, b"")


async def test_a_body_that_does_not_normalize_is_dead_lettered_as_normalization_failed(
    stage: Stage,
) -> None:
    original = record(delivery(b"not json"))
    await stage.process(original)
    sent = stage.emitter.last
    assert (sent.topic, sent.key, sent.value) == (DLQ_TOPIC, original.key, b"not json")
    assert dict(sent.headers)[DLQ.REASON] == b"normalization_failed"


async def test_a_record_of_an_unknown_provider_is_dead_lettered_as_unknown_provider(
    stage: Stage,
) -> None:
    await stage.process(record(replace(delivery(), provider="acme")))
    assert dict(stage.emitter.last.headers)[DLQ.REASON] == b"unknown_provider"


async def test_a_dead_letter_error_header_is_bounded(stage: Stage) -> None:
    await stage.process(record(replace(delivery(), provider="a" * 5000)))
    assert len(dict(stage.emitter.last.headers)[DLQ.ERROR]) == 1000


async def test_a_redriven_dead_letter_is_emitted_by_a_fixed_worker(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = replace(delivery(), provider="acme")
    await stage.process(record(raw, offset=10))
    stage.emitter.last.succeed()
    dead = stage.emitter.last
    # The worker learns the provider; the dead letter is written back to the raw topic.
    monkeypatch.setitem(
        normalizers.NORMALIZERS, "acme", normalizers.NORMALIZERS["standard-webhooks"]
    )
    await stage.process(RawRecord(RAW_TOPIC, 0, 500, dead.key, dead.value, dead.headers))
    assert [sent.topic for sent in stage.emitter.sent] == [DLQ_TOPIC, CANONICAL_TOPIC]


# --- events the broker or the encoder refuse ---------------------------------------------------


async def test_a_canonical_event_the_broker_refuses_for_good_is_dead_lettered(
    stage: Stage,
) -> None:
    await stage.process(record())
    stage.emitter.last.fail(RecordRefused("Kafka refused the record: message too large"))
    await asyncio.sleep(0)  # the dead letter is sent from a task
    assert [s.topic for s in stage.emitter.sent] == [CANONICAL_TOPIC, DLQ_TOPIC]
    assert dict(stage.emitter.last.headers)[DLQ.REASON] == b"record_refused"
    assert stage.emit_failures == []


async def test_a_refused_event_is_acked_once_its_dead_letter_is_in_kafka(stage: Stage) -> None:
    await stage.process(record())
    stage.emitter.last.fail(RecordRefused("too large"))
    await asyncio.sleep(0)
    assert stage.acked == []
    stage.emitter.last.succeed()
    assert stage.acked == [10]


async def test_a_lone_surrogate_in_the_data_is_written_escaped(stage: Stage) -> None:
    body = b'{"type": "chat.message", "data": {"id": "m_1", "text": "cut \\ud83d"}}'
    await stage.process(record(delivery(body)))
    sent = stage.emitter.last
    assert sent.topic == CANONICAL_TOPIC
    assert b"\\ud83d" in sent.value


async def test_an_event_whose_subject_cannot_be_encoded_is_dead_lettered_without_state(
    stage: Stage,
) -> None:
    body = b'{"type": "chat.message", "data": {"id": "m_\\ud83d"}}'
    await stage.process(record(delivery(body)))
    assert [s.topic for s in stage.emitter.sent] == [DLQ_TOPIC]
    # A redrive after a fix must not be dropped as a duplicate of this failed attempt.
    assert stage.seen == {}
