"""The whole pipeline on the real broker: `hookgate ingress` and `hookgate worker` as processes,
signed deliveries over HTTP, canonical CloudEvents read back with the `cloudevents` SDK."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cloudevents.v1.kafka import KafkaMessage, from_binary
from confluent_kafka import Message, Producer

from schemas import raw as raw_format
from schemas.deadletter import Header as DeadLetterHeader
from tests.support import (
    SECRET,
    Stack,
    canonical_ids,
    header_pairs,
    read_all,
    read_canonical,
    serving,
    value_of,
    wait_until,
)

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:

    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("e2e"),
        # Accepts bodies larger than the raw topic's record limit, which the operator set to
        # Kafka's default (about 1 MB) instead of letting `topics ensure` size it.
        extra_sources=[
            {
                "name": "big",
                "provider": "standard-webhooks",
                "secrets": [SECRET],
                "max_body_bytes": 4_194_304,
            }
        ],
        raw_topic_config={"max.message.bytes": "1048588"},
    )
    with serving(stack, "ingress", "worker"):
        # Warm-up: the worker is ready once an event makes it all the way through.
        warm = stack.post(envelope("warm.up", "w-0"), event_id="msg_warmup")
        assert warm.status_code == 200, warm.text
        wait_until(
            lambda: "msg_warmup" in canonical_ids(read_canonical(stack)),
            90,
            "the warm-up event on the canonical topic",
        )
        yield stack


def envelope(event_type: str, entity: str, **data: object) -> bytes:
    return json.dumps(
        {"type": event_type, "timestamp": "2026-11-27T10:00:00Z", "data": {"id": entity, **data}}
    ).encode()


def canonical(stack: Stack) -> list[Message]:
    return read_canonical(stack)


def test_signed_deliveries_come_out_once_each_as_valid_cloudevents(stack: Stack) -> None:
    sent = {}
    for i in range(20):
        event_id = f"msg_once_{i}"
        body = envelope("invoice.paid", f"inv_{i}", amount=i, seed=196619188014358660 + i)
        response = stack.post(body, event_id=event_id)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "accepted", "event_id": event_id}
        sent[event_id] = body

    def all_out() -> list[Message] | None:
        records = canonical(stack)
        ids = canonical_ids(records)
        return records if all(event_id in ids for event_id in sent) else None

    records = wait_until(all_out, 60, "20 canonical events")
    ours = [r for r in records if dict(header_pairs(r))["ce_id"].decode() in sent]
    assert sorted(canonical_ids(ours)) == sorted(sent)
    for record in ours:
        event = from_binary(
            KafkaMessage(dict(header_pairs(record)), record.key(), value_of(record))
        )
        body = json.loads(sent[event["id"]])
        assert event["specversion"] == "1.0"
        assert event["source"] == "/hookgate/e2e"
        assert event["type"] == "dev.hookgate.standard-webhooks.invoice.paid"
        assert event["time"] == "2026-11-27T10:00:00.000Z"
        assert event["subject"] == body["data"]["id"]
        assert event["partitionkey"] == body["data"]["id"].encode()
        assert event["datacontenttype"] == "application/json"
        assert event.get_data() == body["data"]


def test_the_same_event_delivered_three_times_comes_out_once(stack: Stack) -> None:
    before = stack.worker_metric("hookgate_worker_duplicates_dropped_total", source="e2e")
    body = envelope("invoice.paid", "inv_retried")
    for _ in range(3):
        assert stack.post(body, event_id="msg_retried").status_code == 200

    wait_until(
        lambda: (
            stack.worker_metric("hookgate_worker_duplicates_dropped_total", source="e2e")
            >= before + 2
        ),
        60,
        "the worker to drop two duplicates",
    )
    wait_until(lambda: "msg_retried" in canonical_ids(canonical(stack)), 30, "the event")
    assert canonical_ids(canonical(stack)).count("msg_retried") == 1


def test_a_forged_delivery_is_refused_and_writes_nothing(stack: Stack) -> None:
    response = stack.post(
        envelope("invoice.paid", "inv_forged"), event_id="msg_forged", secret=b"not the secret"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "signature_mismatch"
    # A write would have been acknowledged before the answer, so it would be below the end now.
    raw = read_all(stack.bootstrap, stack.settings.topics.raw.name)
    assert all(
        raw_format.decode(r.key(), r.value(), header_pairs(r)).event_id != "msg_forged" for r in raw
    )


def test_a_poison_record_is_dead_lettered_and_later_records_still_flow(stack: Stack) -> None:
    producer = Producer({"bootstrap.servers": stack.bootstrap})
    coordinates: list[tuple[int | None, int | None]] = []
    producer.produce(
        stack.settings.topics.raw.name,
        key=b"e2e:poison",
        value=b"\xff not json",
        headers=[("hookgate-format", b"99")],
        on_delivery=lambda err, msg: coordinates.append((msg.partition(), msg.offset())),
    )
    producer.flush(10)
    # A delivery that verifies but is not the provider's shape fails later, in normalization.
    unshaped = stack.post(b"[1, 2, 3]", event_id="msg_unshaped")
    assert unshaped.status_code == 200
    after = stack.post(envelope("invoice.paid", "inv_after_poison"), event_id="msg_after_poison")
    assert after.status_code == 200

    wait_until(
        lambda: "msg_after_poison" in canonical_ids(canonical(stack)),
        60,
        "the record after the poison",
    )

    def dead_letters() -> dict[str, dict[str, bytes]] | None:
        letters = {}
        for record in read_all(stack.bootstrap, stack.settings.topics.dead_letter.name):
            headers = dict(header_pairs(record))
            letters[(record.key() or b"").decode()] = {**headers, "value": value_of(record)}
        return letters if {"e2e:poison", "e2e:msg_unshaped"} <= letters.keys() else None

    letters = wait_until(dead_letters, 30, "both dead letters")
    poison = letters["e2e:poison"]
    assert poison[DeadLetterHeader.REASON] == b"undecodable_record"
    assert poison[DeadLetterHeader.TOPIC] == stack.settings.topics.raw.name.encode()
    assert (
        int(poison[DeadLetterHeader.PARTITION]),
        int(poison[DeadLetterHeader.OFFSET]),
    ) == coordinates[0]
    assert poison["value"] == b"\xff not json"
    assert letters["e2e:msg_unshaped"][DeadLetterHeader.REASON] == b"normalization_failed"


def test_ingress_log_has_one_line_per_delivery_without_secrets(stack: Stack) -> None:
    stack.post(envelope("invoice.paid", "inv_logged"), event_id="msg_logged")

    def logged() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in stack.log("ingress").splitlines()
            if line.startswith("{") and '"msg_logged"' in line
        ]

    # The ingress writes its log lines in batches, shortly after the answer.
    lines = wait_until(logged, 10, "the delivery's log line")
    time.sleep(0.5)  # a second line, if one were written, would be in the same or next batch
    lines = logged()
    assert len(lines) == 1
    assert lines[0]["status"] == 200
    assert lines[0]["source"] == "e2e"
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in stack.log("ingress")


def test_the_canonical_event_carries_the_deliverys_trace_context(stack: Stack) -> None:
    traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    trace = {"traceparent": traceparent, "tracestate": "rojo=00f067aa0ba902b7"}
    body = envelope("invoice.paid", "inv_traced")
    response = stack.post(body, event_id="msg_traced", extra_headers=trace)
    assert response.status_code == 200, response.text

    def traced() -> dict[str, bytes] | None:
        for message in read_canonical(stack):
            headers = dict(header_pairs(message))
            if headers["ce_id"] == b"msg_traced":
                return headers
        return None

    headers = wait_until(traced, 60, "the traced event on the canonical topic")
    # No spans exported here: the sender's context goes through unchanged.
    assert headers["ce_traceparent"] == traceparent.encode()
    assert headers["ce_tracestate"] == b"rojo=00f067aa0ba902b7"


def test_the_worker_answers_healthz_with_its_partitions_and_quiet_time(stack: Stack) -> None:
    response = httpx.get(f"http://127.0.0.1:{stack.web_port}/healthz", timeout=5)
    assert response.status_code == 200
    health = response.json()
    # The only worker of its group owns every raw partition.
    assert health["partitions"] == list(range(stack.raw_partitions))
    assert 0 <= health["seconds_since_last_record"] < 3600
    assert health["status"] == "ok"


def test_a_body_larger_than_kafka_accepts_gets_413_not_a_503_to_retry_forever(stack: Stack) -> None:
    # Random bytes, so compression cannot bring the record under the broker's limit.
    noise = base64.b64encode(os.urandom(1_500_000)).decode()
    body = json.dumps({"type": "file.uploaded", "data": {"id": "f_1", "blob": noise}}).encode()
    response = stack.post(body, event_id="msg_too_big", source="big")
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
