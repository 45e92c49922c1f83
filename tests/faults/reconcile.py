"""Accepted against canonical: what a run proved, and what it was expected to prove.

Pure functions over what the sender and the observers saw, so they are unit-tested on their own
(tests/faults/test_reconcile.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tests.faults.observe import CANONICAL_SOURCE, Outputs


@dataclass
class Result:
    scenario: str
    guarantee: str
    seed: int
    #: Distinct events the sender meant to deliver, and HTTP requests it made (copies, retries).
    sent: int = 0
    requests: int = 0
    #: Distinct event ids that got at least one 2xx.
    accepted: int = 0
    #: Accepted ids with neither a canonical event nor a dead letter.
    lost: int = 0
    #: Canonical records beyond the first per (ce_source, ce_id), and the ids they belong to.
    duplicated: int = 0
    duplicated_ids: int = 0
    dead_lettered: int = 0
    #: Out although never 2xx'd (the answer was lost, e.g. an ingress killed after the ack):
    #: allowed, a sender retrying would have been accepted.
    out_not_accepted: int = 0
    #: Out, but never sent by this run: a harness or topic mix-up.
    unexpected: int = 0
    given_up: int = 0
    refused: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    worker_restarts: int = 0
    unplanned_restarts: int = 0
    ingress_restarts: int = 0
    broker_restarts: int = 0
    #: Workers SIGKILLed and restarted because nothing came out for too long (stuck).
    liveness_restarts: int = 0
    #: After everything accepted was out: the group's committed offsets lagged the raw topic's
    #: end for longer than the threshold.
    commit_stall: bool = False
    #: Seconds from "everything out" to "committed offsets at the end"; None if never.
    commit_catchup_s: float | None = None
    max_commit_standstill_s: float = 0.0
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Read back :meth:`as_dict`'s output (extra keys, e.g. from ``--json``, ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def summary(self) -> str:
        catchup = "never" if self.commit_catchup_s is None else f"{self.commit_catchup_s:.1f} s"
        return (
            f"{self.scenario} [{self.guarantee}, seed {self.seed}]: sent {self.sent}, "
            f"accepted {self.accepted} ({self.requests} requests), lost {self.lost}, "
            f"duplicated {self.duplicated} ({self.duplicated_ids} ids), "
            f"dead-lettered {self.dead_lettered}, out-not-accepted {self.out_not_accepted}, "
            f"given up {self.given_up}, refused {self.refused}; restarts: worker "
            f"{self.worker_restarts} (+{self.unplanned_restarts} unplanned), ingress "
            f"{self.ingress_restarts}, broker {self.broker_restarts}, liveness "
            f"{self.liveness_restarts}; commit stall "
            f"{'YES' if self.commit_stall else 'no'} (caught up after {catchup}, longest "
            f"standstill {self.max_commit_standstill_s:.1f} s); {self.duration_s:.0f} s"
        )


#: Columns of RELIABILITY.md's tables, as printed by :func:`markdown_table`.
_COLUMNS = (
    "scenario",
    "sent / accepted (requests)",
    "lost",
    "duplicated (ids)",
    "dead-lettered",
    "commit stall (catch-up)",
    "longest commit standstill",
    "restarts: worker (+unplanned) / ingress / broker / liveness",
    "duration",
)


def markdown_table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for r in results:
        catchup = "never" if r.commit_catchup_s is None else f"{r.commit_catchup_s:.0f} s"
        cells = (
            r.scenario,
            f"{r.sent} / {r.accepted} ({r.requests})",
            str(r.lost),
            f"{r.duplicated} ({r.duplicated_ids})",
            str(r.dead_lettered),
            f"{'**yes**' if r.commit_stall else 'no'} ({catchup})",
            f"{r.max_commit_standstill_s:.0f} s",
            f"{r.worker_restarts} (+{r.unplanned_restarts}) / {r.ingress_restarts} / "
            f"{r.broker_restarts} / {r.liveness_restarts}",
            f"{r.duration_s:.0f} s",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reconcile(result: Result, sent: set[str], accepted: set[str], outputs: Outputs) -> Result:
    """Fill ``result``'s counts from the ids sent and accepted and the outputs read back."""
    ours = {
        event_id: count
        for (source, event_id), count in outputs.canonical.items()
        if source == CANONICAL_SOURCE
    }
    out = set(ours) | set(outputs.dead_letters)
    foreign = sum(n for (source, _), n in outputs.canonical.items() if source != CANONICAL_SOURCE)
    result.sent = len(sent)
    result.accepted = len(accepted)
    result.lost = len(accepted - out)
    result.duplicated = sum(count - 1 for count in ours.values())
    result.duplicated_ids = sum(1 for count in ours.values() if count > 1)
    result.dead_lettered = sum(outputs.dead_letters.values())
    result.out_not_accepted = len((out & sent) - accepted)
    result.unexpected = len(out - sent) + foreign
    if outputs.dead_letter_reasons:
        result.notes.append(f"dead-letter reasons: {dict(outputs.dead_letter_reasons)}")
    return result


@dataclass(frozen=True)
class Expectation:
    """What a run must show. Nothing lost is always expected; the rest depends on the worker."""

    #: 0 duplicated canonical records (the worker runs exactly-once for read_committed readers).
    no_duplicates: bool
    #: Committed offsets catch up within the threshold once everything is out.
    no_commit_stall: bool
    #: No worker gets stuck (needs a liveness restart). Not required yet: a worker sometimes
    #: stops taking records after a start or rebalance until it is restarted (RELIABILITY.md,
    #: open problems); the count is reported either way.
    no_stuck_workers: bool = False

    @classmethod
    def for_guarantee(cls, guarantee: str) -> Expectation:
        exactly_once = guarantee == "exactly_once"
        return cls(no_duplicates=exactly_once, no_commit_stall=exactly_once)

    def failures(self, result: Result) -> list[str]:
        found = []
        if result.lost:
            found.append(f"{result.lost} accepted deliveries lost")
        if result.dead_lettered:
            found.append(f"{result.dead_lettered} valid deliveries dead-lettered")
        if result.unexpected:
            found.append(f"{result.unexpected} records out that this run never sent")
        if result.refused:
            found.append(f"{result.refused} deliveries refused with an answer no sender retries")
        if result.given_up:
            found.append(f"{result.given_up} deliveries never accepted (sender gave up)")
        if self.no_duplicates and result.duplicated:
            found.append(f"{result.duplicated} duplicated canonical records")
        if self.no_commit_stall and result.commit_stall:
            found.append("committed offsets stalled after everything was out")
        if self.no_stuck_workers and result.liveness_restarts:
            found.append(f"workers stuck, restarted {result.liveness_restarts} times")
        return found
