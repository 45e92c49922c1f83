"""Bodies up to a source's ``max_body_bytes`` (25 MiB here, GitHub's cap) go end to end: the
topics, producers and consumers are sized from the largest source limit
(``Settings.max_record_bytes``), and one byte more is a 413."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from schemas import config
from tests.support import SECRET, Stack, read_canonical, wait_until

BIG = 25 * 1024 * 1024


def settings_with_body_limit(limit: int) -> config.Settings:
    source = {"name": "big", "provider": "standard-webhooks", "secrets": [SECRET]}
    return config.parse({"sources": [{**source, "max_body_bytes": limit}]}, env={})


def test_records_are_never_smaller_than_kafkas_default() -> None:
    assert settings_with_body_limit(1024).max_record_bytes == 1_048_588


def test_records_hold_the_largest_body_as_base64_with_room_for_headers() -> None:
    record_bytes = settings_with_body_limit(BIG).max_record_bytes
    assert BIG * 4 // 3 < record_bytes <= BIG * 4 // 3 + 1 + 2 * 32_768 + 65_536


def body_of(size: int) -> bytes:
    head = b'{"type":"job.done","data":{"id":"msg_big","blob":"'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@dataclass
class BigRun:
    stack: Stack
    accepted: int
    over_limit: int
    canonical_bytes: int


@pytest.fixture(scope="module")
def big_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigRun]:
    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("large"),
        extra_sources=[
            {
                "name": "big",
                "provider": "standard-webhooks",
                "secrets": [SECRET],
                "max_body_bytes": BIG,
            }
        ],
    )
    stack.ensure_topics()
    try:
        stack.start("ingress")
        stack.start("worker")
        stack.wait_ingress_ready()
        accepted = stack.post(body_of(BIG), event_id="msg_big", source="big").status_code
        over = stack.post(body_of(BIG + 1), event_id="msg_too_big", source="big").status_code
        records = wait_until(lambda: read_canonical(stack, timeout=20), 180, "the large event")
        yield BigRun(stack, accepted, over, len(records[0].value() or b""))
    finally:
        stack.stop_all()


@pytest.mark.kafka
def test_topics_are_created_for_the_largest_record(big_run: BigRun) -> None:
    admin = AdminClient({"bootstrap.servers": big_run.stack.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, big_run.stack.settings.topics.raw.name)
    described = admin.describe_configs([resource])[resource].result(30)
    assert int(described["max.message.bytes"].value) == big_run.stack.settings.max_record_bytes


@pytest.mark.kafka
def test_a_body_at_the_sources_limit_is_accepted(big_run: BigRun) -> None:
    assert big_run.accepted == 200


@pytest.mark.kafka
def test_a_body_at_the_sources_limit_comes_out_canonical_in_full(big_run: BigRun) -> None:
    assert big_run.canonical_bytes > BIG - 100


@pytest.mark.kafka
def test_one_byte_over_the_sources_limit_is_a_413(big_run: BigRun) -> None:
    assert big_run.over_limit == 413
