"""The JSON codec reads what the standard library reads, integers exact (schemas/jsoncodec.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import jsoncodec


def _exact(data: bytes) -> Any:
    # The reading the codec promises: the standard library's, NaN/Infinity/overflow refused.
    def refuse(name: str) -> Any:
        raise ValueError(name)

    def finite(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(text)
        return value

    return json.loads(data, parse_constant=refuse, parse_float=finite)


def _same(data: bytes) -> None:
    try:
        expected = _exact(data)
    except (ValueError, RecursionError) as exc:
        with pytest.raises(type(exc) if isinstance(exc, RecursionError) else ValueError):
            jsoncodec.loads(data)
        return
    got = jsoncodec.loads(data)
    assert got == expected
    assert repr(got) == repr(expected)  # same types too: 1 stays int, 1.0 stays float


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_any_json_document_reads_as_the_standard_library_reads_it(value: Any) -> None:
    _same(json.dumps(value).encode())


@given(st.binary(max_size=64))
def test_any_bytes_read_as_the_standard_library_reads_them_or_fail_the_same_way(
    data: bytes,
) -> None:
    _same(data)


@pytest.mark.parametrize(
    "text",
    [
        b'{"seed": 18446744073709551617}',
        b'{"seed": -9223372036854775809}',
        b'{"seed": 9223372036854775807}',
        b'{"seed": -9223372036854775808}',
        b'{"seed": 18446744073709551615}',
        b'{"seed": 1' + b"0" * 400 + b"}",
        b'{"n": 1e19, "m": [-1e19]}',
        b'{"n": 1e400}',
        b'{"n": NaN}',
        b'{"s": "\\ud800"}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": 1, "a": 2.5}',
        b'{"n": -0}',
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_edge_cases_read_as_the_standard_library_reads_them(text: bytes) -> None:
    _same(text)


def test_an_integer_beyond_64_bits_stays_exact() -> None:
    assert jsoncodec.loads(b'{"seed": 123456789012345678901234567890}') == {
        "seed": 123456789012345678901234567890
    }
