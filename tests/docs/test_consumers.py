"""docs/consumers.md: its Python examples, run exactly as written against the real broker.

Canonical events are written with the project's encoder to a fresh topic; each example runs as
its own process with the environment the doc names, and what it prints is checked. Then the
doc's own `hookgate replay --group ... --topic canonical` moves the example's group back, and the
first example reads the events again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest
from confluent_kafka import Producer

from hookgate.timespec import iso
from schemas import canonical
from tests import REPO
from tests.support import Stack, hookgate

pytestmark = pytest.mark.kafka

DOC = REPO / "docs" / "consumers.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_the_python_examples_this_test_runs() -> None:
    assert len(blocks("python")) == 2


def test_the_doc_says_which_examples_are_not_run() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "## Java, with the CloudEvents Kafka binding (not run by the tests)" in text
    assert "## kcat (not run by the tests)" in text


def event(event_id: str, offset: int, *, replay: bool = False) -> canonical.CanonicalEvent:
    return canonical.with_origin(
        canonical.CanonicalEvent(
            id=event_id,
            source="/hookgate/stripe",
            type="dev.hookgate.stripe.payment_intent.succeeded",
            data={"id": f"pi_{event_id}", "amount": 2400},
            time="2026-11-30T10:00:00.000Z",
            subject=f"pi_{event_id}",
            partitionkey=f"pi_{event_id}",
        ),
        canonical.RawOrigin("webhooks.raw", 0, offset),
        replay=replay,
    )


@dataclass
class Runs:
    sdk: subprocess.CompletedProcess[str]
    typed: subprocess.CompletedProcess[str]
    replay: subprocess.CompletedProcess[str]
    sdk_again: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def runs(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("consumer-docs"))
    stack.ensure_topics()
    topic = stack.settings.topics.canonical.name
    start = int(time.time() * 1000) - 1000
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    # Two first emissions, then a replay of the first.
    for e in (event("evt_1", 10), event("evt_2", 11), event("evt_1", 10, replay=True)):
        producer.produce(topic, key=e.key(), value=e.value(), headers=[*e.headers()])
    assert producer.flush(30) == 0
    group = f"billing-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CANONICAL_TOPIC": topic,
        "GROUP": group,
    }
    sdk_example, typed_example = blocks("python")

    def run(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
        )

    sdk = run(sdk_example)
    typed = run(typed_example)
    replay = hookgate(
        stack, "replay", "--group", group, "--topic", "canonical", "--from", iso(start)
    )
    return Runs(sdk, typed, replay, run(sdk_example))


def test_the_sdk_example_runs(runs: Runs) -> None:
    assert runs.sdk.returncode == 0, runs.sdk.stderr


def test_the_sdk_example_prints_each_event_and_flags_the_replay(runs: Runs) -> None:
    # Different entities are on different partitions: no order between them.
    assert sorted(runs.sdk.stdout.splitlines()) == [
        "dev.hookgate.stripe.payment_intent.succeeded /hookgate/stripe evt_1",
        "dev.hookgate.stripe.payment_intent.succeeded /hookgate/stripe evt_1 (replay)",
        "dev.hookgate.stripe.payment_intent.succeeded /hookgate/stripe evt_2",
    ]


def test_the_typed_example_runs(runs: Runs) -> None:
    assert runs.typed.returncode == 0, runs.typed.stderr


def test_the_typed_example_prints_the_raw_coordinates(runs: Runs) -> None:
    assert (
        "dev.hookgate.stripe.payment_intent.succeeded evt_2 subject=pi_evt_2 from webhooks.raw:0:11"
        in runs.typed.stdout.splitlines()
    )


def test_the_typed_example_skips_an_event_it_already_handled(runs: Runs) -> None:
    assert runs.typed.stdout.splitlines().count("skipped evt_1: already handled") == 1


def test_the_docs_replay_command_resets_a_downstream_group(runs: Runs) -> None:
    assert runs.replay.returncode == 0, runs.replay.stderr


def test_after_the_replay_the_consumer_reads_the_events_again(runs: Runs) -> None:
    assert sorted(runs.sdk_again.stdout.splitlines()) == sorted(runs.sdk.stdout.splitlines())
