"""Bounded state on the real broker: a de-duplication entry older than the horizon leaves the
changelog as a tombstone, decided by the records' own receive times (no sleeping)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from schemas.raw import RawDelivery
from tests.support import Stack, key_of, read_all, serving, wait_until

pytestmark = pytest.mark.kafka


def delivery(event_id: str, received_at_ms: int) -> RawDelivery:
    body = json.dumps(
        {"type": "job.done", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": event_id}}
    ).encode()
    return RawDelivery(
        "e2e",
        "standard-webhooks",
        "standard-webhooks",
        event_id,
        received_at_ms,
        "application/json",
        body,
    )


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("expiry"),
        # One partition: one clock, so the newer record surely advances the older one's.
        raw_partitions=1,
        worker_settings={"dedup_horizon_s": 1, "state_expiry_interval_s": 1},
    )
    with serving(stack, "worker"):
        yield stack


def test_an_entry_older_than_the_horizon_is_tombstoned_in_the_changelog(stack: Stack) -> None:
    # Receive times 10 s apart in record time, with a 1 s horizon: the first entry expires as
    # soon as the second is written.
    t0 = int(time.time() * 1000)
    old, new = delivery("msg_old", t0), delivery("msg_new", t0 + 10_000)
    producer = Producer({"bootstrap.servers": stack.bootstrap, "enable.idempotence": True})
    for record in (old, new):
        producer.produce(
            stack.settings.topics.raw.name,
            key=record.key,
            value=record.body,
            headers=[*record.headers()],
            partition=0,
        )
    assert producer.flush(30) == 0
    changelog = f"{stack.settings.worker.app_id}-dedup-changelog"

    def tombstones() -> list[bytes]:
        return [key_of(m) for m in read_all(stack.bootstrap, changelog) if m.value() is None]

    removed = wait_until(tombstones, 90, "a tombstone in the changelog", every=0.5)

    assert removed == [old.key]
    entries = [key_of(m) for m in read_all(stack.bootstrap, changelog) if m.value() is not None]
    assert sorted(entries) == sorted([old.key, new.key])  # both were written, then one removed
    expired = wait_until(
        lambda: stack.worker_metric("hookgate_worker_state_expired_total"),
        30,
        "the expiry counted on /metrics",
    )
    assert expired == 1
