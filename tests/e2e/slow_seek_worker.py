"""``hookgate worker`` whose agent is busy while Faust seeks after a table recovery.

Faust resumes the stream partitions before that seek and its flow control after it; records
fetched in between wait in the agent's queue when the agent is busy (a loaded machine), which is
the window of the stuck worker in RELIABILITY.md. Here the seek takes 3 s and the agent takes
no record meanwhile, so a test can open that window at will.

Run as ``python -m tests.e2e.slow_seek_worker worker --config F``, like ``hookgate``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from faust.transport.consumer import Consumer

from streams.pipeline import RawRecord
from streams.runner import Runner

_seek_done = asyncio.Event()
_seek_done.set()
_perform_seek = Consumer.perform_seek
_handle_batch = Runner.handle_batch


async def _slow_perform_seek(self: Consumer) -> None:
    _seek_done.clear()
    try:
        await asyncio.sleep(3)
        await _perform_seek(self)
    finally:
        _seek_done.set()


async def _handle_after_seek(self: Runner, records: Sequence[RawRecord]) -> None:
    await _seek_done.wait()
    await _handle_batch(self, records)


Consumer.perform_seek = _slow_perform_seek  # type: ignore[method-assign]
Runner.handle_batch = _handle_after_seek  # type: ignore[method-assign]

if __name__ == "__main__":
    from hookgate.cli import main

    sys.exit(main(sys.argv[1:]))
