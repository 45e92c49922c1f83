"""The worker's stage alone: CPU microseconds per raw record, per provider.

    .venv/bin/python bench/stage.py                     # every row, 7 rounds, ~30 s
    .venv/bin/python bench/stage.py --rows worker-benchmark --profile

Times `streams.pipeline.Stage.handle` (decode the raw record, the de-duplication decision,
normalize, build and encode the canonical event) with no Kafka and no Faust: the stage's
de-duplication lookup is an empty dict, so every record is a new event, emitted. Rows:

  worker-benchmark  the records `bench/worker_throughput.py` fills the raw topic with: ~1 KB
                    Standard Webhooks deliveries as the ingress writes them, each a distinct
                    event (the figure issue 7's stage work is measured by)
  PROVIDER          the provider's bundled sample (hookgate/samples/) as the ingress writes it
                    (tests/streams/sample_records.py), the same record again and again

Each round runs every row once, in an order that rotates from round to round, so drift on a
shared machine spreads over every row; a row's figure is the CPU time (process time, so time
spent descheduled does not count) of `--records` calls, per call. Prints the median over the
rounds and the fastest round. `--profile` runs each chosen row once more under cProfile and
prints its top functions by own time (the profiler's overhead inflates every figure in it).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.worker_throughput import raw_records
from streams.pipeline import RawRecord, Stage
from tests.streams.sample_records import NAMES, sample_record

WORKER_BENCHMARK = "worker-benchmark"


def _bytes(value: str | bytes | None) -> bytes:
    return value.encode() if isinstance(value, str) else value or b""


def rows(records: int) -> dict[str, list[RawRecord]]:
    found = {
        WORKER_BENCHMARK: [
            RawRecord("raw", i % 3, i, key, value, [(h, _bytes(v)) for h, v in headers])
            for i, (key, value, headers) in enumerate(raw_records(records, "stage"))
        ]
    }
    for provider in NAMES:
        key, value, headers = sample_record(provider)
        found[provider] = [RawRecord("raw", 0, 7, key, value, headers)] * records
    return found


def stage() -> Stage:
    nothing: dict[bytes, object] = {}
    return Stage(
        lookup=nothing.get,
        canonical_topic="canonical",
        dead_letter_topic="dlq",
        dedup_horizon_s=604_800,
        type_prefix="dev.hookgate.",
    )


def cpu_us_per_record(records: list[RawRecord]) -> float:
    handle = stage().handle
    started = time.process_time()
    for record in records:
        result = handle(record)
    elapsed = time.process_time() - started
    if result.outcome != "emitted":
        raise SystemExit(f"a record was {result.outcome} ({result.reason}), not emitted")
    return elapsed / len(records) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="CPU microseconds per raw record of the worker's stage, per provider.",
        epilog=f"rows: {WORKER_BENCHMARK}, {', '.join(NAMES)}",
    )
    parser.add_argument("--records", type=int, default=2000, help="calls per row and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rows", nargs="+", metavar="ROW", help="only these rows (default all)")
    parser.add_argument("--profile", action="store_true", help="then profile each row once")
    args = parser.parse_args(argv)
    every = rows(args.records)
    chosen = args.rows or list(every)
    unknown = sorted(set(chosen) - set(every))
    if unknown:
        parser.error(f"no such row: {', '.join(unknown)}")
    for name in chosen:  # warm up: imports, caches, the first call of every path
        cpu_us_per_record(every[name][:50])
    figures: dict[str, list[float]] = {name: [] for name in chosen}
    for round_ in range(args.rounds):
        shift = round_ % len(chosen)
        for name in chosen[shift:] + chosen[:shift]:
            figures[name].append(cpu_us_per_record(every[name]))
    print(f"{'row':<20} {'median us':>10} {'min us':>8}   ({args.rounds} rounds)")
    for name in chosen:
        runs = figures[name]
        print(f"{name:<20} {statistics.median(runs):>10.1f} {min(runs):>8.1f}")
    if args.profile:
        for name in chosen:
            print(f"\n--- {name} under cProfile")
            profiler = cProfile.Profile()
            profiler.runcall(cpu_us_per_record, every[name])
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
