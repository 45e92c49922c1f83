"""``hookgate worker`` whose raw reader never hands over a record although records wait: the
symptom of the stuck worker (RELIABILITY.md), made on purpose, so the worker's liveness check
(``streams/liveness.py``) can be shown to notice it.

Run as ``python -m tests.e2e.stalling_worker worker --config F``, like ``hookgate``.
"""

from __future__ import annotations

import sys

from streams.pipeline import RawRecord
from streams.raw_reader import RawReader


def _take_nothing(self: RawReader, limit: int) -> list[RawRecord]:
    return []


RawReader.take = _take_nothing  # type: ignore[method-assign]

if __name__ == "__main__":
    from hookgate.cli import main

    sys.exit(main(sys.argv[1:]))
