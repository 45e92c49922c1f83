"""The benchmarks' smoke runs (``bench/ingress.py --smoke``, ``bench/worker_throughput.py
--smoke``), so that they never rot.

The ingress's: every part runs once, for a second, against the session's real broker: the
bare and hand-written servers, ``hookgate ingress`` (one process, and two with ``--workers 2``)
with both sources, the producer loop, the open-loop load generator and the end-to-end timing
through a real worker. The worker's: every row once with a few hundred events (the
consume→produce loop, the worker's logic without Faust, one ingress process under wrk, the
worker in both modes, and two worker processes). And ``bench/ingress_ab.py``: two revisions
(the commit checked out and the working tree, without its log line) served at once, a round
of a second.

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


def test_the_worker_smoke_run_measures_every_row(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "worker.json"
    command = [
        sys.executable,
        "bench/worker_throughput.py",
        "--smoke",
        "--bootstrap",
        kafka_bootstrap,
    ]
    done = subprocess.run(
        [*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(out.read_text())

    assert set(results["rows"]) == {
        "consume-produce",
        "logic-without-faust",
        "ingress",
        "worker/exactly_once/1p",
        "worker/exactly_once/2p",
        "worker/at_least_once/1p",
    }
    for row, figures in results["rows"].items():
        assert figures["median"] > 0, row
        (figure,) = figures["rounds"]
        assert len(figure["load_average"]) == 2, row
    logic = results["rows"]["logic-without-faust"]["rounds"][0]
    assert logic["outcomes"] == {"emitted": logic["events"]}
    assert results["rows"]["ingress"]["rounds"][0]["non_2xx"] == 0
    assert results["rows"]["worker/exactly_once/1p"]["rounds"][0]["duplicates"] == 0
    (two,) = results["rows"]["worker/exactly_once/2p"]["rounds"]
    assert all(two["assignment"]), two["assignment"]
    assert results["ratios"]["eos_over_ingress"]["median_ratio"] > 0
    (round_,) = results["rounds"]
    assert round_["load_average_start"]
    assert round_["load_average_end"]
    assert "| `hookgate worker` exactly_once, 1 process |" in out.with_suffix(".md").read_text()


def test_the_ab_run_serves_two_revisions_at_once_with_only_2xx_answers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    out = tmp_path / "ab.json"
    command = [sys.executable, "bench/ingress_ab.py", "HEAD", ".+nolog", "--rounds", "1"]
    done = subprocess.run(
        [*command, "--seconds", "1", "--bootstrap", kafka_bootstrap, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(out.read_text())["summary"]
    assert list(summary) == ["0:HEAD", "1:.+nolog"]
    for name, figures in summary.items():
        assert figures["cpu_us_per_request"] > 0, name
        assert figures["non_2xx"] == 0, (name, figures)
