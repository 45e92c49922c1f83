"""Running the worker as a process (``hookgate worker``)."""

from __future__ import annotations

import asyncio

import faust
import uvloop

from schemas.config import Settings
from streams import replayfence
from streams.app import create_app
from streams.liveness import EXIT_STALLED, WorkerStalled


def run(settings: Settings, *, log_level: str = "info") -> None:
    # uvloop: the worker's single thread is the limit, and its loop is a measured share of it.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = create_app(settings, replay_fence=replayfence.read(settings))
    # Faust's Worker installs SIGTERM/SIGINT handlers and stops agents, tables and producers
    # in order; it exits non-zero if the app crashed.
    worker = faust.Worker(app, loglevel=log_level)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        # A stuck worker's own stop: its own status, so a supervisor can tell it apart.
        if isinstance(app.crash_reason, WorkerStalled):
            raise SystemExit(EXIT_STALLED) from None
        raise
