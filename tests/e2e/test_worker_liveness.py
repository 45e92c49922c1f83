"""A worker that stops taking records while records wait stops itself, and a restart resumes.

The stuck worker is made on purpose (``tests/e2e/stalling_worker.py``: its raw reader never hands
over a record), run as an operator runs the worker, on the real broker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from streams.liveness import EXIT_STALLED
from tests.support import Stack, canonical_ids, read_canonical, wait_until

pytestmark = pytest.mark.kafka

STALL_TIMEOUT_S = 15


@dataclass
class StallRun:
    exit_code: int
    log: str
    after_restart: list[str]
    sent: list[str]


@pytest.fixture(scope="module")
def stall_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> StallRun:
    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("liveness"),
        worker_settings={"stall_timeout_s": STALL_TIMEOUT_S},
        # This test plays the supervisor itself, to see the exit.
        restart_stalled=False,
    )
    stack.ensure_topics()
    sent = [f"msg_stall_{i}" for i in range(4)]
    try:
        stack.start("ingress")
        stack.start("worker", module="tests.e2e.stalling_worker")
        stack.wait_ingress_ready()
        for event_id in sent:
            body = json.dumps({"type": "job.done", "data": {"id": event_id}}).encode()
            assert stack.post(body, event_id=event_id).status_code == 200
        process = stack.processes["worker"]
        wait_until(lambda: process.poll() is not None, 180, "the stuck worker to stop itself")
        exit_code = process.wait()
        stack.processes.pop("worker")
        log = stack.log("worker")
        stack.start("worker")
        wait_until(
            lambda: set(sent) <= set(canonical_ids(read_canonical(stack))),
            120,
            "the restarted worker's events",
        )
        return StallRun(exit_code, log, canonical_ids(read_canonical(stack)), sent)
    finally:
        stack.stop_all()


def test_a_stuck_worker_exits_with_its_own_status(stall_run: StallRun) -> None:
    assert stall_run.exit_code == EXIT_STALLED


def test_the_stuck_worker_says_why_and_what_waited(stall_run: StallRun) -> None:
    assert "no record taken for" in stall_run.log
    assert "while records wait (partition" in stall_run.log


def test_the_stuck_worker_logs_its_consumer_state(stall_run: StallRun) -> None:
    assert "Consumer state: {'generation'" in stall_run.log


def test_the_restarted_worker_emits_every_waiting_event_once(stall_run: StallRun) -> None:
    assert sorted(stall_run.after_restart) == sorted(stall_run.sent)
