"""W3C Trace Context parsing (schemas.tracecontext), against the specification's own examples.

Vectors from https://www.w3.org/TR/trace-context/ (sections 3.2 and 3.3) and the cases its test
suite (w3c/trace-context, test/test.py) sends: an invalid header is ignored, never an error.
"""

from __future__ import annotations

import pytest

from schemas import tracecontext

#: The specification's traceparent example (3.2.2.1) and its tracestate example (3.3.1).
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
EXAMPLE = f"00-{TRACE_ID}-{PARENT_ID}-01"
STATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


def test_the_specifications_example_is_read_field_by_field() -> None:
    context = tracecontext.parse(EXAMPLE)
    assert context is not None
    assert (context.trace_id, context.parent_id, context.flags) == (TRACE_ID, PARENT_ID, 1)


def test_the_sampled_flag_is_bit_zero_of_the_flags() -> None:
    sampled = tracecontext.parse(f"00-{TRACE_ID}-{PARENT_ID}-01")
    not_sampled = tracecontext.parse(f"00-{TRACE_ID}-{PARENT_ID}-00")
    assert sampled is not None
    assert sampled.sampled
    assert not_sampled is not None
    assert not not_sampled.sampled


def test_a_valid_traceparent_is_written_back_unchanged() -> None:
    context = tracecontext.parse(EXAMPLE)
    assert context is not None
    assert context.traceparent == EXAMPLE


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param(f"ff-{TRACE_ID}-{PARENT_ID}-01", id="version ff is forbidden"),
        pytest.param(f"0g-{TRACE_ID}-{PARENT_ID}-01", id="version not hex"),
        pytest.param(f"00-{'0' * 32}-{PARENT_ID}-01", id="all-zero trace id"),
        pytest.param(f"00-{TRACE_ID}-{'0' * 16}-01", id="all-zero parent id"),
        pytest.param(f"00-{TRACE_ID.upper()}-{PARENT_ID}-01", id="upper-case trace id"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID.upper()}-01", id="upper-case parent id"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID}-0G", id="flags not hex"),
        pytest.param(f"00-{TRACE_ID[:-1]}z-{PARENT_ID}-01", id="trace id not hex"),
        pytest.param(f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01", id="trace id too short"),
        pytest.param(f"00-{TRACE_ID}0-{PARENT_ID}-01", id="trace id too long"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID[:-1]}-01", id="parent id too short"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID}-1", id="flags too short"),
        pytest.param(f"00_{TRACE_ID}_{PARENT_ID}_01", id="wrong delimiter"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID}-01-", id="version 00 with a trailing dash"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID}-01-extra", id="version 00 with more fields"),
        pytest.param(f"cc-{TRACE_ID}-{PARENT_ID}-01.extra", id="later version, no dash after"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID[:-1]}é-01", id="non-ASCII"),
    ],
)
def test_an_invalid_traceparent_is_ignored(value: str) -> None:
    assert tracecontext.parse(value) is None


def test_a_later_version_is_read_by_its_first_four_fields_and_written_as_version_00() -> None:
    context = tracecontext.parse(f"cc-{TRACE_ID}-{PARENT_ID}-01-what-the-future-will-be-like")
    assert context is not None
    assert context.traceparent == EXAMPLE


def test_whitespace_around_the_value_is_not_part_of_it() -> None:
    context = tracecontext.parse(f" \t{EXAMPLE}\t ")
    assert context is not None
    assert context.traceparent == EXAMPLE


def test_the_specifications_tracestate_example_is_kept_in_order() -> None:
    context = tracecontext.parse(EXAMPLE, STATE)
    assert context is not None
    assert context.state == STATE


def test_a_multi_tenant_tracestate_key_is_valid() -> None:
    # Section 3.3.1.3.1: tenant@system keys.
    assert tracecontext.parse_tracestate("fw529a3039@dt=CwA,rojo=00f067aa0ba902b7") == (
        "fw529a3039@dt=CwA,rojo=00f067aa0ba902b7"
    )


def test_empty_tracestate_members_and_whitespace_around_them_are_dropped() -> None:
    assert tracecontext.parse_tracestate(" rojo=1 ,, \t,congo=2\t") == "rojo=1,congo=2"


def test_thirty_two_tracestate_members_are_valid() -> None:
    members = ",".join(f"k{i}=v" for i in range(32))
    assert tracecontext.parse_tracestate(members) == members


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(",".join(f"k{i}=v" for i in range(33)), id="33 members"),
        pytest.param("rojo=1,rojo=2", id="a key twice"),
        pytest.param("Rojo=1", id="upper-case key"),
        pytest.param("1rojo=1", id="simple key starting with a digit"),
        pytest.param("rojo", id="no equals sign"),
        pytest.param("rojo=", id="empty value"),
        pytest.param("rojo=a=b", id="equals sign in the value"),
        pytest.param("rojo=\x7f", id="control character in the value"),
        pytest.param("a@" + "b" * 15 + "=1", id="system id too long"),
        pytest.param(",", id="no member at all"),
    ],
)
def test_an_invalid_tracestate_is_ignored(value: str) -> None:
    assert tracecontext.parse_tracestate(value) is None


def test_an_invalid_tracestate_is_dropped_and_the_traceparent_kept() -> None:
    context = tracecontext.parse(EXAMPLE, "rojo=1,rojo=2")
    assert context is not None
    assert (context.traceparent, context.state) == (EXAMPLE, "")


def test_a_tracestate_without_a_valid_traceparent_is_ignored_with_it() -> None:
    assert tracecontext.parse(f"00-{'0' * 32}-{PARENT_ID}-01", STATE) is None


def test_a_new_trace_is_a_valid_unsampled_traceparent() -> None:
    context = tracecontext.new()
    assert tracecontext.parse(context.traceparent) == context
    assert not context.sampled


def test_new_traces_have_distinct_ids() -> None:
    contexts = [tracecontext.new() for _ in range(100)]
    assert len({c.trace_id for c in contexts}) == 100
    assert len({c.parent_id for c in contexts}) == 100
