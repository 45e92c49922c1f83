"""streams.app.create_app without a broker: what it prepares before Faust starts."""

from __future__ import annotations

from pathlib import Path

from mode.utils.queues import FlowControlQueue

from schemas import config
from streams.app import create_app


def test_the_worker_creates_its_data_directory_with_its_parents(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "worker"
    settings = config.parse({"worker": {"data_dir": str(data_dir)}}, env={})
    create_app(settings)
    assert data_dir.is_dir()


def queued_after(*steps: str) -> int:
    """How many of two queued records are left after the app's flow control takes ``steps``."""
    app = create_app(config.parse({}, env={}))
    flow = app.flow_control
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()
    queue.put_nowait(1)
    queue.put_nowait(2)
    for step in steps:
        getattr(flow, step)()
    return queue.qsize()


def test_a_resume_while_records_flow_keeps_the_queued_records() -> None:
    assert queued_after("resume") == 2


def test_a_resume_after_a_suspension_drops_the_stale_records() -> None:
    assert queued_after("suspend", "resume") == 0
