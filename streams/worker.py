"""Running the worker as a process (``hookgate worker``)."""

from __future__ import annotations

import faust

from schemas.config import Settings
from streams import replayfence
from streams.app import create_app


def run(settings: Settings, *, log_level: str = "info") -> None:
    app = create_app(settings, replay_fence=replayfence.read(settings))
    # Faust's Worker installs SIGTERM/SIGINT handlers and stops agents, tables and producers
    # in order; it exits non-zero if the app crashed.
    worker = faust.Worker(app, loglevel=log_level)
    worker.execute_from_commandline()
