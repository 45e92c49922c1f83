"""The stage's whole output is what ``stage_outputs.json`` recorded, byte for byte.

One case per raw record of the fixture (every provider's sample as the ingress writes it, and
records with their trace context, times or headers changed, or refused): the outcome, the
de-duplication entry, and the canonical event's or dead letter's key, value and every header in
order. A change meant to leave the output alone must pass this unchanged; one meant to change it
rewrites the fixture (``tests/streams/stage_outputs.py`` says how) and shows every byte it moved.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.streams.stage_outputs import load, record_of, run

CASES = load()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_stage_gives_the_recorded_output(case: dict[str, Any]) -> None:
    assert run(record_of(case["record"]), case["seen"]) == case["result"]
