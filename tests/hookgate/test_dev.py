"""``hookgate dev`` (the Quickstart's first command) against a cluster named in the config: it
brings up the topics, the ingress and the worker, a delivery comes out canonical, and Ctrl-C
(SIGTERM here) stops everything it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support import Stack, canonical_ids, read_canonical, wait_until

pytestmark = pytest.mark.kafka


@dataclass
class DevRun:
    output: str
    exit_code: int
    canonical: list[str]
    ingress_port_open_after: bool


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def dev_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevRun]:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("dev"))
    log = stack.workdir / "dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hookgate", "dev", "--config", str(stack.config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
        )
    try:
        wait_until(lambda: "hookgate is running." in log.read_text(), 120, "the banner")
        body = json.dumps({"type": "job.done", "data": {"id": "msg_dev"}}).encode()
        assert stack.post(body, event_id="msg_dev").status_code == 200
        canonical = wait_until(
            lambda: canonical_ids(read_canonical(stack)), 90, "the canonical event"
        )
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(90)
        yield DevRun(log.read_text(), exit_code, canonical, port_open(stack.ingress_port))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_dev_ensures_the_topics_of_the_config(dev_run: DevRun) -> None:
    assert "ensuring topics:" in dev_run.output


def test_dev_prints_where_to_send_and_how_to_watch(dev_run: DevRun) -> None:
    assert "hookgate send e2e" in dev_run.output
    assert "hookgate tail canonical" in dev_run.output


def test_a_delivery_to_devs_ingress_comes_out_canonical(dev_run: DevRun) -> None:
    assert dev_run.canonical == ["msg_dev"]


def test_sigterm_stops_dev_cleanly(dev_run: DevRun) -> None:
    assert dev_run.exit_code == 0


def test_dev_leaves_no_ingress_behind(dev_run: DevRun) -> None:
    assert not dev_run.ingress_port_open_after
