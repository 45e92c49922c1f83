"""`hookgate replay`, `verify-raw` and `dlq` on the real broker, run as an operator runs them.

Each scenario runs once per module (processes and a broker are slow to start); the tests then
state one behaviour each about what it produced.
"""

from __future__ import annotations

import base64
import json
import secrets as tokens
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from confluent_kafka import ConsumerGroupTopicPartitions, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from hookgate.timespec import iso
from schemas import canonical
from tests.support import Stack, canonical_ids, header_pairs, hookgate, read_all, wait_until

pytestmark = pytest.mark.kafka


def body(entity: str) -> bytes:
    return json.dumps(
        {"type": "job.done", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": entity}}
    ).encode()


def events(messages: list[Message]) -> list[canonical.CanonicalEvent]:
    return [canonical.decode(m.key(), m.value(), header_pairs(m)) for m in messages]


def committed(stack: Stack) -> dict[int, int]:
    group = stack.settings.worker.app_id
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    query = ConsumerGroupTopicPartitions(group)
    result = admin.list_consumer_group_offsets([query])[group].result(30)
    return {
        tp.partition: tp.offset
        for tp in result.topic_partitions or []
        if tp.topic == stack.settings.topics.raw.name
    }


def raw_ends(stack: Stack) -> dict[int, int]:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": "test-ends"})
    try:
        topic = stack.settings.topics.raw.name
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(stack.settings.topics.raw.partitions)
        }
    finally:
        consumer.close()


def caught_up(stack: Stack) -> bool:
    ends = raw_ends(stack)
    done = committed(stack)
    return all(done.get(p, 0) >= end for p, end in ends.items() if end > 0)


def added(before: list[Message], after: list[Message]) -> list[Message]:
    """The records of ``after`` that ``before`` did not have (read order mixes partitions)."""
    seen = {(m.partition(), m.offset()) for m in before}
    return [m for m in after if (m.partition(), m.offset()) not in seen]


def canonical_records(stack: Stack) -> list[Message]:
    return read_all(stack.bootstrap, stack.settings.topics.canonical.name)


# --- replay -------------------------------------------------------------------------------------


@dataclass
class ReplayRun:
    stack: Stack
    before: list[str]
    after: list[str]
    #: Canonical records after the first pass, after the replay, after the fenced replay.
    first: list[Message] = field(default_factory=list)
    replayed: list[Message] = field(default_factory=list)
    fenced: list[Message] = field(default_factory=list)
    refused: subprocess.CompletedProcess[str] | None = None
    dry_run: subprocess.CompletedProcess[str] | None = None
    offsets_before_dry_run: dict[int, int] = field(default_factory=dict)
    offsets_after_dry_run: dict[int, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def replay_run(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplayRun]:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("replay-cli"))
    stack.ensure_topics()
    run = ReplayRun(
        stack, [f"msg_before_{i}" for i in range(3)], [f"msg_after_{i}" for i in range(3)]
    )
    try:
        stack.start("ingress")
        stack.start("worker")
        stack.wait_ingress_ready()
        t0 = int(time.time() * 1000) - 1000
        for event_id in run.before:
            assert stack.post(body(event_id), event_id=event_id).status_code == 200
        # Every earlier record was acknowledged (200) before this moment.
        boundary = int(time.time() * 1000) + 1
        time.sleep(0.05)
        for event_id in run.after:
            assert stack.post(body(event_id), event_id=event_id).status_code == 200
        wait_until(lambda: caught_up(stack), 120, "the first pass")
        run.first = canonical_records(stack)
        run.refused = hookgate(stack, "replay", "--from", iso(boundary))

        assert stack.stop("worker") == 0
        run.offsets_before_dry_run = committed(stack)
        run.dry_run = hookgate(stack, "replay", "--from", iso(boundary), "--dry-run")
        run.offsets_after_dry_run = committed(stack)

        done = hookgate(stack, "replay", "--from", iso(boundary))
        assert done.returncode == 0, done.stderr
        stack.start("worker")
        wait_until(lambda: caught_up(stack), 120, "the replay")
        run.replayed = canonical_records(stack)

        # From before everything, but only up to the boundary: the "after" records are read
        # again without being re-emitted.
        assert stack.stop("worker") == 0
        fenced = hookgate(stack, "replay", "--from", iso(t0), "--to", iso(boundary))
        assert fenced.returncode == 0, fenced.stderr
        stack.start("worker")
        wait_until(lambda: caught_up(stack), 120, "the fenced replay")
        run.fenced = canonical_records(stack)
        yield run
    finally:
        stack.stop_all()


def test_a_replay_while_the_worker_runs_is_refused(replay_run: ReplayRun) -> None:
    assert replay_run.refused is not None
    assert replay_run.refused.returncode == 1


def test_the_refusal_says_the_group_is_active_and_how_to_stop_it(replay_run: ReplayRun) -> None:
    assert replay_run.refused is not None
    message = replay_run.refused.stderr
    assert "active member" in message
    assert "--replicas=0" in message


def test_a_dry_run_prints_current_and_target_offsets_and_the_records_to_replay(
    replay_run: ReplayRun,
) -> None:
    assert replay_run.dry_run is not None
    lines = replay_run.dry_run.stdout.splitlines()
    assert lines[1].split() == ["partition", "current", "target", "replayed"]
    assert lines[-2].split() == ["total", "3"]


def test_a_dry_run_changes_no_offset(replay_run: ReplayRun) -> None:
    assert replay_run.offsets_before_dry_run
    assert replay_run.offsets_after_dry_run == replay_run.offsets_before_dry_run


def test_a_replay_re_emits_exactly_the_records_after_the_time(replay_run: ReplayRun) -> None:
    again = canonical_ids(added(replay_run.first, replay_run.replayed))
    assert sorted(again) == sorted(replay_run.after)


def test_re_emitted_events_carry_the_replay_marker(replay_run: ReplayRun) -> None:
    again = events(added(replay_run.first, replay_run.replayed))
    assert [canonical.is_replay(e) for e in again] == [True] * 3


def test_first_emissions_carry_no_replay_marker(replay_run: ReplayRun) -> None:
    assert not any(canonical.is_replay(e) for e in events(replay_run.first))


def test_a_re_emitted_event_names_the_same_raw_record_as_the_first(replay_run: ReplayRun) -> None:
    origins = {e.id: canonical.origin_of(e) for e in events(replay_run.first)}
    again = events(added(replay_run.first, replay_run.replayed))
    assert {e.id: canonical.origin_of(e) for e in again} == {
        event_id: origins[event_id] for event_id in replay_run.after
    }


def test_a_replay_with_to_re_emits_only_the_records_before_it(replay_run: ReplayRun) -> None:
    again = canonical_ids(added(replay_run.replayed, replay_run.fenced))
    assert sorted(again) == sorted(replay_run.before)


# --- verify-raw ---------------------------------------------------------------------------------


def origin_arg(replay_run: ReplayRun) -> str:
    origin = canonical.origin_of(events(replay_run.first)[0])
    assert origin is not None
    return str(origin)


def test_verify_raw_passes_for_a_genuine_record(replay_run: ReplayRun) -> None:
    result = hookgate(replay_run.stack, "verify-raw", origin_arg(replay_run))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIES" in result.stdout


def test_verify_raw_fails_once_the_sources_secret_was_rotated_away(
    replay_run: ReplayRun, tmp_path: Path
) -> None:
    document = yaml.safe_load(replay_run.stack.config_path.read_text())
    document["sources"][0]["secrets"] = [
        "whsec_" + base64.b64encode(tokens.token_bytes(32)).decode()
    ]
    rotated = tmp_path / "rotated.yaml"
    rotated.write_text(yaml.safe_dump(document))
    result = hookgate(replay_run.stack, "verify-raw", origin_arg(replay_run), config=rotated)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DOES NOT VERIFY: signature_mismatch" in result.stdout


def test_verify_raw_refuses_an_offset_past_the_end(replay_run: ReplayRun) -> None:
    topic = replay_run.stack.settings.topics.raw.name
    result = hookgate(replay_run.stack, "verify-raw", f"{topic}:0:999999")
    assert result.returncode == 2
    assert "no such offset yet" in result.stderr


# --- dead letters -------------------------------------------------------------------------------

#: A Standard Webhooks body the shipped normalizer dead-letters (an array, not an envelope);
#: tests/e2e/fixed_worker.py is the fix.
BATCH = b'[{"id": "job_1"}, {"id": "job_2"}]'


@dataclass
class RedriveRun:
    stack: Stack
    listed: subprocess.CompletedProcess[str] | None = None
    dry_run: subprocess.CompletedProcess[str] | None = None
    raw_ends_before_dry_run: dict[int, int] = field(default_factory=dict)
    raw_ends_after_dry_run: dict[int, int] = field(default_factory=dict)
    redriven: subprocess.CompletedProcess[str] | None = None
    again: subprocess.CompletedProcess[str] | None = None
    raw_ends_before_again: dict[int, int] = field(default_factory=dict)
    raw_ends_after_again: dict[int, int] = field(default_factory=dict)
    listed_after: subprocess.CompletedProcess[str] | None = None
    final: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def redrive_run(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedriveRun]:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("redrive-cli"))
    stack.ensure_topics()
    run = RedriveRun(stack)
    dlq = stack.settings.topics.dead_letter.name
    try:
        stack.start("ingress")
        stack.start("worker")
        stack.wait_ingress_ready()
        assert stack.post(BATCH, event_id="msg_batch_x").status_code == 200
        assert stack.post(BATCH, event_id="msg_batch_y").status_code == 200
        assert stack.post(body("job_z"), event_id="msg_plain_z").status_code == 200
        wait_until(lambda: len(read_all(kafka_bootstrap, dlq)) == 2, 120, "two dead letters")
        run.listed = hookgate(stack, "dlq", "list")

        # The fix is deployed; meanwhile the sender retries y, which now gets through.
        assert stack.stop("worker") == 0
        stack.start("worker", module="tests.e2e.fixed_worker")
        assert stack.post(BATCH, event_id="msg_batch_y").status_code == 200
        wait_until(
            lambda: "msg_batch_y" in canonical_ids(canonical_records(stack)), 120, "y's retry"
        )

        run.raw_ends_before_dry_run = raw_ends(stack)
        run.dry_run = hookgate(stack, "dlq", "redrive", "--dry-run")
        run.raw_ends_after_dry_run = raw_ends(stack)

        run.redriven = hookgate(stack, "dlq", "redrive", "--reason", "normalization_failed")
        wait_until(lambda: caught_up(stack), 120, "the redriven letters")

        run.raw_ends_before_again = raw_ends(stack)
        run.again = hookgate(stack, "dlq", "redrive")
        run.raw_ends_after_again = raw_ends(stack)
        run.listed_after = hookgate(stack, "dlq", "list")
        wait_until(lambda: caught_up(stack), 120, "the worker")
        run.final = canonical_ids(canonical_records(stack))
        yield run
    finally:
        stack.stop_all()


def test_dlq_list_counts_letters_by_reason_and_source(redrive_run: RedriveRun) -> None:
    assert redrive_run.listed is not None
    lines = [line.split() for line in redrive_run.listed.stdout.splitlines()]
    assert ["2", "normalization_failed"] in lines
    assert ["2", "e2e"] in lines


def test_dlq_list_shows_each_letter_with_its_error(redrive_run: RedriveRun) -> None:
    assert redrive_run.listed is not None
    assert redrive_run.listed.stdout.count("body is JSON list, not an object") == 2


def test_a_redrive_dry_run_sends_nothing(redrive_run: RedriveRun) -> None:
    assert redrive_run.dry_run is not None
    assert "would redrive 2 dead letter(s)" in redrive_run.dry_run.stdout
    assert redrive_run.raw_ends_after_dry_run == redrive_run.raw_ends_before_dry_run


def test_a_fixed_letter_is_redriven_and_appears_once_on_the_canonical_topic(
    redrive_run: RedriveRun,
) -> None:
    assert redrive_run.final.count("msg_batch_x") == 1


def test_a_letter_whose_event_got_through_meanwhile_is_not_duplicated(
    redrive_run: RedriveRun,
) -> None:
    assert redrive_run.final.count("msg_batch_y") == 1


def test_a_second_redrive_sends_no_letter_twice(redrive_run: RedriveRun) -> None:
    assert redrive_run.again is not None
    assert "2 already redriven, skipped" in redrive_run.again.stdout
    assert redrive_run.raw_ends_after_again == redrive_run.raw_ends_before_again


def test_dlq_list_shows_where_each_letter_was_redriven(redrive_run: RedriveRun) -> None:
    assert redrive_run.listed_after is not None
    assert redrive_run.listed_after.stdout.count("redriven -> ") == 2


def test_redrive_leaves_the_other_events_alone(redrive_run: RedriveRun) -> None:
    assert sorted(redrive_run.final) == ["msg_batch_x", "msg_batch_y", "msg_plain_z"]
