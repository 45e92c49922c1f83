"""Replay is a consumer-offset reset, and it re-emits instead of being swallowed by de-dup."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.support import Stack, canonical_ids, read_canonical, running, serving, wait_until

pytestmark = pytest.mark.kafka


def body(entity: str) -> bytes:
    return json.dumps(
        {"type": "job.done", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": entity}}
    ).encode()


def test_an_offset_reset_re_emits_every_event_once_more_and_still_drops_retries(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("replay"))
    ids = [f"msg_replay_{i}" for i in range(5)]
    with serving(stack, "ingress", "worker"):
        for event_id in ids:
            assert stack.post(body(event_id), event_id=event_id).status_code == 200
        # A sender's retry: dropped the first time, and must stay dropped in the replay.
        assert stack.post(body(ids[0]), event_id=ids[0]).status_code == 200
        wait_until(
            lambda: set(ids) <= set(canonical_ids(read_canonical(stack))),
            90,
            "the first pass",
        )
        assert stack.stop("worker") == 0

    assert sorted(canonical_ids(read_canonical(stack))) == sorted(ids)

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    raw = stack.settings.topics.raw
    reset = ConsumerGroupTopicPartitions(
        stack.settings.worker.app_id,
        [TopicPartition(raw.name, p, 0) for p in range(raw.partitions)],
    )
    admin.alter_consumer_group_offsets([reset])[stack.settings.worker.app_id].result(30)

    with running(stack, "worker"):
        wait_until(
            lambda: len(read_canonical(stack)) >= 2 * len(ids),
            90,
            "the replay to re-emit",
        )
        # Let any extra (wrongly emitted) retry arrive before counting.
        wait_until(
            lambda: stack.worker_metric("hookgate_worker_records_total", outcome="duplicate") >= 1,
            30,
            "the replayed retry to be dropped",
        )
    replayed = canonical_ids(read_canonical(stack))
    assert sorted(replayed) == sorted(ids * 2)


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_restarted_worker_still_drops_retries_of_events_emitted_before_the_restart(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, store: str
) -> None:
    # memory:// recovers the state from the changelog; rocksdb:// (what compose and the chart
    # run) keeps it on disk, one database per partition, and reads the changelog's rest.
    stack = Stack(
        kafka_bootstrap, tmp_path_factory.mktemp("restart"), worker_settings={"store": store}
    )
    with serving(stack, "ingress", "worker"):
        assert stack.post(body("job_1"), event_id="msg_before_restart").status_code == 200
        wait_until(lambda: canonical_ids(read_canonical(stack)), 90, "the first event")
        assert stack.stop("worker") == 0

        # The de-duplication state comes back from the changelog or the disk, not memory.
        stack.start("worker")
        assert stack.post(body("job_1"), event_id="msg_before_restart").status_code == 200
        wait_until(
            lambda: (
                stack.worker_metric("hookgate_worker_duplicates_dropped_total", source="e2e") >= 1
            ),
            90,
            "the retry to be dropped by the restarted worker",
        )
    assert canonical_ids(read_canonical(stack)) == ["msg_before_restart"]
