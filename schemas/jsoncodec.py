"""JSON that keeps every integer exact.

Provider payloads carry integers beyond 2^53 (fal seeds) and sometimes beyond 64 bits. orjson
decodes integers past 64 bits as floats without a word, so decoding uses orjson and reads the
text again with the standard library (exact, arbitrary precision) when the result holds a float
at or beyond 2^63 (which may have been such an integer) or orjson refuses it, so that what is
accepted and every error read as they would with the standard library alone. Encoding tries
orjson first, falling back only when an integer is too large for it. NaN and Infinity are not
JSON, and numbers that overflow a float would become Infinity (written as null): all are
rejected rather than passed on.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


#: Integers orjson cannot hold come out as floats of at least this magnitude.
_INT64 = float(2**63)


def loads(data: bytes | str) -> Any:
    """Decode JSON text; integers stay exact. Raises ``ValueError`` on invalid input."""
    # orjson is ~4x faster than the standard library on a provider payload (the worker decodes
    # one or two per record); it refuses what the exact path below must judge (NaN, numbers
    # that overflow, lone surrogates, a BOM, deep nesting), so both accept the same texts.
    if isinstance(data, bytes):
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            if not _may_hold_a_long_integer(document):
                return document
    return json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)


def _may_hold_a_long_integer(document: Any) -> bool:
    # A walk over the values (a few dozen in a webhook) costs less than scanning the text.
    pending = [document]
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind is dict:
            pending.extend(value.values())
        elif kind is list:
            pending.extend(value)
        elif kind is float and (value >= _INT64 or value <= -_INT64):
            return True
    return False


class NotAnObject(ValueError):
    """Valid JSON, but not the object a reader asked for."""


def loads_object(data: bytes | str) -> dict[str, Any]:
    """Decode a JSON object (integers exact); ``NotAnObject`` for any other JSON value,
    ``ValueError`` (or ``RecursionError``, nested too deep) when it is not JSON at all."""
    document = loads(data)
    if not isinstance(document, dict):
        raise NotAnObject(f"JSON {type(document).__name__}, not an object")
    return document


def dumps(obj: Any) -> bytes:
    """Encode compactly as UTF-8."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        # orjson refuses integers beyond 64 bits; the standard library writes them exactly.
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate (half an emoji, which JSON text may carry as an escape) has no UTF-8
        # form: write it escaped again, as it came.
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()
