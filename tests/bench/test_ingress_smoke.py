"""The ingress benchmark's smoke run (``bench/ingress.py --smoke``), so that it never rots.

Every part runs once, for a second, against the session's real broker: the bare and hand-written
servers, ``hookgate ingress`` (one process, and two with ``--workers 2``) with both sources, the
producer loop, the open-loop load generator and the end-to-end timing through a real worker.
Nothing here asserts a timing; what is asserted is that each part measured something and that
every answer was a 2xx.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import REPO

ROOT = REPO

pytestmark = pytest.mark.kafka


def test_the_smoke_run_measures_every_part_with_only_2xx_answers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    out = tmp_path / "smoke.json"
    command = [sys.executable, "bench/ingress.py", "--smoke", "--bootstrap", kafka_bootstrap]
    done = subprocess.run(
        [*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(out.read_text())

    assert set(results["throughput"]) == {
        "bare/hmac/1k",
        "handwritten/hmac/1k",
        "default/hmac/1k",
        "default/ed25519/1k",
        "tuned-2p/hmac/1k",
        "tuned-2p/ed25519/1k",
        "produce/-/1k",
    }
    for cell, figures in results["throughput"].items():
        assert figures["median"] > 0, cell
        assert figures["non_2xx"] == 0, (cell, figures)
    assert set(results["latency"]) == {"default/hmac/1k@50", "default/hmac/1k@80"}
    for cell, figure in results["latency"].items():
        assert figure["requests"] > 0, cell
        assert set(figure["statuses"]) == {"200"}, (cell, figure)
    e2e = results["end_to_end"]
    assert e2e["after_2xx"]["count"] > 0
    assert e2e["canonical_missing"] == 0
    assert "| default | hmac | 1k |" in out.with_suffix(".md").read_text()
