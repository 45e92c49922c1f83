"""The harness's own arithmetic: what counts as lost, duplicated, dead-lettered, expected."""

from __future__ import annotations

from collections import Counter

from tests.faults.observe import CANONICAL_SOURCE, Outputs
from tests.faults.reconcile import Expectation, Result, reconcile
from tests.faults.sender import MAX_COPIES, MIN_COPIES, plan


def outputs(*ids: str, dead: tuple[str, ...] = (), source: str = CANONICAL_SOURCE) -> Outputs:
    return Outputs(
        canonical=Counter((source, event_id) for event_id in ids),
        dead_letters=Counter(dead),
    )


def counted(sent: set[str], accepted: set[str], out: Outputs) -> Result:
    return reconcile(Result("test", "at_least_once", 0), sent, accepted, out)


def test_an_accepted_delivery_with_no_output_is_lost() -> None:
    result = counted({"a", "b"}, {"a", "b"}, outputs("a"))
    assert result.lost == 1


def test_a_dead_lettered_delivery_is_counted_as_such_not_as_lost() -> None:
    result = counted({"a", "b"}, {"a", "b"}, outputs("a", dead=("b",)))
    assert (result.lost, result.dead_lettered) == (0, 1)


def test_every_canonical_record_beyond_the_first_per_id_is_a_duplicate() -> None:
    result = counted({"a", "b"}, {"a", "b"}, outputs("a", "a", "a", "b", "b"))
    assert (result.duplicated, result.duplicated_ids) == (3, 2)


def test_output_of_a_delivery_never_acknowledged_is_allowed_and_counted() -> None:
    result = counted({"a", "b"}, {"a"}, outputs("a", "b"))
    assert (result.lost, result.out_not_accepted, result.unexpected) == (0, 1, 0)


def test_events_of_another_source_or_never_sent_are_unexpected() -> None:
    out = outputs("a", "zzz")
    out.canonical[("/hookgate/other", "a")] += 1
    assert counted({"a"}, {"a"}, out).unexpected == 2


def test_at_least_once_tolerates_duplicates_and_stalls_but_never_loss() -> None:
    expectation = Expectation.for_guarantee("at_least_once")
    result = counted({"a", "b"}, {"a", "b"}, outputs("a", "a"))
    result.commit_stall = True
    assert expectation.failures(result) == ["1 accepted deliveries lost"]


def test_exactly_once_fails_on_a_single_duplicate_or_a_commit_stall() -> None:
    expectation = Expectation.for_guarantee("exactly_once")
    result = counted({"a"}, {"a"}, outputs("a", "a"))
    result.commit_stall = True
    assert expectation.failures(result) == [
        "1 duplicated canonical records",
        "committed offsets stalled after everything was out",
    ]


def test_a_quarter_of_the_plan_is_sent_two_to_five_times() -> None:
    deliveries = plan(4000, seed=3)
    repeated = [d for d in deliveries if d.copies > 1]
    assert 0.22 < len(repeated) / len(deliveries) < 0.28
    assert {d.copies for d in repeated} == set(range(MIN_COPIES, MAX_COPIES + 1))
    assert any(d.concurrent for d in repeated)
    assert not any(d.concurrent for d in deliveries if d.copies == 1)


def test_the_plan_is_the_same_for_the_same_seed_and_ids_are_distinct() -> None:
    assert plan(50, seed=9) == plan(50, seed=9)
    assert len({d.event_id for d in plan(50, seed=9)}) == 50
