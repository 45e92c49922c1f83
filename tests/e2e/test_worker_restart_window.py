"""Records that arrive while the worker starts after a table recovery are all taken.

Faust's recovery resumes the flow to read the changelog, resumes the stream partitions, seeks
them to their committed offsets and then resumes the flow again, and every resume of its flow
control used to empty the agent's queue. Records that reached the queue between the two resumes
were dropped: a partition with a committed offset read them again after the seek, a partition
without one never did, and the worker sat on them until it was restarted (the stuck worker of
RELIABILITY.md; ``streams/overrides.py``, item 4). ``tests/e2e/slow_seek_worker.py`` widens that
window to seconds; the liveness check is off, so a stuck worker stays stuck.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support import Stack, canonical_ids, read_canonical, wait_until

pytestmark = pytest.mark.kafka


def body(event_id: str) -> bytes:
    return json.dumps({"type": "job.done", "data": {"id": event_id}}).encode()


def test_records_sent_during_a_start_after_recovery_all_come_out(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("restart-window"),
        worker_settings={"stall_timeout_s": 0},
        restart_stalled=False,
    )
    stack.ensure_topics()
    try:
        stack.start("ingress")
        stack.start("worker")
        stack.wait_ingress_ready()
        # One event: its de-duplication entry makes the next start recover a changelog, and at
        # most one raw partition gets a committed offset.
        assert stack.post(body("msg_first"), event_id="msg_first").status_code == 200
        wait_until(lambda: canonical_ids(read_canonical(stack)), 90, "the first event")
        assert stack.stop("worker") == 0

        stack.start("worker", module="tests.e2e.slow_seek_worker")
        sent = ["msg_first"]
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            event_id = f"msg_during_start_{len(sent)}"
            assert stack.post(body(event_id), event_id=event_id).status_code == 200
            sent.append(event_id)
            time.sleep(0.1)
        wait_until(
            lambda: set(sent) <= set(canonical_ids(read_canonical(stack))),
            60,
            f"all {len(sent)} events",
        )
    finally:
        stack.stop_all()
