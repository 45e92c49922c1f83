"""``hookgate tail`` on the real broker, run as an operator runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support import Stack, hookgate

pytestmark = pytest.mark.kafka

IDS = ["msg_tail_0", "msg_tail_1"]
TAIL_NEW = [sys.executable, "-m", "hookgate", "tail", "raw", "--max", "1", "--json"]


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("tail"))
    stack.ensure_topics()
    try:
        stack.start("ingress")
        stack.wait_ingress_ready()
        for event_id in IDS:
            body = json.dumps({"type": "job.done", "data": {"id": event_id}}).encode()
            assert stack.post(body, event_id=event_id).status_code == 200
        yield stack
    finally:
        stack.stop_all()


def test_tail_json_prints_one_object_per_raw_record_from_the_beginning(stack: Stack) -> None:
    done = hookgate(stack, "tail", "raw", "--from-beginning", "--max", "2", "--json")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["event_id"] for r in records) == IDS


def test_tail_json_names_the_source_of_each_raw_record(stack: Stack) -> None:
    done = hookgate(stack, "tail", "raw", "--from-beginning", "--max", "2", "--json")
    assert {json.loads(line)["source"] for line in done.stdout.splitlines()} == {"e2e"}


def test_tail_prints_a_readable_line_per_raw_record(stack: Stack) -> None:
    done = hookgate(stack, "tail", "raw", "--from-beginning", "--max", "2")
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert all(" e2e  id=msg_tail_" in line for line in lines)


def test_tail_without_from_beginning_shows_only_new_records(stack: Stack) -> None:
    # Nothing new arrives: it waits, and is stopped from outside.
    with pytest.raises(subprocess.TimeoutExpired) as waited:
        subprocess.run(
            [*TAIL_NEW, "--config", str(stack.config_path)],
            capture_output=True,
            text=True,
            timeout=8,
        )
    assert not waited.value.stdout
