"""streams.app.create_app without a broker: what it prepares before Faust starts."""

from __future__ import annotations

from pathlib import Path

from schemas import config
from streams.app import create_app


def test_the_worker_creates_its_data_directory_with_its_parents(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "worker"
    settings = config.parse({"worker": {"data_dir": str(data_dir)}}, env={})
    create_app(settings)
    assert data_dir.is_dir()
