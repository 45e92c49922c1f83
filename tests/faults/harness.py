"""Run one fault scenario end to end and reconcile what was accepted with what came out.

A run: start the ingress and worker processes on fresh topics, send signed deliveries over HTTP
while the scenario's fault script kills, restarts and scales processes or the broker, let
everything settle, check that the worker group's committed offsets catch up (the commit-stall
detector), stop everything, then read the canonical and dead-letter topics with
``read_committed`` and count lost, duplicated and dead-lettered events.

Every wait is bounded, and whatever the run started is stopped on the way out, failure or not.
While it waits the harness acts as an orchestrator: a wanted process that exited on its own is
restarted and counted as an unplanned restart, and workers that emit nothing for
``liveness_s`` while accepted deliveries are missing are SIGKILLed and restarted, counted as a
liveness restart (a stuck worker, which a liveness probe would catch).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hookgate.kafka_local import LocalKafka, LocalKafkaError
from tests.faults.observe import CommitWatch, OutputObserver, read_outputs
from tests.faults.pipeline import Pipeline
from tests.faults.reconcile import Result, reconcile
from tests.faults.sender import Sender, plan
from tests.support import free_ports


class ScenarioError(Exception):
    """A scenario could not run to the end (no progress, a process that would not start)."""


@dataclass(frozen=True)
class Knobs:
    deliveries: int = 1000
    seed: int = 1
    #: Written into the worker's config as ``worker.guarantee``; None leaves the key out.
    guarantee: str | None = None
    #: Deliveries per second the sender starts (copies and retries come on top).
    rate: float = 250.0
    #: How many times the scenario's fault is injected.
    faults: int = 3
    #: Committed offsets that lag this long after everything is out are a commit stall. Longer
    #: than a SIGKILLed worker's group session (Faust's broker_session_timeout, 60 s): until it
    #: expires nobody may commit the killed member's partitions, and when everything came out
    #: before the kill (a fast ingress, the last raw record a de-duplicated copy) the lag of
    #: that wait is not a stall (RELIABILITY.md, the standstills after a SIGKILL).
    stall_after_s: float = 75.0
    #: After a stall, keep watching this long to measure when (if) the commits catch up.
    stall_watch_s: float = 0.0
    #: How long the output may stand still before the rest counts as lost.
    settle_timeout_s: float = 180.0
    progress_every_s: float = 5.0
    #: A fault script waiting for progress gives up after this long without any.
    stuck_after_s: float = 240.0
    #: Liveness rule of the orchestrator: workers that emit nothing for this long while accepted
    #: deliveries are still missing (and none of them just started) are SIGKILLed and restarted.
    liveness_s: float = 150.0


Progress = Callable[[str], None]


class Run:
    """What a fault script drives: the processes, the broker, the sender and the observers."""

    def __init__(
        self,
        scenario: str,
        knobs: Knobs,
        pipeline: Pipeline,
        broker: LocalKafka | None,
        progress: Progress,
        halt: threading.Event,
    ) -> None:
        self.scenario = scenario
        self.halt = halt
        self.knobs = knobs
        self.pipeline = pipeline
        self.broker = broker
        self.progress = progress
        self.rng = random.Random(knobs.seed)
        self.started = time.monotonic()
        self.result = Result(scenario, knobs.guarantee or "worker default", knobs.seed)
        deliveries = plan(knobs.deliveries, knobs.seed)
        self.sent_ids = {d.event_id for d in deliveries}
        self.sender = Sender(
            pipeline.urls, deliveries, rate=knobs.rate, seed=knobs.seed, give_up_after=600
        )
        topics = pipeline.settings.topics
        self.observer = OutputObserver(pipeline.bootstrap, topics.canonical, topics.dead_letter)
        self.commits = CommitWatch(
            pipeline.bootstrap, pipeline.group, topics.raw.name, topics.raw.partitions
        )
        self._last_progress = 0.0
        #: (events out, when that count was first seen), for the liveness rule.
        self._out_seen = (-1, time.monotonic())
        self._broker_back = 0.0
        #: (events out, when that count was first seen), for the settle phase.
        self.last_out = (-1, time.monotonic())

    # -- what fault scripts wait for ----------------------------------------------------------

    def accepted_fraction(self) -> float:
        return len(self.sender.stats.accepted) / max(1, self.knobs.deliveries)

    def out_fraction(self) -> float:
        return len(self.observer.ids_out()) / max(1, self.knobs.deliveries)

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float) -> None:
        """Wait for ``condition``, supervising processes and reporting progress meanwhile."""
        deadline = time.monotonic() + timeout
        while not condition():
            self.tick()
            if time.monotonic() >= deadline:
                raise ScenarioError(f"{self.scenario}: no {what} within {timeout:g} s")
            time.sleep(0.2)

    def until_accepted(self, fraction: float) -> None:
        self._while_moving(
            f"{fraction:.0%} of deliveries accepted",
            lambda: self.accepted_fraction() >= fraction or self.sender.done,
        )

    def until_out(self, fraction: float) -> None:
        self._while_moving(
            f"{fraction:.0%} of deliveries out of the worker",
            lambda: self.out_fraction() >= fraction,
        )

    def until_sent(self) -> None:
        self._while_moving("the end of sending", lambda: self.sender.done)

    def _while_moving(self, what: str, condition: Callable[[], bool]) -> None:
        """Wait for ``condition`` as long as deliveries are still being accepted or coming out.

        Bounded by the lack of progress, not by a schedule: a loaded machine is slow, not stuck.
        """
        moved = [time.monotonic(), -1]

        def done_or_stuck() -> bool:
            if condition():
                return True
            now, mark = (
                time.monotonic(),
                len(self.sender.stats.accepted) + len(self.observer.ids_out()),
            )
            if mark != moved[1]:
                moved[:] = [now, mark]
            if now - moved[0] > self.knobs.stuck_after_s:
                raise ScenarioError(
                    f"{self.scenario}: no progress towards {what} in "
                    f"{self.knobs.stuck_after_s:g} s ({self.status()})"
                )
            return False

        self.wait_for(what, done_or_stuck, timeout=float("inf"))

    def pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick()
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    def tick(self) -> None:
        if self.halt.is_set():
            raise ScenarioError(f"{self.scenario}: halted")
        for part, error in (
            ("sender", self.sender.error),
            ("output observer", self.observer.error),
            ("commit watch", self.commits.error),
        ):
            if error is not None:
                raise ScenarioError(f"the {part} failed: {error!r}")
        for restarted in self.pipeline.supervise():
            self.result.unplanned_restarts += 1
            self.say(f"restarted {restarted}, which exited on its own")
        self._liveness()
        now = time.monotonic()
        if now - self._last_progress >= self.knobs.progress_every_s:
            self._last_progress = now
            self.say(self.status())

    def _liveness(self) -> None:
        now = time.monotonic()
        out = len(self.observer.ids_out())
        if out != self._out_seen[0]:
            self._out_seen = (out, now)
        workers = self.pipeline.running("worker")
        quiet_since = max(self._out_seen[1], self.pipeline.last_worker_start, self._broker_back)
        if not workers or now - quiet_since < self.knobs.liveness_s:
            return
        if len(self.sender.stats.accepted) <= out:
            return
        self.say(
            f"LIVENESS: no event out for {now - quiet_since:.0f} s with accepted deliveries "
            f"missing; SIGKILL and restart {', '.join(workers)}"
        )
        for name in workers:
            self.pipeline.kill(name)
        for name in workers:
            self.pipeline.start(name)
        self.result.liveness_restarts += 1

    def status(self) -> str:
        stats = self.sender.stats
        commit = self.commits.sample()
        lag = "?" if commit is None else f"{commit.lag} (still {commit.standstill:.0f} s)"
        return (
            f"accepted {len(stats.accepted)}/{stats.planned} ({stats.requests} requests, "
            f"{stats.answers.get('503', 0)} x 503, "
            f"{sum(n for k, n in stats.answers.items() if not k.isdigit())} conn errors), "
            f"out {len(self.observer.ids_out())}, "
            f"workers {','.join(self.pipeline.running('worker')) or '-'}, commit lag {lag}"
        )

    def say(self, line: str) -> None:
        self.progress(f"[{self.scenario} {time.monotonic() - self.started:6.1f}s] {line}")

    # -- faults -------------------------------------------------------------------------------

    def kill_worker(self, name: str, signum: signal.Signals = signal.SIGKILL) -> None:
        code = self.pipeline.kill(name, signum)
        self.say(f"{signum.name} {name} (exit {code})")

    def restart_worker(self, name: str) -> None:
        self.pipeline.start(name)
        self.result.worker_restarts += 1
        self.say(f"restarted {name}")

    def kill_broker(self, signum: signal.Signals) -> None:
        if self.broker is None:
            raise ScenarioError(f"{self.scenario} needs a broker of its own (LocalKafka)")
        if signum == signal.SIGTERM:
            self.say("stopping the broker (SIGTERM)")
            self.broker.stop()
        else:
            pid = self.broker.status().pid
            if pid is None:
                raise ScenarioError("the broker is not running")
            self.say(f"SIGKILL the broker (pid {pid})")
            os.kill(pid, signum)
            _wait_gone(pid)

    def start_broker(self) -> None:
        assert self.broker is not None
        try:
            # Generous: after a SIGKILL the broker recovers its logs first, and a loaded
            # machine has taken over 90 s for that.
            self.broker.start(timeout=300)
        except LocalKafkaError as exc:
            raise ScenarioError(f"the broker did not come back: {exc}") from exc
        self.result.broker_restarts += 1
        self._broker_back = time.monotonic()
        self.say("broker back")


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll for it instead
            if not Path(f"/proc/{pid}").exists():
                return
        else:
            if waited == pid:
                return
        time.sleep(0.1)
    raise ScenarioError(f"pid {pid} still alive {timeout:g} s after SIGKILL")


# -- the scenarios ----------------------------------------------------------------------------


def _fractions(count: int) -> list[float]:
    """``count`` evenly spread points strictly inside the run: 1/(n+1), ..., n/(n+1)."""
    return [(k + 1) / (count + 1) for k in range(count)]


def baseline(run: Run) -> None:
    """No fault: the control, which must show nothing lost, duplicated or stalled."""


def worker_kill(run: Run) -> None:
    """One worker, SIGKILLed mid-stream and restarted, ``faults`` times."""
    for point in _fractions(run.knobs.faults):
        run.until_out(point)
        run.kill_worker("worker-0")
        run.pause(run.rng.uniform(0, 1))
        run.restart_worker("worker-0")


def two_workers_kill(run: Run) -> None:
    """Two workers; one SIGKILLed (alternately) and restarted after the survivor took over."""
    for k, point in enumerate(_fractions(run.knobs.faults)):
        victim = f"worker-{(k + 1) % 2}"
        run.until_out(point)
        run.kill_worker(victim)
        run.pause(run.rng.uniform(1, 3))
        run.restart_worker(victim)


def scale_1_2_1(run: Run) -> None:
    """One worker; a second joins mid-stream, then leaves (SIGTERM): two rebalances per cycle."""
    points = _fractions(2 * run.knobs.faults)
    for up, down in zip(points[::2], points[1::2], strict=True):
        run.until_out(up)
        run.pipeline.start("worker-1")
        run.say("scaled up: worker-1 joins")
        run.until_out(down)
        run.kill_worker("worker-1", signal.SIGTERM)
        run.say("scaled down: worker-1 left")
    run.result.notes.append(f"{run.knobs.faults} cycles of 1->2->1 workers")


def broker_restart(run: Run) -> None:
    """The broker stopped under load and started again: SIGTERM, then SIGKILL, alternately."""
    for k, point in enumerate(_fractions(run.knobs.faults)):
        run.until_accepted(point)
        run.until_out(point / 2)  # the worker is at work too, not still joining its group
        run.kill_broker(signal.SIGTERM if k % 2 == 0 else signal.SIGKILL)
        run.pause(run.rng.uniform(1, 4))
        run.start_broker()


def ingress_kill(run: Run) -> None:
    """An ingress SIGKILLed under load (senders retry on the other), then restarted."""
    for k, point in enumerate(_fractions(run.knobs.faults)):
        index = k % 2
        run.until_accepted(point)
        code = run.pipeline.kill(f"ingress-{index}")
        run.say(f"SIGKILL ingress-{index} (exit {code})")
        run.pause(run.rng.uniform(0.5, 2))
        run.pipeline.start(f"ingress-{index}")
        run.pipeline.wait_ingress_ready(index)
        run.result.ingress_restarts += 1
        run.say(f"ingress-{index} back")


Script = Callable[[Run], None]

#: name -> (workers at the start, fault script, needs a broker of its own)
SCENARIOS: dict[str, tuple[int, Script, bool]] = {
    "baseline": (1, baseline, False),
    "worker-kill": (1, worker_kill, False),
    "two-workers-kill": (2, two_workers_kill, False),
    "scale-1-2-1": (1, scale_1_2_1, False),
    "broker-restart": (1, broker_restart, True),
    "ingress-kill": (1, ingress_kill, False),
}


def run_scenario(
    scenario: str,
    knobs: Knobs,
    *,
    bootstrap: str,
    workdir: Path,
    broker: LocalKafka | None = None,
    progress: Progress = print,
    halt: threading.Event | None = None,
) -> Result:
    """Run ``scenario`` against the broker at ``bootstrap`` (``broker`` if it is to be faulted).

    Setting ``halt`` (from another thread) ends the run early, with everything stopped.
    """
    workers, script, needs_broker = SCENARIOS[scenario]
    if needs_broker and broker is None:
        raise ScenarioError(f"{scenario} stops the broker: give it one of its own (LocalKafka)")
    pipeline = Pipeline(bootstrap, workdir, guarantee=knobs.guarantee)
    pipeline.ensure_topics()
    run = Run(scenario, knobs, pipeline, broker, progress, halt or threading.Event())
    run.say(f"topics {pipeline.name}.*, logs in {workdir}")
    try:
        run.observer.start()
        run.commits.start()
        for index in range(pipeline.ingress_count):
            pipeline.start(f"ingress-{index}")
        for index in range(workers):
            pipeline.start(f"worker-{index}")
        for index in range(pipeline.ingress_count):
            pipeline.wait_ingress_ready(index)
        run.sender.start()
        script(run)
        run.until_sent()
        _settle(run)
    finally:
        run.sender.halt()
        pipeline.stop_all()
        run.observer.stop()
        run.commits.stop()
    if run.sender.error is not None:
        raise ScenarioError(f"the sender failed: {run.sender.error!r}")
    stats = run.sender.stats
    result = run.result
    result.requests = stats.requests
    result.given_up = len(stats.given_up)
    result.refused = len(stats.refused)
    result.answers = dict(stats.answers)
    if stats.refused:
        result.notes.append(f"refused, e.g.: {next(iter(stats.refused.values()))}")
    topics = pipeline.settings.topics
    outputs = read_outputs(bootstrap, topics.canonical, topics.dead_letter)
    reconcile(result, run.sent_ids, stats.accepted, outputs)
    result.max_commit_standstill_s = round(run.commits.max_standstill, 1)
    result.duration_s = round(time.monotonic() - run.started, 1)
    run.say(result.summary())
    return result


def _settle(run: Run) -> None:
    """Wait for everything accepted to come out, then apply the commit-stall detector."""
    knobs = run.knobs
    accepted = set(run.sender.stats.accepted)
    try:
        run.wait_for(
            "end of output (every accepted delivery out)",
            lambda: accepted <= run.observer.ids_out() or _stuck(run, knobs.settle_timeout_s),
            float("inf"),
        )
        if not accepted <= run.observer.ids_out():
            raise ScenarioError(f"not everything out after {knobs.settle_timeout_s:g} s quiet")
    except ScenarioError as exc:
        # Reconciliation will count what is missing; the detector below still applies.
        run.result.notes.append(str(exc))
    out_at = time.monotonic()

    def caught_up() -> bool:
        sample = run.commits.sample()
        return sample is not None and sample.at > out_at and sample.lag == 0

    try:
        run.wait_for("commit catch-up", caught_up, knobs.stall_after_s)
    except ScenarioError:
        run.result.commit_stall = True
        sample = run.commits.sample()
        run.say(
            f"COMMIT STALL: the output settled but committed offsets lag by "
            f"{sample.lag if sample else '?'} records after {knobs.stall_after_s:g} s"
        )
        if knobs.stall_watch_s <= 0:
            return
        try:
            run.wait_for("commit catch-up after a stall", caught_up, knobs.stall_watch_s)
        except ScenarioError:
            return
    run.result.commit_catchup_s = round(time.monotonic() - out_at, 1)


@contextlib.contextmanager
def own_broker(home: Path, progress: Progress = print) -> Iterator[LocalKafka]:
    """A broker for one run to stop and start at will; stopped on the way out."""
    port, controller_port = free_ports(2)
    broker = LocalKafka(home, port=port, controller_port=controller_port, progress=progress)
    broker.start(timeout=300)
    try:
        yield broker
    finally:
        broker.stop()


def _stuck(run: Run, quiet_s: float) -> bool:
    """True once no new event came out for ``quiet_s`` seconds (tracked on the run)."""
    count, now = len(run.observer.ids_out()), time.monotonic()
    if count != run.last_out[0]:
        run.last_out = (count, now)
    return now - run.last_out[1] > quiet_s
