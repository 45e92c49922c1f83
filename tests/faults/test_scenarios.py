"""Short fault scenarios on the real broker: every accepted delivery comes out, whatever fails.

All scenarios run at once (each on its own topics, consumer group and ports; broker-restart on a
broker of its own), because most of their time is spent waiting: a SIGKILLed worker's partitions
move only when its group session expires. Each then gets its own verdicts below. The long
version is ``python -m tests.faults`` (see RELIABILITY.md).

The worker on main is at-least-once and has no ``worker.guarantee`` key. When the exactly-once
worker lands, set ``GUARANTEE = "exactly_once"`` (or ``HOOKGATE_FAULTS_GUARANTEE``): the key is
written into the worker's config and 0 duplicates and no commit stall become required.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.faults.harness import SCENARIOS, Knobs, own_broker, run_scenario
from tests.faults.reconcile import Expectation, Result

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

#: Written into the worker's config as ``worker.guarantee``; None leaves the key out.
GUARANTEE: str | None = os.environ.get("HOOKGATE_FAULTS_GUARANTEE") or None
EXPECTATION = Expectation.for_guarantee(GUARANTEE or "at_least_once")

SHORT = Knobs(
    deliveries=200,
    seed=11,
    guarantee=GUARANTEE,
    rate=100,
    faults=1,
    stall_after_s=20,
    settle_timeout_s=150,
    progress_every_s=15,
)
CI_SCENARIOS = [name for name in SCENARIOS if name != "baseline"]
#: The broker is stopped twice: once with SIGTERM, once with SIGKILL.
CI_FAULTS = {"broker-restart": 2}


@pytest.fixture(scope="module")
def results(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Result | BaseException]:
    workdir = tmp_path_factory.mktemp("faults")
    log = (workdir / "progress.log").open("a")
    lock = threading.Lock()

    def progress(line: str) -> None:
        with lock:
            log.write(line + "\n")
            log.flush()

    def one(scenario: str) -> Result:
        knobs = replace(SHORT, faults=CI_FAULTS.get(scenario, SHORT.faults))
        if not SCENARIOS[scenario][2]:
            return run_scenario(
                scenario,
                knobs,
                bootstrap=kafka_bootstrap,
                workdir=workdir / scenario,
                broker=None,
                progress=progress,
                halt=halt,
            )
        with own_broker(workdir / f"{scenario}-kafka", progress) as broker:
            return run_scenario(
                scenario,
                knobs,
                bootstrap=broker.bootstrap,
                workdir=workdir / scenario,
                broker=broker,
                progress=progress,
                halt=halt,
            )

    # Set when this fixture is left early (timeout, Ctrl-C): the runs stop what they started.
    halt = threading.Event()
    outcomes: dict[str, Result | BaseException] = {}
    pool = ThreadPoolExecutor(len(CI_SCENARIOS))
    try:
        futures = {name: pool.submit(one, name) for name in CI_SCENARIOS}
        for name, future in futures.items():
            error = future.exception()
            outcomes[name] = error if error is not None else future.result()
    finally:
        halt.set()
        pool.shutdown(wait=True)
        log.close()
    return outcomes


def _result(results: dict[str, Result | BaseException], scenario: str) -> Result:
    outcome = results[scenario]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


@pytest.mark.timeout(900)
@pytest.mark.parametrize("scenario", CI_SCENARIOS)
def test_every_accepted_delivery_comes_out_once_at_least(
    results: dict[str, Result | BaseException], scenario: str
) -> None:
    result = _result(results, scenario)
    at_least_once = Expectation(no_duplicates=False, no_commit_stall=False)
    assert at_least_once.failures(result) == [], result.summary()


@pytest.mark.parametrize("scenario", CI_SCENARIOS)
def test_duplicates_and_commit_stalls_meet_the_guarantee(
    results: dict[str, Result | BaseException], scenario: str
) -> None:
    result = _result(results, scenario)
    if not (EXPECTATION.no_duplicates or EXPECTATION.no_commit_stall):
        pytest.skip(
            f"at-least-once worker, counted not required: {result.duplicated} duplicated, "
            f"commit stall {'yes' if result.commit_stall else 'no'}"
        )
    assert EXPECTATION.failures(result) == [], result.summary()
