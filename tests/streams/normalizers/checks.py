"""What the normalizer tests share: the canonical contract every event is checked against, the
times the deliveries carry, malformed bodies and type confusion, and the bundled samples."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import hookgate
from schemas import canonical, published
from schemas.raw import RawDelivery
from streams import normalizers
from streams.normalizers import jobs

CANONICAL_SCHEMA = jsonschema.Draft202012Validator(published.load(published.CANONICAL_EVENT))
JOB_SCHEMA = jsonschema.Draft202012Validator(published.load(published.JOB_EVENT_DATA))
PREFIX = canonical.DEFAULT_TYPE_PREFIX
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SIGNED_AT = 1_795_000_000  # 2026-11-18T11:06:40Z
SIGNED_TIME = "2026-11-18T11:06:40.000Z"
RECEIVED_AT_MS = 1_795_000_003_456
RECEIVED_TIME = "2026-11-18T11:06:43.456Z"


def normalize(raw: RawDelivery) -> canonical.CanonicalEvent:
    return normalizers.normalize(raw, PREFIX)


def check_schemas(event: canonical.CanonicalEvent) -> None:
    CANONICAL_SCHEMA.validate(event.to_structured())
    assert event.time is not None
    assert RFC3339_MS.match(event.time)
    if event.type.startswith(f"{PREFIX}job."):
        assert event.dataschema == published.JOB_EVENT_DATA
        JOB_SCHEMA.validate(event.data)
        for name in jobs.MOMENTS:
            if name in event.data["timings"]:
                assert RFC3339_MS.match(event.data["timings"][name])


#: The bodies no normalizer takes: each fails with NormalizationFailed, never another exception.
MALFORMED = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"status": "OK", ', id="truncated"),
    pytest.param(b'\xff{"status": "OK"}', id="not-utf8"),
    pytest.param(b'{"status": "OK", "seed": NaN}', id="nan"),
    pytest.param(b'{"status": "OK", "seed": 1e400}', id="float-overflow"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="too-deep"),
    pytest.param(b"[]", id="array"),
    pytest.param(b"null", id="null"),
    pytest.param(b'"OK"', id="string"),
]


CONFUSION = [None, True, 0, -1, 1.5, "", "x", [], [None], {}, {"url": 1}, [{"url": None}]]


def mutations(body: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every (path, value) that replaces one field, at any depth, by a value of another type."""
    found: list[tuple[tuple[str, ...], Any]] = []
    if isinstance(body, dict):
        for name, value in body.items():
            found.extend(((*path, name), confused) for confused in CONFUSION)
            found.extend(mutations(value, (*path, name)))
    return found


def mutated(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    holder = copied
    for name in path[:-1]:
        holder = holder[name]
    holder[path[-1]] = value
    return copied


#: The bundled sample bodies (hookgate/samples/).
SAMPLES = Path(hookgate.__file__).parent / "samples"
