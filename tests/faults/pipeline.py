"""One Hookgate configuration (own topics, consumer group and ports) and the processes running it.

Every process is a real ``hookgate ingress`` or ``hookgate worker`` subprocess, as an operator
runs them. They share one config file; what differs per process (the ingress port, the worker's
web port and data directory) comes from the documented environment overrides, so several of
each run side by side. ``worker.guarantee`` is written into the file only when asked for: main's
config loader refuses keys it does not know.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from hookgate.topics import ensure
from schemas import config
from tests.support import free_ports

#: The source every fault scenario sends to, signed with SECRET (Standard Webhooks).
SOURCE = "faults"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
GUARANTEES = ("exactly_once", "at_least_once")


class PipelineError(Exception):
    """A process could not be started, did not become ready, or did not stop."""


@dataclass
class Pipeline:
    bootstrap: str
    workdir: Path
    #: Written as ``worker.guarantee`` when set; ``None`` leaves the worker's default.
    guarantee: str | None = None
    raw_partitions: int = 3
    ingress_count: int = 2
    worker_slots: int = 2
    delivery_timeout_ms: int = 3000
    name: str = field(default_factory=lambda: f"f{uuid.uuid4().hex[:8]}")
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Restarts by role after an unplanned exit (a worker that crashed itself, e.g.).
    unplanned_exits: dict[str, int] = field(default_factory=dict)
    #: Names of processes that are meant to be running.
    wanted: set[str] = field(default_factory=set)
    #: When a worker was last started (monotonic clock).
    last_worker_start: float = 0.0

    def __post_init__(self) -> None:
        if self.guarantee is not None and self.guarantee not in GUARANTEES:
            raise PipelineError(f"guarantee {self.guarantee!r}: use one of {GUARANTEES}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(self.ingress_count + self.worker_slots)
        self.ingress_ports = ports[: self.ingress_count]
        self.worker_ports = ports[self.ingress_count :]
        worker: dict[str, Any] = {
            "app_id": f"hookgate-{self.name}",
            "data_dir": str(self.workdir / "worker"),
            "web_port": self.worker_ports[0],
        }
        if self.guarantee is not None:
            worker["guarantee"] = self.guarantee
        document = {
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "delivery_timeout_ms": self.delivery_timeout_ms,
            },
            "topics": {
                "raw": {"name": f"{self.name}.raw", "partitions": self.raw_partitions},
                "canonical": {"name": f"{self.name}.canonical", "partitions": 3},
                "dead_letter": {"name": f"{self.name}.dlq", "partitions": 1},
            },
            "ingress": {"host": "127.0.0.1", "port": self.ingress_ports[0]},
            "worker": worker,
            "sources": [{"name": SOURCE, "provider": "standard-webhooks", "secrets": [SECRET]}],
        }
        self.config_path = self.workdir / "hookgate.yaml"
        self.config_path.write_text(yaml.safe_dump(document))
        self.settings = config.load(self.config_path, env={})

    # -- names --------------------------------------------------------------------------------

    @property
    def group(self) -> str:
        return self.settings.worker.app_id

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ingress_ports]

    def ensure_topics(self) -> None:
        ensure(self.settings, progress=lambda line: None)

    # -- processes ----------------------------------------------------------------------------

    def start(self, name: str) -> None:
        """Start ``ingress-N`` or ``worker-N``."""
        role, _, index = name.partition("-")
        # Only this file and the overrides below configure it, whatever the caller's shell has.
        overrides = {*config.ENV_OVERRIDES, "HOOKGATE_CONFIG"}
        env = {k: v for k, v in os.environ.items() if k not in overrides}
        if role == "ingress":
            env["HOOKGATE_INGRESS_PORT"] = str(self.ingress_ports[int(index)])
            level = "WARNING"  # the per-delivery log line would cost the sender's throughput
        elif role == "worker":
            env["HOOKGATE_WORKER_WEB_PORT"] = str(self.worker_ports[int(index)])
            env["HOOKGATE_WORKER_DATA_DIR"] = str(self.workdir / name)
            level = "info"
        else:
            raise PipelineError(f"unknown process {name!r}")
        if name in self.processes and self.processes[name].poll() is None:
            raise PipelineError(f"{name} is already running")
        with self.log_path(name).open("ab") as log:
            log.write(f"\n==== {time.strftime('%H:%M:%S')} start {name}\n".encode())
            log.flush()
            self.processes[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hookgate",
                    role,
                    "--config",
                    str(self.config_path),
                    "--log-level",
                    level,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.wanted.add(name)
        if role == "worker":
            self.last_worker_start = time.monotonic()

    def kill(self, name: str, signum: signal.Signals = signal.SIGKILL, timeout: float = 30) -> int:
        """Send ``signum`` and wait for the exit (SIGKILL after ``timeout``); return the code."""
        self.wanted.discard(name)
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise PipelineError(
                f"{name} did not exit within {timeout:g} s of {signum.name}"
            ) from None

    def stop_all(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL); never raises."""
        self.wanted.clear()
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def supervise(self) -> list[str]:
        """Restart wanted processes that exited on their own, as an orchestrator would."""
        restarted = []
        for name in sorted(self.wanted):
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                self.unplanned_exits[name] = self.unplanned_exits.get(name, 0) + 1
                self.start(name)
                restarted.append(f"{name} (exit {process.returncode})")
        return restarted

    def running(self, role: str) -> list[str]:
        return sorted(
            n for n, p in self.processes.items() if n.startswith(role) and p.poll() is None
        )

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ingress_ready(self, index: int, timeout: float = 180) -> None:
        name = f"ingress-{index}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                raise PipelineError(f"{name} exited:\n{self.log_tail(name)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.urls[index]}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise PipelineError(f"{name} not ready within {timeout:g} s:\n{self.log_tail(name)}")
