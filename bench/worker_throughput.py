"""Worker throughput on a real broker: raw records in, canonical events out, per second.

Pre-fills a raw topic with N valid raw records (distinct events), starts `hookgate worker`, and
times the canonical topic filling up, from the first canonical event to the last (so Faust's
start-up and rebalance are not counted). Run it once per `max_in_flight` value to see what
pipelining the emits buys over waiting for each acknowledgement (`max_in_flight: 1`).

    .venv/bin/python bench/worker_throughput.py --events 20000 --max-in-flight 1 10000

Starts its own broker from the cached jars unless --bootstrap names one.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hookgate.kafka_local import LocalKafka
from hookgate.topics import ensure
from schemas import config
from schemas.raw import RawDelivery
from tests.support import free_ports


def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        )
    finally:
        consumer.close()


def fill_raw(bootstrap: str, topic: str, events: int) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True}
    )
    now_ms = int(time.time() * 1000)
    for i in range(events):
        body = json.dumps(
            {
                "type": "job.done",
                "timestamp": "2026-11-27T10:00:00Z",
                "data": {"id": f"job_{i}", "seed": 196619188014358660 + i},
            }
        ).encode()
        delivery = RawDelivery(
            "bench",
            "standard-webhooks",
            "standard-webhooks",
            f"msg_{i}",
            now_ms,
            "application/json",
            body,
        )
        while True:
            try:
                producer.produce(topic, key=delivery.key, value=body, headers=[*delivery.headers()])
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)


def run(
    bootstrap: str,
    workdir: Path,
    events: int,
    max_in_flight: int,
    guarantee: str,
    profile: Path | None = None,
) -> float:
    name = f"bench{uuid.uuid4().hex[:6]}"
    (web_port,) = free_ports(1)
    document = {
        "kafka": {"bootstrap_servers": bootstrap},
        "topics": {
            "raw": {"name": f"{name}.raw", "partitions": 3},
            "canonical": {"name": f"{name}.canonical", "partitions": 3},
            "dead_letter": {"name": f"{name}.dlq", "partitions": 1},
        },
        "worker": {
            "app_id": name,
            "data_dir": str(workdir / name),
            "web_port": web_port,
            "max_in_flight": max_in_flight,
            "guarantee": guarantee,
        },
    }
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    settings = config.load(path, env={})
    ensure(settings, progress=lambda line: None)
    fill_raw(bootstrap, settings.topics.raw.name, events)
    canonical = settings.topics.canonical.name
    log = (workdir / f"{name}.log").open("wb")
    command = [sys.executable, "-m", "hookgate", "worker", "--config", str(path)]
    if profile is not None:
        # py-spy (pip install py-spy) samples the worker; the folded stacks go to the file.
        out = profile / f"worker-{guarantee}.folded"
        command = [
            "py-spy",
            "record",
            "--format",
            "raw",
            "-r",
            "200",
            "-o",
            str(out),
            "--",
            *command,
        ]
    worker = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        first = None
        while True:
            done = end_offsets(bootstrap, canonical, 3)
            now = time.monotonic()
            if first is None and done > 0:
                first, first_count = now, done
            if done >= events:
                break
            if worker.poll() is not None:
                tail = Path(log.name).read_text(errors="replace").splitlines()[-40:]
                raise SystemExit("worker exited:\n" + "\n".join(tail))
            time.sleep(0.05)
        assert first is not None
        return (events - first_count) / max(now - first, 1e-6)
    finally:
        # py-spy writes its profile on SIGINT; the worker stops on either.
        worker.send_signal(signal.SIGINT if profile is not None else signal.SIGTERM)
        worker.wait(60)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--max-in-flight", type=int, nargs="+", default=[1, 10_000])
    parser.add_argument(
        "--guarantee", nargs="+", default=["exactly_once", "at_least_once"], help="worker modes"
    )
    parser.add_argument("--bootstrap", help="an existing cluster instead of a local broker")
    parser.add_argument(
        "--profile", type=Path, help="sample the worker with py-spy into DIR/worker-MODE.folded"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = None
        bootstrap = args.bootstrap
        if bootstrap is None:
            port, controller = free_ports(2)
            broker = LocalKafka(workdir / "kafka", port=port, controller_port=controller)
            bootstrap = broker.start()
        try:
            for guarantee in args.guarantee:
                for max_in_flight in args.max_in_flight:
                    rate = run(
                        bootstrap, workdir, args.events, max_in_flight, guarantee, args.profile
                    )
                    print(
                        f"{guarantee:>13} max_in_flight={max_in_flight:>6}: {rate:8.0f} events/s "
                        f"({args.events} events)",
                        flush=True,
                    )
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()
