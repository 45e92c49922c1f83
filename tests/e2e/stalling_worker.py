"""``hookgate worker`` whose consumer never resumes the raw topic's partitions after a
rebalance: the symptom of the stuck worker (RELIABILITY.md), made on purpose, so the worker's
liveness check (``streams/liveness.py``) can be shown to notice it.

Run as ``python -m tests.e2e.stalling_worker worker --config F``, like ``hookgate``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from faust.transport.consumer import Consumer
from faust.types import TP

_resume = Consumer.resume_partitions


def _resume_all_but_raw(self: Consumer, tps: Iterable[TP]) -> None:
    _resume(self, {tp for tp in tps if not tp.topic.endswith(".raw")})


Consumer.resume_partitions = _resume_all_but_raw  # type: ignore[method-assign]

if __name__ == "__main__":
    from hookgate.cli import main

    sys.exit(main(sys.argv[1:]))
