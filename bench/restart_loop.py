"""Restart the worker over and over while deliveries arrive: how often does a start get stuck?

Each round starts `hookgate worker` (SIGTERM-stopped at the end of the round), posts three
signed deliveries at once (so they wait while the worker starts and recovers its table), and
waits until the worker group's committed offsets reach the raw topic's end. A worker that stops
itself for being stuck (exit status 75, ``worker.stall_timeout_s``, here 20 s) is started
again, as its supervisor would, and counted: that is the measure. Rounds whose catch-up exceeds
``--round-timeout`` are counted too.

    .venv/bin/python bench/restart_loop.py --rounds 40

The stuck worker of RELIABILITY.md showed up here in 3 of the first 4 rounds under load
(load average ~10). Run it side by side with another checkout's worker (``--checkout DIR``) to
compare. Starts its own broker from the cached jars.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from hookgate.kafka_local import LocalKafka
from hookgate.topics import ensure
from tests.support import Stack, free_ports


def caught_up(stack: Stack) -> bool:
    topic = stack.settings.topics.raw
    group = stack.settings.worker.app_id
    try:
        admin = AdminClient({"bootstrap.servers": stack.bootstrap})
        query = ConsumerGroupTopicPartitions(group)
        listed = admin.list_consumer_group_offsets([query])[group].result(30)
        done = {tp.partition: tp.offset for tp in listed.topic_partitions or []}
        consumer = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": "bench-ends"})
        try:
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(topic.name, p), timeout=10)[1]
                for p in range(topic.partitions)
            }
        finally:
            consumer.close()
    except Exception:  # a loaded broker answers late; the next poll asks again
        return False
    return all(done.get(p, 0) >= end for p, end in ends.items() if end > 0)


def body(event_id: str) -> bytes:
    return json.dumps({"type": "job.done", "data": {"id": event_id}}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--round-timeout", type=float, default=120.0)
    parser.add_argument(
        "--checkout", type=Path, help="run this checkout's worker (its `python -m hookgate`)"
    )
    parser.add_argument("--json", type=Path, help="append the summary as one JSON line")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="hookgate-restart-loop-"))
    port, controller_port = free_ports(2)
    broker = LocalKafka(home / "kafka", port=port, controller_port=controller_port)
    bootstrap = broker.start()
    if args.checkout is not None:
        # Child processes run `python -m hookgate` from their working directory's packages.
        os.chdir(args.checkout)
    stack = Stack(bootstrap, home, worker_settings={"stall_timeout_s": 20})
    ensure(stack.settings, progress=lambda line: None)
    slow_rounds = 0
    catch_up: list[float] = []
    started = time.monotonic()
    try:
        stack.start("ingress")
        stack.wait_ingress_ready()
        sent = 0
        for round_ in range(args.rounds):
            stack.start("worker")
            begun = time.monotonic()
            for _ in range(3):
                sent += 1
                assert stack.post(body(f"e{sent}"), event_id=f"e{sent}").status_code == 200
            while not caught_up(stack):
                if time.monotonic() - begun > args.round_timeout:
                    slow_rounds += 1
                    break
                time.sleep(0.2)
            catch_up.append(time.monotonic() - begun)
            stack.stop("worker", timeout=60)
            print(
                f"round {round_ + 1}/{args.rounds}: caught up in {catch_up[-1]:.1f} s; "
                f"stuck starts so far {stack.restarts.get('worker', 0)}",
                flush=True,
            )
    finally:
        stack.stop_all()
        broker.stop()
    summary = {
        "rounds": args.rounds,
        "stuck_starts": stack.restarts.get("worker", 0),
        "rounds_over_timeout": slow_rounds,
        "catch_up_median_s": round(sorted(catch_up)[len(catch_up) // 2], 1) if catch_up else None,
        "catch_up_max_s": round(max(catch_up), 1) if catch_up else None,
        "duration_s": round(time.monotonic() - started),
        "load_average": os.getloadavg(),
        "checkout": str(args.checkout or Path.cwd()),
    }
    print(json.dumps(summary))
    if args.json is not None:
        with args.json.open("a") as out:
            out.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
