"""With the broker down the ingress answers 503 with Retry-After, and recovers when it returns.

This module runs its own broker, because it stops it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from hookgate.kafka_local import LocalKafka
from schemas import raw as raw_format
from tests.support import Stack, free_ports, header_pairs, read_all, serving, wait_until

pytestmark = pytest.mark.kafka

BODY = b'{"type": "invoice.paid", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": "inv_1"}}'


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    port, controller_port = free_ports(2)
    kafka = LocalKafka(
        tmp_path_factory.mktemp("outage-kafka"), port=port, controller_port=controller_port
    )
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


def test_broker_down_gives_503_and_the_ingress_recovers_when_it_returns(
    broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = Stack(broker.bootstrap, tmp_path_factory.mktemp("outage"), delivery_timeout_ms=2000)
    with serving(stack, "ingress"):
        assert stack.post(BODY, event_id="msg_before").status_code == 200

        broker.stop()
        down = stack.post(BODY, event_id="msg_during")
        assert down.status_code == 503
        assert down.json()["error"] == "broker_unavailable"
        assert down.headers["retry-after"].isdigit()
        wait_until(
            lambda: httpx.get(f"{stack.url}/readyz").status_code == 503,
            15,
            "/readyz to report the broker gone",
        )

        broker.start()
        # The sender retries, as a 503 asks it to; the ingress must take it once Kafka is back.
        wait_until(
            lambda: stack.post(BODY, event_id="msg_after").status_code == 200,
            60,
            "a delivery to be accepted again",
        )
        assert httpx.get(f"{stack.url}/readyz").status_code == 200

    ids = {
        raw_format.decode(r.key(), r.value(), header_pairs(r)).event_id
        for r in read_all(broker.bootstrap, stack.settings.topics.raw.name)
    }
    assert {"msg_before", "msg_after"} <= ids
