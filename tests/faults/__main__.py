"""The fault soak: ``python -m tests.faults --scenario all --deliveries 20000 --seed 7``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from hookgate.kafka_local import LocalKafka
from tests.faults.harness import SCENARIOS, Knobs, ScenarioError, run_scenario
from tests.faults.pipeline import GUARANTEES, PipelineError
from tests.faults.reconcile import Expectation, Result, markdown_table
from tests.support import free_ports

_EPILOG = """\
scenarios:
  baseline           no fault: the control (nothing lost, duplicated or stalled)
  worker-kill        one worker, SIGKILLed mid-stream and restarted FAULTS times
  two-workers-kill   two workers, one of them SIGKILLed and restarted FAULTS times
  scale-1-2-1        a second worker joins and leaves (SIGTERM), FAULTS cycles
  broker-restart     the broker stopped under load (SIGTERM, then SIGKILL, ...) and restarted
  ingress-kill       an ingress SIGKILLed under load; senders retry on the other one

Every scenario also runs the commit-stall detector: once every accepted delivery is out, the
worker group's committed offsets must reach the raw topic's end within --stall-after seconds.

Exit status 0 when every scenario met the expectation: nothing lost, nothing dead-lettered,
every delivery accepted, and with exactly-once also no duplicate and no commit stall.
Without --bootstrap a broker of its own is started (and stopped) from the cached jars.

examples:
  python -m tests.faults --scenario worker-kill --deliveries 2000
  python -m tests.faults --scenario all --deliveries 20000 --seed 7 --json soak.jsonl
  python -m tests.faults --scenario all --guarantee exactly_once   # once the worker has it
"""


def _say(line: str) -> None:
    print(line, flush=True)  # progress, also when written to a file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults",
        description="Send signed webhooks through real Hookgate processes on a real broker while "
        "injecting faults; reconcile accepted deliveries with the canonical topic "
        "(read_committed): lost, duplicated, dead-lettered, commit stalls.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Knobs()
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[*SCENARIOS, "all"],
        help="scenario to run (repeatable; 'all' runs every one); default all",
    )
    parser.add_argument(
        "--deliveries",
        type=int,
        default=defaults.deliveries,
        help="distinct events per scenario; a quarter is sent 2-5 times (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    parser.add_argument(
        "--guarantee",
        choices=GUARANTEES,
        help="write worker.guarantee into the worker's config (default: leave the key out, "
        "i.e. the worker's default; main's worker has no such key and is at-least-once)",
    )
    parser.add_argument(
        "--expect",
        choices=GUARANTEES,
        help="what to hold the results to (default: --guarantee, else at_least_once)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=defaults.rate,
        help="deliveries per second the sender starts (default %(default)s)",
    )
    parser.add_argument(
        "--faults",
        type=int,
        default=defaults.faults,
        help="faults injected per scenario (kills, restarts, scale cycles; default %(default)s)",
    )
    parser.add_argument(
        "--stall-after",
        type=float,
        default=defaults.stall_after_s,
        metavar="SECONDS",
        help="committed offsets lagging this long after everything is out are a commit stall "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--stall-watch",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="after a stall, keep watching this long for the commits to catch up "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--bootstrap", help="use this cluster (broker-restart still starts a broker of its own)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="config, process logs and broker data (default: a temp dir)"
    )
    parser.add_argument("--json", type=Path, help="append each result as a JSON line here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    scenarios = list(SCENARIOS) if not args.scenario or "all" in args.scenario else args.scenario
    knobs = Knobs(
        deliveries=args.deliveries,
        seed=args.seed,
        guarantee=args.guarantee,
        rate=args.rate,
        faults=args.faults,
        stall_after_s=args.stall_after,
        stall_watch_s=args.stall_watch,
    )
    expectation = Expectation.for_guarantee(args.expect or args.guarantee or "at_least_once")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hookgate-faults-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # unwinds through every finally: nothing is left running

    signal.signal(signal.SIGTERM, interrupted)
    broker: LocalKafka | None = None
    results: list[Result] = []
    failed: list[str] = []
    try:
        if args.bootstrap is None or "broker-restart" in scenarios:
            port, controller_port = free_ports(2)
            broker = LocalKafka(
                workdir / "kafka", port=port, controller_port=controller_port, progress=_say
            )
            broker.start(timeout=300)
        for scenario in scenarios:
            bootstrap = args.bootstrap or (broker.bootstrap if broker else "")
            if SCENARIOS[scenario][2]:
                assert broker is not None
                bootstrap = broker.bootstrap
            started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
            try:
                result = run_scenario(
                    scenario,
                    knobs,
                    bootstrap=bootstrap,
                    workdir=workdir / f"{scenario}-{args.seed}",
                    broker=broker,
                    progress=_say,
                )
            except (ScenarioError, PipelineError) as exc:
                print(f"[{scenario}] could not finish: {exc}", flush=True)
                failed.append(f"{scenario}: {exc}")
                continue
            results.append(result)
            problems = expectation.failures(result)
            failed += [f"{scenario}: {problem}" for problem in problems]
            if args.json:
                with args.json.open("a") as out:
                    line = {**result.as_dict(), "started": started, "failures": problems}
                    out.write(json.dumps(line) + "\n")
    except KeyboardInterrupt:
        print("interrupted; stopped what was started", file=sys.stderr)
        return 130
    finally:
        if broker is not None:
            broker.stop()
    print("\nsummary:")
    for result in results:
        print(f"  {result.summary()}")
    if results:
        print(f"\n{markdown_table(results)}\n")
    for failure in failed:
        print(f"  FAILED {failure}")
    print(f"process logs and configs: {workdir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
