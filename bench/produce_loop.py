"""The producer ceiling: a bare confluent-kafka loop, the ingress's producer settings, no HTTP.

Produces records of one size for a fixed time, each with its own delivery callback (as each
ingress request has), and prints one JSON object: acknowledged records per second.

    python bench/produce_loop.py --bootstrap 127.0.0.1:9092 --topic raw --bytes 1024 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from confluent_kafka import Producer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--bytes", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": "lz4",
        }
    )
    value = (b'{"type":"job.done","data":"' + b"x" * args.bytes)[: args.bytes - 2] + b'"}'
    acked = 0
    failed = 0

    def on_delivery(err: object, msg: object) -> None:
        nonlocal acked, failed
        if err is None:
            acked += 1
        else:
            failed += 1

    producer.produce(args.topic, value, b"warm-up", on_delivery=on_delivery)
    producer.flush(10)
    acked = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            try:
                producer.produce(
                    args.topic,
                    value,
                    b"msg_bench",
                    headers=[("source", b"bench")],
                    on_delivery=on_delivery,
                )
            except BufferError:
                producer.poll(0.005)
        producer.poll(0)
    producer.flush(30)
    elapsed = time.perf_counter() - start
    json.dump({"rate": acked / elapsed, "acked": acked, "failed": failed}, sys.stdout)


if __name__ == "__main__":
    main()
