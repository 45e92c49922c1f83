"""The worker benchmark's two references: a consume→produce loop in one process, with or without
the worker's own stage. bench/worker_throughput.py runs it (pinned to one core) and reads the JSON
it prints.

    python bench/consume_produce.py --bootstrap HOST:PORT --config hookgate.yaml --events N \
        [--stage --state-topic TOPIC]

plain     every record of the config's raw topic produced as it is (key, value, headers) to the
          config's canonical topic: the ceiling of any consume→produce worker in Python.
--stage   every record through the worker's own `streams.pipeline.Stage` (decode, de-duplicate
          against a dict, normalize, encode), its output produced to its topic (canonical event or
          dead letter) and, as the worker writes its changelog, the de-duplication entry produced
          to --state-topic (the raw record's partition, the value `DedupState.put` writes): the
          worker's logic without Faust.

Consumer: assigned every raw partition from the beginning, `enable.auto.commit` off, one
synchronous commit at the end; records taken with `consume()` in batches of up to 1,000.
Producer: idempotent (`acks=all`), `linger.ms` 5, delivery reports of failures only (as the
worker's producer). The rate is N / (seconds from the first record consumed to the last output
acknowledged by the broker, i.e. after `flush()`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import config
from streams.pipeline import RawRecord, Stage
from tests.support import header_pairs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--config", type=Path, required=True, help="the run's hookgate config")
    parser.add_argument("--events", type=int, required=True, help="records in the raw topic")
    parser.add_argument("--stage", action="store_true", help="the worker's stage per record")
    parser.add_argument("--state-topic", help="with --stage: where de-duplication entries go")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    if args.stage and not args.state_topic:
        parser.error("--stage needs --state-topic")
    settings = config.load(args.config, env={})
    print(json.dumps(run(args, settings)), flush=True)


def run(args: argparse.Namespace, settings: config.Settings) -> dict[str, Any]:
    raw = settings.topics.raw
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(str(error))

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"bench-loop-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # As the worker's producer: failures reported, successes only counted by flush().
            "delivery.report.only.error": True,
            "on_delivery": delivered,
        }
    )

    def produce(topic: str, **fields: Any) -> None:
        while True:
            try:
                producer.produce(topic, **fields)
                return
            except BufferError:
                producer.poll(0.01)

    outcomes: Counter[str] = Counter()
    handle: Callable[[Message], None]
    if args.stage:
        store: dict[bytes, object] = {}
        stage = Stage(
            lookup=store.get,
            canonical_topic=settings.topics.canonical.name,
            dead_letter_topic=settings.topics.dead_letter.name,
            dedup_horizon_s=settings.worker.dedup_horizon_s,
            type_prefix=settings.worker.type_prefix,
        )
        state_topic: str = args.state_topic

        def handle(message: Message) -> None:
            record = RawRecord(
                topic=message.topic() or "",
                partition=message.partition() or 0,
                offset=message.offset() or 0,
                key=message.key(),
                value=message.value(),
                headers=header_pairs(message),
            )
            result = stage.handle(record)
            outcomes[result.outcome] += 1
            if result.state is not None:
                key, seen = result.state
                store[key] = seen.to_json()
                value = orjson.dumps(seen.to_json())
                produce(state_topic, key=key, value=value, partition=seen.partition)
            if result.output is not None:
                out = result.output
                produce(out.topic, key=out.key, value=out.value, headers=out.headers)

    else:
        canonical = settings.topics.canonical.name

        def handle(message: Message) -> None:
            produce(canonical, key=message.key(), value=message.value(), headers=message.headers())

    consumer.assign([TopicPartition(raw.name, p, OFFSET_BEGINNING) for p in range(raw.partitions)])
    taken = 0
    first: float | None = None
    cpu_first = 0.0
    deadline = time.monotonic() + args.timeout
    try:
        while taken < args.events:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {taken} of {args.events} records in {args.timeout} s")
            batch = consumer.consume(1000, 0.5)
            if not batch:
                continue
            if first is None:
                first, cpu_first = time.monotonic(), time.process_time()
            for message in batch:
                if message.error() is not None:
                    raise SystemExit(f"consumer: {message.error()}")
                handle(message)
            taken += len(batch)
            producer.poll(0)
        left = producer.flush(args.timeout)
        last = time.monotonic()
        cpu = time.process_time() - cpu_first
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    assert first is not None
    if left or failures:
        raise SystemExit(f"{left} outputs not acknowledged, {len(failures)} failed: {failures[:3]}")
    seconds = last - first
    return {
        "rate": taken / max(seconds, 1e-6),
        "events": taken,
        "seconds": seconds,
        "cpu_us_per_event": cpu / max(1, taken) * 1e6,
        "outcomes": dict(outcomes),
    }


if __name__ == "__main__":
    main()
