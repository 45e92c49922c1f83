"""``hookgate replay``: move a consumer group back to a time, per partition, safely.

Replay is a consumer-offset reset. For the worker's group on the raw topic (the default), the
worker then reads those raw records again and re-emits their canonical events, marked with the
``replay`` extension (the de-duplication rule re-emits a record it emitted before). For a
downstream team's group on the canonical topic (``--group G --topic canonical``), their consumers
read the events again.

Rules, each for a reason:

- The group must have no active members: Kafka only takes an offset reset for an empty group,
  and a running member would overwrite it with its next commit.
- Per partition the target is the first record whose timestamp is at or after ``--from`` (the
  end of the partition if there is none). A group that is already before that point is left
  where it is: moving it forward would skip records it has not read yet.
- ``--to`` (worker group only) ends the re-emission: records from ``--to`` up to where the group
  had been are read again but not re-emitted (:mod:`schemas.replayfence`). For a downstream
  group it is refused: the reset cannot stop their consumers, which read on past it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from hookgate.timespec import iso
from schemas import kafka_clients, replayfence
from schemas.config import Settings

#: librdkafka's "no committed offset" value.
_NO_OFFSET = -1001


class ReplayError(Exception):
    """The replay cannot be done (active members, unknown topic, bad arguments, Kafka error)."""


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    partition: int
    #: The group's committed offset (the next record it reads); ``None`` if it has none.
    current: int | None
    #: Where the group will start.
    target: int
    #: The partition's end (high watermark).
    end: int
    #: Offsets read again but not re-emitted (``--to``).
    fence: range | None = None

    @property
    def replayed(self) -> int:
        """Records the group reads again (or for the first time, for a group with no offset) and
        handles as new, up to the current end or the fence."""
        stop = self.end if self.current is None else self.current
        if self.fence is not None:
            stop = min(stop, self.fence.start)
        return max(0, stop - self.target)

    @property
    def fenced(self) -> int:
        return len(self.fence) if self.fence is not None else 0


def plan(
    partitions: Sequence[int],
    committed: Mapping[int, int | None],
    from_offsets: Mapping[int, int],
    ends: Mapping[int, int],
    to_offsets: Mapping[int, int] | None = None,
) -> list[PartitionPlan]:
    """The reset, as a pure function of what Kafka said.

    ``from_offsets`` / ``to_offsets``: per partition, the first offset at or after the time
    (``-1`` when there is none: the end).
    """
    plans = []
    for p in partitions:
        end = ends[p]
        start = from_offsets[p] if from_offsets[p] >= 0 else end
        current = committed.get(p)
        # Never forward: a group behind --from would skip records it has not read.
        target = start if current is None else min(current, start)
        fence = None
        if to_offsets is not None and current is not None:
            stop = to_offsets[p] if to_offsets[p] >= 0 else end
            if stop < current:
                fence = range(max(stop, target), current)
        plans.append(PartitionPlan(p, current, target, end, fence or None))
    return plans


def table(plans: Sequence[PartitionPlan], *, with_fence: bool) -> list[str]:
    header = ["partition", "current", "target", "replayed"]
    if with_fence:
        header.append("read, not re-emitted")
    rows = [header]
    for p in plans:
        row = [
            str(p.partition),
            "none" if p.current is None else str(p.current),
            str(p.target),
            str(p.replayed),
        ]
        if with_fence:
            row.append(str(p.fenced))
        rows.append(row)
    total = ["total", "", "", str(sum(p.replayed for p in plans))]
    if with_fence:
        total.append(str(sum(p.fenced for p in plans)))
    rows.append(total)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]


@dataclass(frozen=True, slots=True)
class Request:
    group: str
    topic: str
    from_ms: int
    to_ms: int | None
    #: The worker's group on the raw topic: the replay fence applies.
    worker: bool


def replay(
    settings: Settings, request: Request, *, dry_run: bool, out: Callable[[str], None] = print
) -> list[PartitionPlan]:
    config = kafka_clients.librdkafka(settings.kafka)
    admin = AdminClient(config)
    if request.to_ms is not None and not request.worker:
        raise ReplayError(
            "--to applies to the worker's group on the raw topic only: a downstream group's "
            "consumers read on past any offset; stop them at the time yourself (ce_time)"
        )
    if request.to_ms is not None and request.to_ms <= request.from_ms:
        raise ReplayError("--to must be later than --from")
    active = _active_members(admin, request.group)
    if active and not dry_run:
        raise ReplayError(active)
    plans = _plan(config, admin, request)
    window = f"from {iso(request.from_ms)}" + (
        f" to {iso(request.to_ms)}" if request.to_ms is not None else ""
    )
    verb = "would reset" if dry_run else "resetting"
    out(f"{verb} group {request.group} on {request.topic} {window}:")
    for line in table(plans, with_fence=request.to_ms is not None):
        out("  " + line)
    if dry_run:
        out("dry run: nothing changed")
        if active:
            out(f"note: the reset itself would be refused now: {active}")
        return plans
    if request.worker:
        _write_fence(admin, request, plans)
    _reset(admin, request.group, request.topic, plans)
    out(
        f"done: start the consumers of {request.group}"
        + (" (the workers); re-emitted events carry ce_replay=true" if request.worker else "")
    )
    return plans


def _active_members(admin: AdminClient, group: str) -> str | None:
    """Why the group cannot be reset now, or ``None`` when it has no members."""
    try:
        description = admin.describe_consumer_groups([group])[group].result(30)
    except KafkaException as exc:
        raise ReplayError(f"cannot describe group {group}: {exc.args[0].str()}") from None
    members = list(description.members or [])
    if members:
        who = ", ".join(f"{m.client_id} on {m.host}" for m in members[:5])
        more = f" and {len(members) - 5} more" if len(members) > 5 else ""
        return (
            f"group {group} has {len(members)} active member(s) ({who}{more}); offsets can only "
            "be reset while no consumer of the group runs.\n"
            "Stop them first: scale the worker StatefulSet/Deployment to 0 (kubectl scale "
            "statefulset/hookgate-worker --replicas=0) or stop every `hookgate worker` process "
            "of this group (for a downstream group: your consumers). A killed consumer stays a "
            "member until its session times out. Then run this again and start them."
        )
    return None


def _plan(config: dict[str, Any], admin: AdminClient, request: Request) -> list[PartitionPlan]:
    consumer = Consumer({**config, "group.id": "hookgate-replay-plan", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(request.topic, timeout=15).topics.get(request.topic)
        if metadata is None or metadata.error is not None:
            raise ReplayError(f"topic {request.topic} does not exist")
        partitions = sorted(metadata.partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(request.topic, p), timeout=15)[1]
            for p in partitions
        }

        def at(ms: int) -> dict[int, int]:
            found = consumer.offsets_for_times(
                [TopicPartition(request.topic, p, ms) for p in partitions], timeout=15
            )
            return {tp.partition: tp.offset for tp in found}

        from_offsets = at(request.from_ms)
        to_offsets = at(request.to_ms) if request.to_ms is not None else None
    except KafkaException as exc:
        raise ReplayError(f"Kafka: {exc.args[0].str()}") from None
    finally:
        consumer.close()
    committed = _committed(admin, request.group, request.topic, partitions)
    return plan(partitions, committed, from_offsets, ends, to_offsets)


def _committed(
    admin: AdminClient, group: str, topic: str, partitions: Sequence[int]
) -> dict[int, int | None]:
    query = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])
    try:
        result = admin.list_consumer_group_offsets([query])[group].result(30)
    except KafkaException as exc:
        raise ReplayError(f"cannot read the offsets of {group}: {exc.args[0].str()}") from None
    return {
        tp.partition: (None if tp.offset < 0 else tp.offset) for tp in result.topic_partitions or []
    }


def _write_fence(admin: AdminClient, request: Request, plans: Sequence[PartitionPlan]) -> None:
    group = replayfence.group(request.group)
    fenced = [p for p in plans if p.fence is not None]
    # The old fence goes in any case: it described an earlier replay's window.
    try:
        admin.delete_consumer_groups([group], request_timeout=30)[group].result(30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.GROUP_ID_NOT_FOUND:
            raise ReplayError(
                f"cannot clear the replay fence {group}: {exc.args[0].str()}"
            ) from None
    if not fenced:
        return
    offsets = [
        TopicPartition(
            request.topic, p.partition, p.fence.start, metadata=replayfence.metadata(p.fence.stop)
        )
        for p in fenced
        if p.fence is not None
    ]
    try:
        admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, offsets)])[
            group
        ].result(30)
    except KafkaException as exc:
        raise ReplayError(f"cannot write the replay fence {group}: {exc.args[0].str()}") from None


def _reset(admin: AdminClient, group: str, topic: str, plans: Sequence[PartitionPlan]) -> None:
    offsets = [TopicPartition(topic, p.partition, p.target) for p in plans]
    try:
        admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, offsets)])[
            group
        ].result(30)
    except KafkaException as exc:
        raise ReplayError(f"the broker refused the reset of {group}: {exc.args[0].str()}") from None
