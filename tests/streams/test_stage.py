"""The worker's stage (streams.pipeline.Stage) alone: what it decides and builds for one record.

No Kafka and no runner: the stage looks its de-duplication state up in a plain dict, and the
test stores the entry the stage returns, as the runner would. Writing, acks and commits are the
sinks' concern (tests/streams/test_at_least_once.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from schemas import canonical, tracecontext
from schemas.deadletter import Header as DLQ
from schemas.raw import RawDelivery
from streams import normalizers
from streams.dedup import Seen
from streams.errors import RecordRefused
from streams.pipeline import Output, RawRecord, Result, Stage
from tests.streams.records import (
    CANONICAL_TOPIC,
    DLQ_TOPIC,
    HORIZON_S,
    RAW_TOPIC,
    T0_MS,
    delivery,
    poison,
    record,
)


@dataclass
class Harness:
    stage: Stage
    #: The de-duplication state, as the runner keeps it: the stage's entries stored as JSON.
    seen: dict[bytes, object] = field(default_factory=dict)

    def handle(self, raw: RawRecord) -> Result:
        result = self.stage.handle(raw)
        if result.state is not None:
            key, entry = result.state
            self.seen[key] = entry.to_json()
        return result


@pytest.fixture
def harness() -> Harness:
    seen: dict[bytes, object] = {}
    stage = Stage(
        lookup=seen.get,
        canonical_topic=CANONICAL_TOPIC,
        dead_letter_topic=DLQ_TOPIC,
        dedup_horizon_s=HORIZON_S,
        type_prefix="com.example.hooks.",
    )
    return Harness(stage, seen)


def output(result: Result) -> Output:
    assert result.output is not None, result
    return result.output


# --- new records -------------------------------------------------------------------------------


def test_a_new_record_becomes_a_cloudevent_for_the_canonical_topic(harness: Harness) -> None:
    sent = output(harness.handle(record()))
    event = canonical.decode(sent.key, sent.value, sent.headers)
    assert sent.topic == CANONICAL_TOPIC
    assert (event.id, event.type, event.partitionkey) == (
        "msg_1",
        "com.example.hooks.standard-webhooks.invoice.paid",  # the configured namespace
        "inv_1",
    )


def test_a_new_record_is_emitted_with_its_source(harness: Harness) -> None:
    result = harness.handle(record())
    assert (result.outcome, result.source) == ("emitted", "demo")


def test_a_new_record_stores_its_coordinates_for_de_duplication(harness: Harness) -> None:
    result = harness.handle(record(offset=10, partition=2))
    assert result.state == (b"demo:msg_1", Seen(2, 10, T0_MS))


# --- duplicates and replays --------------------------------------------------------------------


def test_a_second_delivery_within_the_horizon_is_dropped_with_its_source(
    harness: Harness,
) -> None:
    harness.handle(record(offset=10))
    again = harness.handle(record(delivery(at_ms=T0_MS + 60_000), offset=11))
    assert (again.outcome, again.output, again.source) == ("duplicate", None, "demo")


def test_a_dropped_duplicate_keeps_the_first_record_as_state(harness: Harness) -> None:
    harness.handle(record(offset=10))
    again = harness.handle(record(delivery(at_ms=T0_MS + 60_000), offset=11))
    assert again.state is None


def test_a_delivery_beyond_the_horizon_is_emitted_again(harness: Harness) -> None:
    harness.handle(record(offset=10))
    later = harness.handle(record(delivery(at_ms=T0_MS + HORIZON_S * 1000 + 1), offset=99))
    assert (later.outcome, output(later).topic) == ("emitted", CANONICAL_TOPIC)


def test_a_delivery_beyond_the_horizon_replaces_the_stored_entry(harness: Harness) -> None:
    harness.handle(record(offset=10))
    at_ms = T0_MS + HORIZON_S * 1000 + 1
    later = harness.handle(record(delivery(at_ms=at_ms), offset=99))
    assert later.state == (b"demo:msg_1", Seen(0, 99, at_ms))


def test_a_replayed_record_is_emitted_again_with_the_same_event_marked_as_a_replay(
    harness: Harness,
) -> None:
    first = output(harness.handle(record(offset=10)))
    replayed = harness.handle(record(offset=10))
    again = output(replayed)
    assert (replayed.outcome, again.key, again.value) == ("reemitted", first.key, first.value)
    assert set(again.headers) - set(first.headers) == {("ce_replay", b"true")}


def test_a_replayed_record_stores_no_new_entry(harness: Harness) -> None:
    harness.handle(record(offset=10))
    assert harness.handle(record(offset=10)).state is None


def test_unreadable_state_is_treated_as_none(harness: Harness) -> None:
    harness.seen[b"demo:msg_1"] = "garbage"
    result = harness.handle(record(offset=10))
    assert (result.outcome, result.state) == ("emitted", (b"demo:msg_1", Seen(0, 10, T0_MS)))


# --- dead letters ------------------------------------------------------------------------------


def test_a_record_with_bad_headers_is_dead_lettered_as_undecodable(harness: Harness) -> None:
    result = harness.handle(poison())
    assert (result.outcome, result.reason, output(result).topic) == (
        "dead_lettered",
        "undecodable_record",
        DLQ_TOPIC,
    )


def test_a_dead_letter_keeps_the_original_key_value_and_headers(harness: Harness) -> None:
    original = poison()
    sent = output(harness.handle(original))
    assert (sent.key, sent.value) == (original.key, original.value)
    assert sent.headers[: len(original.headers)] == list(original.headers)


def test_a_dead_letter_says_why_and_where_from(harness: Harness) -> None:
    headers = dict(output(harness.handle(replace(poison(), partition=2, offset=77))).headers)
    assert headers[DLQ.REASON] == b"undecodable_record"
    assert b"format" in headers[DLQ.ERROR]
    assert (headers[DLQ.TOPIC], headers[DLQ.PARTITION], headers[DLQ.OFFSET]) == (
        RAW_TOPIC.encode(),
        b"2",
        b"77",
    )
    assert headers[DLQ.AT].isdigit()


def test_a_dead_lettered_record_stores_no_state(harness: Harness) -> None:
    assert harness.handle(poison()).state is None


def test_a_record_without_a_key_is_dead_lettered_as_undecodable(harness: Harness) -> None:
    sent = output(harness.handle(replace(record(), key=None)))
    assert (sent.topic, sent.key) == (DLQ_TOPIC, None)
    assert dict(sent.headers)[DLQ.REASON] == b"undecodable_record"


def test_a_record_with_a_null_value_is_dead_lettered_with_an_empty_value(
    harness: Harness,
) -> None:
    sent = output(harness.handle(replace(record(), value=None)))
    assert (sent.topic, sent.value) == (DLQ_TOPIC, b"")


def test_a_body_that_does_not_normalize_is_dead_lettered_as_normalization_failed(
    harness: Harness,
) -> None:
    original = record(delivery(b"not json"))
    sent = output(harness.handle(original))
    assert (sent.topic, sent.key, sent.value) == (DLQ_TOPIC, original.key, b"not json")
    assert dict(sent.headers)[DLQ.REASON] == b"normalization_failed"


def test_a_record_of_an_unknown_provider_is_dead_lettered_as_unknown_provider(
    harness: Harness,
) -> None:
    result = harness.handle(record(replace(delivery(), provider="acme")))
    assert dict(output(result).headers)[DLQ.REASON] == b"unknown_provider"


def test_a_normalizer_crash_is_dead_lettered_as_normalization_failed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(raw: RawDelivery) -> canonical.CanonicalEvent:
        raise KeyError("a field no one foresaw")

    monkeypatch.setitem(normalizers.NORMALIZERS, "standard-webhooks", broken)
    result = harness.handle(record())
    assert (result.outcome, result.reason) == ("dead_lettered", "normalization_failed")
    assert b"KeyError" in dict(output(result).headers)[DLQ.ERROR]


def test_a_dead_letter_error_header_is_bounded(harness: Harness) -> None:
    result = harness.handle(record(replace(delivery(), provider="a" * 5000)))
    assert len(dict(output(result).headers)[DLQ.ERROR]) == 1000


def test_a_record_the_broker_refused_to_take_as_an_event_is_dead_lettered_as_refused(
    harness: Harness,
) -> None:
    original = record()
    result = harness.stage.dead_letter(original, RecordRefused("message too large"))
    sent = output(result)
    assert (sent.topic, sent.key, sent.value) == (DLQ_TOPIC, original.key, original.value)
    assert (result.reason, dict(sent.headers)[DLQ.REASON]) == ("record_refused", b"record_refused")


def test_a_redriven_dead_letter_is_emitted_by_a_fixed_worker(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = output(harness.handle(record(replace(delivery(), provider="acme"), offset=10)))
    # The worker learns the provider; the dead letter is written back to the raw topic.
    monkeypatch.setitem(
        normalizers.NORMALIZERS,
        "acme",
        normalizers.NORMALIZERS["standard-webhooks"],
    )
    redriven = harness.handle(RawRecord(RAW_TOPIC, 0, 500, dead.key, dead.value, dead.headers))
    assert (redriven.outcome, output(redriven).topic) == ("emitted", CANONICAL_TOPIC)


# --- events the encoder refuses ----------------------------------------------------------------


def test_a_lone_surrogate_in_the_data_is_written_escaped(harness: Harness) -> None:
    body = b'{"type": "chat.message", "data": {"id": "m_1", "text": "cut \\ud83d"}}'
    sent = output(harness.handle(record(delivery(body))))
    assert sent.topic == CANONICAL_TOPIC
    assert b"\\ud83d" in sent.value


def test_an_event_whose_subject_cannot_be_encoded_is_dead_lettered_without_state(
    harness: Harness,
) -> None:
    body = b'{"type": "chat.message", "data": {"id": "m_\\ud83d"}}'
    result = harness.handle(record(delivery(body)))
    assert output(result).topic == DLQ_TOPIC
    # A redrive after a fix must not be dropped as a duplicate of this failed attempt.
    assert result.state is None


# --- trace context (no spans exported) ---------------------------------------------------------

TRACE = tracecontext.TraceContext(
    "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, "rojo=00f067aa0ba902b7"
)


def test_the_event_carries_the_raw_records_trace_context(harness: Harness) -> None:
    sent = output(harness.handle(record(replace(delivery(), trace=TRACE))))
    event = canonical.decode(sent.key, sent.value, sent.headers)
    assert canonical.trace_of(event) == TRACE


def test_a_replayed_event_carries_the_raw_records_trace_context_again(harness: Harness) -> None:
    traced = record(replace(delivery(), trace=TRACE))
    harness.handle(traced)
    again = output(harness.handle(traced))
    assert canonical.trace_of(canonical.decode(again.key, again.value, again.headers)) == TRACE


def test_a_raw_record_without_trace_context_gives_an_event_without_it(harness: Harness) -> None:
    sent = output(harness.handle(record()))
    assert "ce_traceparent" not in dict(sent.headers)
