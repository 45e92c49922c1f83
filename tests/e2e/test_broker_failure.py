"""A three-broker cluster losing brokers under load: nothing acknowledged is lost.

The module starts its own cluster on 127.0.0.1 (three combined broker+controller nodes, each on
its own ports), creates the stack's topics with replication factor 3 and
``min.insync.replicas=2``, runs the ingress and the worker against it, and keeps senders posting
signed deliveries while it

1. kills the broker coordinating the worker's consumer group (SIGKILL), keeps it down for at
   least 60 s and until deliveries accepted meanwhile come out canonical (and are coming out),
   noting how long that output stood still at most, then starts it again and waits until every
   replica is back in sync;
2. kills two brokers: fewer than ``min.insync.replicas`` are left, so nothing can be acknowledged
   and every delivery must be answered 503 within the producer's delivery timeout; then starts
   them again and waits until deliveries are accepted again.

The scenario runs once (module fixture); each test checks one behaviour of what it recorded.
``pytest tests/e2e/test_broker_failure.py -q -s`` also prints the figures.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from hookgate.kafka_local import LocalKafkaCluster
from tests.support import Stack, canonical_ids, free_ports, read_canonical, running, wait_until

#: The scenario runs in the first test's setup: ~4-5 min on a quiet machine, and brokers took
#: ~60 s to start at a load average of 25, past the suite's 300 s.
pytestmark = [pytest.mark.kafka, pytest.mark.cluster, pytest.mark.timeout(900)]

BODY = b'{"type": "invoice.paid", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": "inv_1"}}'
DELIVERY_TIMEOUT_MS = 5000
#: How long past the delivery timeout a 503 may take (the bridge's poll margin, a busy machine).
ANSWER_MARGIN_S = 4.0
SENDERS = 3
#: The longest the canonical output may stand still, deliveries waiting, while the group's
#: coordinator is down. A commit stuck on the lost coordinator is given up after ~15 s and the
#: worker restarted (~30 s in all here); before that deadline it waited for the 60 s transaction
#: timeout, or longer (RELIABILITY.md, "A broker that can fail").
OUTPUT_GAP_BOUND_S = 50.0
#: The coordinator stays down at least this long (a commit was seen to get stuck 25 s after the
#: kill, after some output), and then until the output flows again: a standstill is seen whole.
ONE_DOWN_MIN_S = 60.0
#: Output counts as flowing when more came out this recently.
FLOWING_S = 5.0
#: How long the one-broker phase waits for 20 of its deliveries to come out canonical.
ONE_DOWN_PATIENCE_S = 120.0
#: Phases in the order the scenario passes through them; requests are labelled by the phase in
#: which they started. "killing"/"restarting" cover the moments a kill or start is under way.
PHASES = ("healthy", "one_down", "healing", "killing_two", "two_down", "restarting", "recovered")


@dataclass(frozen=True)
class Sent:
    event_id: str
    phase: str
    started: float
    finished: float
    #: None: no HTTP answer at all (connection error or client timeout).
    status: int | None


@dataclass
class Senders:
    """Threads posting signed deliveries one after another until stopped."""

    stack: Stack
    phase: str = "healthy"
    sent: list[Sent] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for _ in range(SENDERS):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self) -> None:
        while not self._stop.is_set():
            phase = self.phase
            event_id = f"msg_{phase}_{uuid.uuid4().hex[:12]}"
            started = time.monotonic()
            try:
                status: int | None = self.stack.post(BODY, event_id=event_id).status_code
            except httpx.HTTPError:
                status = None
            with self._lock:
                self.sent.append(Sent(event_id, phase, started, time.monotonic(), status))
            time.sleep(0.02)

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)

    def accepted(self, phase: str | None = None) -> list[str]:
        return [
            s.event_id
            for s in self.snapshot()
            if s.status == 200 and (phase is None or s.phase == phase)
        ]


@dataclass
class Outcome:
    sent: list[Sent]
    canonical: list[str]
    #: Deliveries accepted while one broker was down that came out canonical before it returned.
    canonical_while_one_down: int
    #: Seconds from the kill until the first delivery accepted since came out canonical.
    output_resumed_after: float | None
    #: The longest time (s) no more of those came out while some were waiting.
    longest_output_gap: float
    #: When the two brokers' restart was complete (monotonic clock), and the first 200 after it.
    restarted_at: float
    first_accepted_after: float | None
    #: Per topic of the stack: the replica count of each partition and min.insync.replicas.
    replicas: dict[str, set[int]]
    min_insync: dict[str, str]
    #: Per role, how often it exited and was started again.
    restarts: dict[str, int]

    def in_phase(self, phase: str) -> list[Sent]:
        return [s for s in self.sent if s.phase == phase]

    def figures(self) -> str:
        counted = collections.Counter(self.canonical)
        accepted = {s.event_id for s in self.sent if s.status == 200}
        lines = []
        for phase in PHASES:
            statuses = collections.Counter(str(s.status) for s in self.in_phase(phase))
            lines.append(f"{phase:>12}: sent {sum(statuses.values())}, {dict(statuses)}")
        lines.append(
            f"accepted {len(accepted)}, canonical {len(self.canonical)}, "
            f"lost {len(accepted - set(counted))}, "
            f"duplicated {sum(1 for n in counted.values() if n > 1)}, "
            f"canonical while one down {self.canonical_while_one_down} "
            f"(first after {self.output_resumed_after} s, "
            f"longest standstill {self.longest_output_gap} s), "
            f"restarts {self.restarts}"
        )
        return "\n".join(lines)


def _all_in_sync(admin: AdminClient, topics: list[str], replicas: int) -> bool:
    metadata = admin.list_topics(timeout=10)
    # The internal topics exist once a client first needs them.
    internal = [t for t in ("__consumer_offsets", "__transaction_state") if t in metadata.topics]
    return all(
        name in metadata.topics
        and all(
            len(p.isrs) == replicas and p.leader >= 0
            for p in metadata.topics[name].partitions.values()
        )
        for name in [*topics, *internal]
    )


def _group_coordinator(admin: AdminClient, group: str) -> int:
    described = admin.describe_consumer_groups([group], request_timeout=10)[group].result(15)
    return int(described.coordinator.id)


def _canonical_now(stack: Stack) -> set[str]:
    """The canonical ids readable now; none while a partition's leader is still moving."""
    try:
        return set(canonical_ids(read_canonical(stack)))
    except (KafkaException, AssertionError):
        return set()


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    ports = free_ports(6)
    cluster = LocalKafkaCluster(
        tmp_path_factory.mktemp("cluster"), [(ports[i], ports[i + 1]) for i in (0, 2, 4)]
    )
    cluster.start()
    try:
        yield _scenario(cluster, tmp_path_factory)
    finally:
        cluster.stop(timeout=30)


def _scenario(cluster: LocalKafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    stack = Stack(
        cluster.bootstrap,
        tmp_path_factory.mktemp("failure"),
        delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
        replication_factor=3,
        topic_config={"min.insync.replicas": "2"},
        # The worker stops itself when a transaction cannot commit (its coordinator died) and
        # redoes the work from the last commit once restarted, as its supervisor does.
        restart_failed=True,
    )
    stack.ensure_topics()
    topics = [stack.settings.topics.raw.name, stack.settings.topics.canonical.name]
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    # Also until every broker knows the new topics: a metadata answer just after their
    # creation can lack them.
    wait_until(lambda: _all_in_sync(admin, topics, 3), 60, "the topics' replicas to be in sync")
    metadata = admin.list_topics(timeout=10)
    replicas = {
        t: {len(p.replicas) for p in metadata.topics[t].partitions.values()} for t in topics
    }
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
    min_insync = {
        r.name: f.result(10)["min.insync.replicas"].value
        for r, f in admin.describe_configs(resources).items()
    }

    with running(stack, "ingress", "worker"):
        stack.wait_ingress_ready()
        senders = Senders(stack)
        senders.start()
        try:
            wait_until(
                lambda: len(senders.accepted("healthy")) >= 20 and len(_canonical_now(stack)) >= 10,
                90,
                "deliveries to come out canonical on the healthy cluster",
            )

            # The group's coordinator: its loss is the hard case, the worker's transactional
            # commit waits on it (RELIABILITY.md, "A broker that can fail").
            victim = _group_coordinator(admin, stack.settings.worker.app_id)
            senders.phase = "one_down"
            killed_at = time.monotonic()
            cluster.kill(victim)
            canonical_while_one_down = 0
            output_resumed_after: float | None = None
            longest_output_gap, last_output_at = 0.0, killed_at
            while (now := time.monotonic()) < killed_at + ONE_DOWN_PATIENCE_S:
                one_down = set(senders.accepted("one_down"))
                out = one_down & _canonical_now(stack)
                if len(out) < canonical_while_one_down:
                    time.sleep(1)  # the read failed (a partition's leader moving): no news
                    continue
                if len(out) > canonical_while_one_down:
                    last_output_at = now
                elif one_down - out:
                    longest_output_gap = max(longest_output_gap, round(now - last_output_at, 1))
                canonical_while_one_down = len(out)
                if out and output_resumed_after is None:
                    output_resumed_after = round(now - killed_at, 1)
                flowing = now - last_output_at <= FLOWING_S
                if canonical_while_one_down >= 20 and now >= killed_at + ONE_DOWN_MIN_S and flowing:
                    break
                time.sleep(1)

            senders.phase = "healing"
            cluster.start_nodes([victim])
            wait_until(lambda: _all_in_sync(admin, topics, 3), 60, "every replica back in sync")

            senders.phase = "killing_two"
            # The broker just back survives; the other two are killed.
            killed = [node for node in (1, 2, 3) if node != victim]
            for node in killed:
                cluster.kill(node)
            senders.phase = "two_down"
            time.sleep(12)

            senders.phase = "restarting"
            cluster.start_nodes(killed)
            restarted_at = time.monotonic()
            senders.phase = "recovered"
            wait_until(
                lambda: len(senders.accepted("recovered")) >= 20,
                90,
                "deliveries to be accepted again after the brokers returned",
            )
        finally:
            senders.stop()
        accepted = set(senders.accepted())
        first_after = min(
            (s.finished for s in senders.snapshot() if s.status == 200 and s.phase == "recovered"),
            default=None,
        )
        wait_until(
            lambda: accepted <= _canonical_now(stack),
            120,
            "every accepted delivery to come out canonical",
        )
        canonical = canonical_ids(read_canonical(stack, timeout=30))

    result = Outcome(
        sent=senders.snapshot(),
        canonical=canonical,
        canonical_while_one_down=canonical_while_one_down,
        output_resumed_after=output_resumed_after,
        longest_output_gap=longest_output_gap,
        restarted_at=restarted_at,
        first_accepted_after=first_after,
        replicas=replicas,
        min_insync=min_insync,
        restarts=dict(stack.restarts),
    )
    print(f"\n{result.figures()}")
    return result


def test_the_topics_are_replicated_three_ways_and_need_two_in_sync(outcome: Outcome) -> None:
    assert set(outcome.replicas) == set(outcome.min_insync)
    assert all(counts == {3} for counts in outcome.replicas.values()), outcome.replicas
    assert set(outcome.min_insync.values()) == {"2"}, outcome.min_insync


def test_every_accepted_delivery_comes_out_canonical_exactly_once(outcome: Outcome) -> None:
    accepted = {s.event_id for s in outcome.sent if s.status == 200}
    counted = collections.Counter(outcome.canonical)
    assert len(accepted) >= 60, outcome.figures()
    assert accepted - set(counted) == set(), outcome.figures()
    assert {i for i, n in counted.items() if n > 1} == set(), outcome.figures()
    # Nothing comes out that was not sent (a 503'd delivery may, if its record landed anyway).
    assert set(counted) <= {s.event_id for s in outcome.sent}


def test_with_one_broker_down_deliveries_are_still_accepted(outcome: Outcome) -> None:
    one_down = outcome.in_phase("one_down")
    assert sum(s.status == 200 for s in one_down) >= 20, outcome.figures()
    # Only 200s and the retryable 503 (a partition's leader moving): never a 500 or no answer.
    assert {s.status for s in one_down} <= {200, 503}, outcome.figures()


def test_canonical_output_continues_while_one_broker_is_down(outcome: Outcome) -> None:
    assert outcome.canonical_while_one_down >= 20, outcome.figures()


def test_output_resumes_soon_after_the_group_coordinator_is_lost(outcome: Outcome) -> None:
    assert outcome.output_resumed_after is not None, outcome.figures()
    assert outcome.longest_output_gap <= OUTPUT_GAP_BOUND_S, outcome.figures()


def test_with_two_brokers_down_every_delivery_is_a_prompt_503(outcome: Outcome) -> None:
    # Those answered before the restart began: nothing can be acknowledged then.
    two_down = [s for s in outcome.in_phase("two_down") if s.finished < outcome.restarted_at]
    assert len(two_down) >= SENDERS, outcome.figures()
    assert {s.status for s in two_down} == {503}, outcome.figures()
    slowest = max(s.finished - s.started for s in two_down)
    assert slowest <= DELIVERY_TIMEOUT_MS / 1000 + ANSWER_MARGIN_S, slowest


def test_after_the_brokers_return_deliveries_are_accepted_again(outcome: Outcome) -> None:
    recovered = [s for s in outcome.in_phase("recovered") if s.status == 200]
    assert len(recovered) >= 20, outcome.figures()
    assert outcome.first_accepted_after is not None
    assert outcome.first_accepted_after - outcome.restarted_at < 60
    assert {s.event_id for s in recovered} <= set(outcome.canonical)
