"""A cluster reached only over SASL (PLAIN) and TLS: `hookgate topics`, `ingress`, `worker` and
`tail` all use `kafka.client`, and a signed delivery comes out canonical.

The session's broker serves a SASL_SSL listener with a certificate from a CA the tests make
(tests/conftest.py; the fixture is in tests/e2e/conftest.py); every process here is given only
that listener's address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException

from hookgate.tail import tail
from tests.support import Stack, serving
from tests.tls import SaslSsl

pytestmark = pytest.mark.kafka


def client_settings(secured: SaslSsl, password_file: str) -> dict[str, object]:
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": secured.username,
        "sasl.password": {"file": password_file},
        "ssl.ca.location": str(secured.tls.ca),
    }


def test_without_the_credentials_the_secured_listener_answers_nobody(
    kafka_sasl_ssl: SaslSsl,
) -> None:
    # What makes the test below mean something: plain clients cannot use this address.
    consumer = Consumer(
        {"bootstrap.servers": kafka_sasl_ssl.bootstrap, "group.id": "x", "log_level": 0}
    )
    try:
        with pytest.raises(KafkaException):
            consumer.list_topics(timeout=3)
    finally:
        consumer.close()


def test_a_signed_delivery_comes_out_canonical_through_sasl_and_tls_only(
    kafka_sasl_ssl: SaslSsl, tmp_path: Path
) -> None:
    (tmp_path / "kafka-password").write_text(kafka_sasl_ssl.password + "\n")
    stack = Stack(
        kafka_sasl_ssl.bootstrap,
        tmp_path,
        kafka_client=client_settings(kafka_sasl_ssl, "kafka-password"),
    )
    with serving(stack, "ingress", "worker", ready_timeout=90):
        body = json.dumps(
            {"type": "invoice.paid", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": "i_1"}}
        ).encode()
        answer = stack.post(body, event_id="msg_secured")
        assert answer.status_code == 200, answer.text

        lines: list[str] = []
        tail(
            stack.settings,
            "canonical",
            as_json=True,
            from_beginning=True,
            max_records=1,
            idle_timeout=90,
            out=lines.append,
        )
    assert lines, f"nothing on the canonical topic; worker log:\n{stack.log('worker')}"
    record = json.loads(lines[0])
    expected_type = f"{stack.settings.worker.type_prefix}standard-webhooks.invoice.paid"
    assert (record["id"], record["type"]) == ("msg_secured", expected_type)
    assert record["source"] == "/hookgate/e2e"
