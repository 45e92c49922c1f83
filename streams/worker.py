"""Running the worker as a process (``hookgate worker``)."""

from __future__ import annotations

import asyncio

import faust
import uvloop

from schemas.config import Settings
from streams import replayfence
from streams.app import create_app


def run(settings: Settings, *, log_level: str = "info") -> None:
    # uvloop: the worker's single thread is the limit, and its loop is a measured share of it.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = create_app(settings, replay_fence=replayfence.read(settings))
    # Faust's Worker installs SIGTERM/SIGINT handlers and stops agents, tables and producers
    # in order; it exits non-zero if the app crashed.
    worker = faust.Worker(app, loglevel=log_level)
    worker.execute_from_commandline()
