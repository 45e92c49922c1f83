"""Short fault scenarios on the real broker: every accepted delivery comes out, whatever fails.

Each scenario runs as its own ``python -m tests.faults`` process (own topics, consumer group and
ports; broker-restart on a broker of its own), all at once, because most of their time is spent
waiting: a SIGKILLed worker's partitions move only when its group session expires. Each then
gets its own verdicts below. The long version is the same command with more deliveries and
faults (see RELIABILITY.md).

The worker runs exactly-once (its default), so 0 duplicates and no commit stall are required as
well as 0 lost; ``HOOKGATE_FAULTS_GUARANTEE=at_least_once`` runs the same scenarios in the other
mode, where duplicates are counted, not required.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.harness import SCENARIOS
from tests.faults.reconcile import Expectation, Result

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

#: Written into the worker's config as ``worker.guarantee``; None leaves the key out.
GUARANTEE: str | None = os.environ.get("HOOKGATE_FAULTS_GUARANTEE") or "exactly_once"
EXPECTATION = Expectation.for_guarantee(GUARANTEE or "at_least_once")

CI_SCENARIOS = [name for name in SCENARIOS if name != "baseline"]
SHORT = ["--deliveries", "200", "--rate", "100", "--seed", "11", "--faults", "1"]
SHORT += ["--stall-after", "75", "--stall-watch", "0"]  # see Knobs.stall_after_s
#: The broker is stopped twice: once with SIGTERM, once with SIGKILL.
CI_FAULTS = {"broker-restart": "2"}
#: Bounds the whole module; every run bounds its own waits well within it.
DEADLINE_S = 900
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def results(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Result | str]:
    workdir = tmp_path_factory.mktemp("faults")
    runs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in CI_SCENARIOS:
            command = [sys.executable, "-m", "tests.faults", "--scenario", name, *SHORT]
            command += ["--bootstrap", kafka_bootstrap, "--workdir", str(workdir / name)]
            command += ["--json", str(workdir / f"{name}.jsonl")]
            if name in CI_FAULTS:
                command[command.index("--faults") + 1] = CI_FAULTS[name]
            if GUARANTEE:
                command += ["--guarantee", GUARANTEE]
            with (workdir / f"{name}.out").open("wb") as out:
                # Its own process group, which its ingress and worker processes join: swept
                # at the end, whatever became of the run itself.
                runs[name] = subprocess.Popen(
                    command, cwd=REPO, stdout=out, stderr=out, start_new_session=True
                )
        deadline = time.monotonic() + DEADLINE_S
        for run in runs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.wait(max(1.0, deadline - time.monotonic()))
    finally:
        # A run still going is told to stop; it stops what it started on the way out.
        for run in runs.values():
            if run.poll() is None:
                run.terminate()
        for run in runs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.wait(90)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    outcomes: dict[str, Result | str] = {}
    for name in CI_SCENARIOS:
        lines = (
            (workdir / f"{name}.jsonl").read_text().splitlines()
            if (workdir / f"{name}.jsonl").exists()
            else []
        )
        if lines:
            outcomes[name] = Result.from_dict(json.loads(lines[-1]))
        else:
            tail = (workdir / f"{name}.out").read_text(errors="replace").splitlines()[-30:]
            outcomes[name] = f"{name} produced no result:\n" + "\n".join(tail)
    return outcomes


def _result(results: dict[str, Result | str], scenario: str) -> Result:
    outcome = results[scenario]
    if isinstance(outcome, str):
        pytest.fail(outcome)
    return outcome


@pytest.mark.timeout(DEADLINE_S + 120)
@pytest.mark.parametrize("scenario", CI_SCENARIOS)
def test_every_accepted_delivery_comes_out_at_least_once(
    results: dict[str, Result | str], scenario: str
) -> None:
    result = _result(results, scenario)
    at_least_once = Expectation(no_duplicates=False, no_commit_stall=False)
    assert at_least_once.failures(result) == [], result.summary()


@pytest.mark.parametrize("scenario", CI_SCENARIOS)
def test_duplicates_and_commit_stalls_meet_the_guarantee(
    results: dict[str, Result | str], scenario: str
) -> None:
    result = _result(results, scenario)
    if not (EXPECTATION.no_duplicates or EXPECTATION.no_commit_stall):
        pytest.skip(
            f"at-least-once worker, counted not required: {result.duplicated} duplicated, "
            f"commit stall {'yes' if result.commit_stall else 'no'}"
        )
    assert EXPECTATION.failures(result) == [], result.summary()
