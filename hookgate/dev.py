"""``hookgate dev``: the whole pipeline on one machine, in one command.

Starts the local broker (unless the config names a cluster), ensures the topics, runs the ingress
and the worker as child processes, waits until the ingress is ready, prints what to try, and on
Ctrl-C (or SIGTERM) stops the children and the broker it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from hookgate import topics
from hookgate.kafka_local import LocalKafka
from schemas.config import Settings
from streams.liveness import EXIT_STALLED


class DevError(Exception):
    """A part of the local pipeline did not come up."""


def local_kafka(progress: Callable[[str], None] = print) -> LocalKafka:
    home = Path(os.environ.get("HOOKGATE_HOME", ".hookgate")) / "kafka"
    return LocalKafka(home, progress=progress)


def run(settings: Settings, config_path: Path, progress: Callable[[str], None] = print) -> int:
    broker: LocalKafka | None = None
    children: list[subprocess.Popen[bytes]] = []
    with _stop_on_sigterm():
        try:
            if settings.kafka.uses_local_broker:
                kafka = local_kafka(progress)
                if not kafka.status().running:
                    broker = kafka  # ours to stop at the end; one already running is left alone
                kafka.start()
            else:
                progress(f"using the Kafka cluster at {settings.kafka.bootstrap}")
            progress("ensuring topics:")
            topics.ensure(settings, progress)
            children.extend(_start(role, config_path) for role in ("ingress", "worker"))
            _wait_ready(settings, children)
            _banner(settings, config_path, progress)
            while True:
                time.sleep(0.5)
                worker = children[1]
                if worker.poll() == EXIT_STALLED:
                    # The worker stopped itself for being stuck: restart it, as a deployment's
                    # supervisor does (README, Liveness).
                    progress("the worker stopped itself for being stuck; restarting it")
                    children[1] = _start("worker", config_path)
                    continue
                failed = next((c for c in children if c.poll() is not None), None)
                if failed is not None:
                    progress(f"a child process exited with status {failed.returncode}; stopping")
                    return 1
        except KeyboardInterrupt:
            progress("\nstopping hookgate dev ...")
            return 0
        finally:
            # Whatever failed or was interrupted, nothing this command started outlives it;
            # a second Ctrl-C or SIGTERM here is ignored so the clean-up runs to the end.
            with _ignoring_interrupts():
                _terminate(children)
                if broker is not None:
                    broker.stop()


def _start(role: str, config_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hookgate", role, "--config", str(config_path)])


def _wait_ready(
    settings: Settings, children: list[subprocess.Popen[bytes]], timeout: float = 90.0
) -> None:
    url = f"{settings.ingress.local_url}/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise DevError("the ingress or the worker exited during start-up (see its output)")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our http URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise DevError(f"the ingress was not ready at {url} within {timeout:.0f} s")


def _banner(settings: Settings, config_path: Path, progress: Callable[[str], None]) -> None:
    base = settings.ingress.local_url
    first = next(iter(settings.sources), "SOURCE")
    progress(f"""
hookgate is running.
  ingress:  {base}/webhooks/<source>   (sources: {", ".join(settings.sources) or "none"})
  metrics:  {base}/metrics  and  http://127.0.0.1:{settings.worker.web_port}/metrics (worker)
  kafka:    {settings.kafka.bootstrap}

In another terminal:
  hookgate send {first} --config {config_path}        # sign a sample delivery and POST it
  hookgate tail canonical --config {config_path}      # watch the canonical events come out

Ctrl-C stops everything.
""")


def _terminate(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    previous = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
