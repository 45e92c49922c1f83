"""Helpers for tests that run the real processes against the real broker."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets as tokens
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml
from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin/__init__ uses it but does not re-export it
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hookgate.topics import ensure
from ingress.schemes.standard_webhooks import decode_secret, sign
from schemas import config, jsoncodec, published
from streams.liveness import EXIT_STALLED

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_BYTES = decode_secret(SECRET)

_SEED = hashlib.sha256(b"send fal key").digest()
_FAL_PUBLIC = base64.urlsafe_b64encode(
    Ed25519PrivateKey.from_private_bytes(_SEED)
    .public_key()
    .public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()

#: The private keys that play the providers that sign with one (``hookgate send --signing-key``):
#: sender-side material, never part of a source's configuration.
PROVIDER_SIGNING_KEYS: dict[str, str] = {"fal": base64.b64encode(_SEED).decode()}

#: One source per provider, configured as an operator would.

PROVIDER_SOURCES: dict[str, dict[str, Any]] = {
    "standard-webhooks": {"secrets": [SECRET]},
    "svix": {"secrets": [SECRET]},
    "clerk": {"secrets": [SECRET]},
    "resend": {"secrets": [SECRET]},
    "replicate": {"secrets": [SECRET]},
    "openai": {"secrets": [SECRET]},
    "anthropic": {"secrets": [SECRET]},
    "stripe": {"secrets": ["whsec_send_test_secret"]},
    "mux": {"secrets": ["mux send secret"]},
    "elevenlabs": {"secrets": ["wsec_send_secret"]},
    "slack": {"secrets": ["slack send secret"]},
    "github": {"secrets": ["github send secret"]},
    "pagerduty": {"secrets": ["pagerduty send secret"]},
    "shopify": {"secrets": ["shopify send secret"]},
    "twilio": {"secrets": ["twilio auth token"]},
    "fal": {"public_keys": [_FAL_PUBLIC]},
    "luma": {"secrets": ["luma-callback-token-0123456789abcdef"]},
    "generic-hmac": {
        "secrets": ["generic secret"],
        "header": "x-signature",
        "prefix": "sha256=",
        "event_id_pointer": "/id",
    },
    "basic-auth": {"secrets": ["hookgate:send-password"]},
    "api-key": {"secrets": ["send-api-key-0123456789"]},
}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{_running_logs()}")


#: The stacks with running processes, so a timeout can say what their processes logged (a CI
#: failure is otherwise read without them).
_RUNNING: dict[int, Stack] = {}
_LOG_TAIL_LINES = 60


def _running_logs() -> str:
    parts = []
    for stack in _RUNNING.values():
        for role, process in stack.processes.items():
            state = "running" if process.poll() is None else f"exited {process.returncode}"
            tail = stack.log(role).splitlines()[-_LOG_TAIL_LINES:]
            parts.append(f"\n--- {stack.name} {role} ({state}), last lines of its log ---\n")
            parts.append("\n".join(tail))
    return "".join(parts)


@dataclass
class Stack:
    """A configured Hookgate (unique topics, ports and app id) and its running processes."""

    bootstrap: str
    workdir: Path
    raw_partitions: int = 3
    delivery_timeout_ms: int = 3000
    #: More sources besides ``e2e`` (a standard-webhooks source signed with SECRET).
    extra_sources: list[dict[str, Any]] = field(default_factory=list)
    #: ``worker.type_prefix``; None: the default.
    type_prefix: str | None = None
    #: ``kafka.client`` settings (TLS, SASL) for every client of every process.
    kafka_client: dict[str, Any] = field(default_factory=dict)
    #: More ``ingress`` settings (limits: ``body_timeout_ms``, ``max_connections``, ...).
    ingress_settings: dict[str, Any] = field(default_factory=dict)
    #: More ``worker`` settings (e.g. a short ``dedup_horizon_s``).
    worker_settings: dict[str, Any] = field(default_factory=dict)
    #: The raw topic's broker configs (e.g. an operator's own ``max.message.bytes``).
    raw_topic_config: dict[str, str] = field(default_factory=dict)
    #: The ``tracing`` section (span export); empty: the defaults, no spans.
    tracing: dict[str, Any] = field(default_factory=dict)
    #: Start a worker again when it stopped itself for being stuck (exit status
    #: ``EXIT_STALLED``), as its supervisor in a deployment does (Kubernetes, compose).
    restart_stalled: bool = True
    #: Start a process again whatever made it exit (but SIGTERM from ``stop``), as a
    #: ``restart: unless-stopped`` or Kubernetes supervisor does: e.g. a worker that stopped
    #: itself after a failed transaction commit, to redo its work from the last commit.
    restart_failed: bool = False
    #: Replication factor of the raw, canonical and dead-letter topics (and the worker's).
    replication_factor: int = 1
    #: More broker configs for those three topics (e.g. ``min.insync.replicas``).
    topic_config: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Per role, how often it was started again after stopping itself for being stuck.
    restarts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ingress_port, self.web_port = free_ports(2)
        self.config_path = self.workdir / f"{self.name}.yaml"
        document = {
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "delivery_timeout_ms": self.delivery_timeout_ms,
                "client": self.kafka_client,
            },
            "topics": {
                role: {
                    "name": f"{self.name}.{suffix}",
                    "partitions": partitions,
                    "replication_factor": self.replication_factor,
                    "config": {
                        **self.topic_config,
                        **(self.raw_topic_config if role == "raw" else {}),
                    },
                }
                for role, suffix, partitions in (
                    ("raw", "raw", self.raw_partitions),
                    ("canonical", "canonical", 3),
                    ("dead_letter", "dlq", 1),
                )
            },
            "ingress": {"host": "127.0.0.1", "port": self.ingress_port, **self.ingress_settings},
            "worker": {
                "app_id": f"hookgate-{self.name}",
                "data_dir": str(self.workdir / f"{self.name}-worker"),
                "web_port": self.web_port,
                # Short, so a stuck worker is restarted (restart_stalled) within a test's wait.
                "stall_timeout_s": 20,
                **({"type_prefix": self.type_prefix} if self.type_prefix else {}),
                **self.worker_settings,
            },
            "sources": [
                {"name": "e2e", "provider": "standard-webhooks", "secrets": [SECRET]},
                *self.extra_sources,
            ],
            **({"tracing": self.tracing} if self.tracing else {}),
        }
        self.config_path.write_text(yaml.safe_dump(document))
        self.settings = config.load(self.config_path, env={})
        self._lock = threading.RLock()
        self._modules: dict[str, str] = {}
        self._supervisor: threading.Thread | None = None

    def ensure_topics(self) -> None:
        """Create the stack's topics as ``hookgate topics ensure`` does (in this process)."""
        ensure(self.settings, progress=lambda line: None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    def start(self, role: str, module: str = "hookgate") -> None:
        """Run ``hookgate {role}`` as a child process, as an operator would (``module``: another
        entry point taking the same arguments, e.g. a worker with a test normalizer)."""
        with self._lock:
            self.processes[role] = self._spawn(role, module)
            self._modules[role] = module
            _RUNNING[id(self)] = self
            if self._supervisor is None and (self.restart_stalled or self.restart_failed):
                self._supervisor = threading.Thread(target=self._supervise, daemon=True)
                self._supervisor.start()

    def _spawn(self, role: str, module: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{self.name}-{role}.log").open("ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", module, role, "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
            )
        finally:
            log.close()

    def _supervise(self) -> None:
        while True:
            time.sleep(0.5)
            with self._lock:
                if not self.processes:
                    self._supervisor = None
                    return
                for role, process in list(self.processes.items()):
                    code = process.poll()
                    if code is None or not (
                        (code == EXIT_STALLED and self.restart_stalled) or self.restart_failed
                    ):
                        continue
                    self.restarts[role] = self.restarts.get(role, 0) + 1
                    # The wall clock, to line the restart up with the process's own log.
                    at = time.strftime("%H:%M:%S")
                    print(f"{at} {self.name}: {role} exited with {code}; restarted")
                    self.processes[role] = self._spawn(role, self._modules[role])

    def stop(self, role: str, timeout: float = 30) -> int:
        with self._lock:
            process = self.processes.pop(role)
            if not self.processes:
                _RUNNING.pop(id(self), None)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"{role} did not stop within {timeout} s of SIGTERM") from None

    def stop_all(self) -> None:
        for role in list(self.processes):
            with contextlib.suppress(AssertionError):
                self.stop(role)

    def log(self, role: str) -> str:
        return (self.workdir / f"{self.name}-{role}.log").read_text(errors="replace")

    def wait_ingress_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            self._check_alive()
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout, "the ingress to be ready")

    def _check_alive(self) -> None:
        for role, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{role} exited with {process.returncode}:\n{self.log(role)}")

    def post(
        self,
        body: bytes,
        *,
        event_id: str | None = None,
        secret: bytes = SECRET_BYTES,
        timestamp: int | None = None,
        source: str = "e2e",
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        event_id = event_id or f"msg_{tokens.token_hex(8)}"
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, event_id, timestamp, body),
            "content-type": "application/json",
            **(extra_headers or {}),
        }
        return httpx.post(
            f"{self.url}/webhooks/{source}", content=body, headers=headers, timeout=30
        )

    def post_signed(
        self, source: str, body: bytes, headers: dict[str, str], path_suffix: str = ""
    ) -> httpx.Response:
        """POST a delivery signed elsewhere (by a provider's own library) to ``source``."""
        return httpx.post(
            f"{self.url}/webhooks/{source}{path_suffix}", content=body, headers=headers, timeout=30
        )

    def worker_metric(self, name: str, **labels: str) -> float:
        """A counter from the worker's /metrics, 0 if absent or the worker does not answer."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.web_port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0.0
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(f"{name}{{{wanted}}} ") or (
                not labels and line.startswith(f"{name} ")
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def read_all(bootstrap: str, topic: str, timeout: float = 10.0) -> list[Message]:
    """Every committed record of ``topic`` up to its current end (high watermarks taken at the
    call), read as downstream consumers read it: ``isolation.level=read_committed``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records: list[Message] = []
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                records.append(message)
            # By position, not by the last record's offset: a transactional topic ends with a
            # commit marker, which takes an offset but is never delivered.
            for position in consumer.position([TopicPartition(topic, p) for p in pending]):
                if position.offset >= ends[position.partition]:
                    pending.discard(position.partition)
        if pending:
            raise AssertionError(f"could not read {topic} to its end within {timeout} s")
        return records
    finally:
        consumer.close()


def read_canonical(stack: Stack, timeout: float = 10.0) -> list[Message]:
    """Every record of the stack's canonical topic, each checked against the contract first: the
    type in the configured namespace, and a ``dataschema`` (required on job events) that is a
    published schema file the data follows."""
    records = read_all(stack.bootstrap, stack.settings.topics.canonical.name, timeout)
    for record in records:
        check_contract(record, stack.settings.worker.type_prefix)
    return records


def header_pairs(record: Message) -> list[tuple[str, bytes]]:
    """A consumed record's headers, in order, each value as bytes (as every Hookgate record
    carries them: none is null)."""
    found = record.headers() or []
    pairs = list(found.items()) if isinstance(found, dict) else found
    for name, value in pairs:
        assert isinstance(value, bytes), f"header {name} is {value!r}, not bytes"
    return [(name, value) for name, value in pairs if isinstance(value, bytes)]


def key_of(record: Message) -> bytes:
    """A consumed record's key; fails on a record without one."""
    key = record.key()
    assert key is not None, f"a record without a key at {record.topic()}:{record.partition()}"
    return key


def value_of(record: Message) -> bytes:
    """A consumed record's value; fails on a tombstone (a null value)."""
    value = record.value()
    assert value is not None, f"a tombstone at {record.topic()}:{record.partition()}"
    return value


def check_contract(record: Message, type_prefix: str) -> None:
    headers = {name: value.decode() for name, value in header_pairs(record)}
    event_type = headers["ce_type"]
    assert event_type.startswith(type_prefix), f"{event_type!r} is not in {type_prefix!r}"
    dataschema = headers.get("ce_dataschema")
    if event_type.startswith(f"{type_prefix}job."):
        assert dataschema == published.JOB_EVENT_DATA, f"{event_type} without its dataschema"
    if dataschema is not None:
        assert published.path(dataschema).is_file()  # raises UnknownSchema for any other URI
        jsonschema.validate(jsoncodec.loads(value_of(record)), published.load(dataschema))


def hookgate(
    stack: Stack, *args: str, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a ``hookgate`` command against the stack's config, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "hookgate", *args, "--config", str(config or stack.config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
    )


def canonical_ids(messages: list[Message]) -> list[str]:
    return [dict(header_pairs(m))["ce_id"].decode() for m in messages]


@contextlib.contextmanager
def running(stack: Stack, *roles: str) -> Iterator[Stack]:
    """``hookgate {role}`` for each of ``roles``; every process of the stack stopped at the end."""
    try:
        for role in roles:
            stack.start(role)
        yield stack
    finally:
        stack.stop_all()


@contextlib.contextmanager
def serving(stack: Stack, *roles: str, ready_timeout: float = 60) -> Iterator[Stack]:
    """The stack's topics ensured, ``roles`` running, and the ingress ready if it is one of them:
    how most tests of the running stack begin."""
    stack.ensure_topics()
    with running(stack, *roles):
        if "ingress" in roles:
            stack.wait_ingress_ready(ready_timeout)
        yield stack


def new_topic(bootstrap: str, partitions: int = 1) -> str:
    """A fresh topic on the test broker, for tests that produce directly."""
    name = f"t{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(30)
    return name


def unreachable_bootstrap() -> str:
    """A bootstrap address where no broker listens: every send times out."""
    return f"127.0.0.1:{free_ports(1)[0]}"
