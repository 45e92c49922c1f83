"""A single-node KRaft Apache Kafka broker run from Maven Central jars, for development and tests.

No Docker and no tarball download: Maven fetches ``org.apache.kafka:kafka_2.13`` with its runtime
dependencies (plus a log4j2 backend, which the published POMs lack) into a cache shared by every
checkout on the machine, and the machine's Java runs ``kafka.Kafka`` from it. The broker is started
detached, so it outlives the process that started it; ``home/broker.pid`` is how a later process
finds it again.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

__all__ = [
    "BrokerStatus",
    "ClusterNode",
    "LocalKafka",
    "LocalKafkaCluster",
    "LocalKafkaError",
    "SaslSslListener",
]

LOG4J_VERSION = "2.24.3"
_LOG_TAIL_LINES = 20
_MIN_JAVA_FOR_KAFKA_4 = 17
_POLL_INTERVAL = 0.25


class LocalKafkaError(Exception):
    """A clear, user-facing reason the local broker could not be installed, started or stopped."""


@dataclass
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    home: Path


@dataclass(frozen=True)
class SaslSslListener:
    """A second listener, SASL PLAIN over TLS, for testing clients against a secured broker.

    The default listener stays PLAINTEXT (the broker talks to itself and answers readiness checks
    there); this one serves ``users`` on ``port``.
    """

    port: int
    #: A PEM file holding the broker's private key (PKCS#8, unencrypted) and certificate chain.
    key_and_cert: Path
    #: User name -> password that SASL PLAIN accepts.
    users: Mapping[str, str]

    def properties(self) -> dict[str, str]:
        for name, password in self.users.items():
            if not re.fullmatch(r"[A-Za-z0-9._-]+", name + password):
                raise LocalKafkaError("SASL users and passwords here are [A-Za-z0-9._-] only")
        users = " ".join(f'user_{name}="{password}"' for name, password in self.users.items())
        prefix = "listener.name.sasl_ssl."
        return {
            "sasl.enabled.mechanisms": "PLAIN",
            f"{prefix}plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};"
            ),
            f"{prefix}ssl.keystore.type": "PEM",
            f"{prefix}ssl.keystore.location": str(self.key_and_cert),
        }


@dataclass(frozen=True)
class ClusterNode:
    """Where one broker stands in a multi-node KRaft cluster (see ``LocalKafkaCluster``).

    Every node is a combined broker and controller; the quorum's voters are all of them.
    """

    node_id: int
    #: ``controller.quorum.voters``: ``id@host:port`` of every node, comma-separated.
    voters: str
    #: Replication factor of the internal topics (offsets, transactions), and the default.
    replication_factor: int
    #: ``min.insync.replicas`` for the internal topics and the broker's default for every topic.
    min_insync_replicas: int


class LocalKafka:
    """One broker whose configuration, data, log and pid file live under ``home``."""

    def __init__(
        self,
        home: Path,
        *,
        port: int = 9092,
        controller_port: int = 9093,
        version: str = "4.1.1",
        cache_dir: Path | None = None,
        heap: str = "512m",
        progress: Callable[[str], None] = print,
        sasl_ssl: SaslSslListener | None = None,
        node: ClusterNode | None = None,
    ) -> None:
        self.home = Path(home).absolute()
        self.port = port
        self.controller_port = controller_port
        self.version = version
        self.cache_dir = (cache_dir or _default_cache_dir()).absolute()
        self.heap = heap
        self.progress = progress
        self.sasl_ssl = sasl_ssl
        #: None: a single-node cluster of its own.
        self.node = node

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}" / "libs"

    @property
    def log_path(self) -> Path:
        return self.home / "broker.log"

    @property
    def _data_dir(self) -> Path:
        return self.home / "data"

    @property
    def _pid_path(self) -> Path:
        return self.home / "broker.pid"

    @property
    def _server_properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def _log4j_properties(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def _cluster_id_path(self) -> Path:
        return self.home / "cluster.id"

    # -- installation -------------------------------------------------------------------------

    def ensure_installed(self) -> Path:
        """Return the directory of broker jars, fetching them from Maven Central the first time."""
        if not self.version.startswith("4."):
            raise LocalKafkaError(
                f"Kafka {self.version} is not supported here: only 4.x brokers "
                "(3.x needs a different logging backend and configuration)"
            )
        java = _find_java()
        _check_java_version(java, _MIN_JAVA_FOR_KAFKA_4, self.version)
        libs = self.libs_dir
        if libs.is_dir():
            return libs
        libs.parent.mkdir(parents=True, exist_ok=True)
        # Two processes (e.g. test workers) may both find the cache empty; one fetches, the
        # other waits and then finds the result.
        with _file_lock(libs.parent / ".fetch.lock", self.progress, "another fetch of Kafka"):
            if libs.is_dir():
                return libs
            self._fetch(libs)
        return libs

    def _fetch(self, libs: Path) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalKafkaError(
                "Maven (mvn) is not on PATH; it fetches the Kafka jars from Maven Central once "
                "(install it, e.g. `apt-get install maven` or `brew install maven`)"
            )
        self.progress(f"fetching Apache Kafka {self.version} from Maven Central (once, ~45 MB)...")
        started = time.monotonic()
        # Fetched beside the final directory and renamed into place, so an interrupted fetch
        # never leaves something that looks complete.
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=libs.parent))
        try:
            (staging / "pom.xml").write_text(_holder_pom(self.version), encoding="utf-8")
            try:
                result = subprocess.run(
                    [
                        mvn,
                        "-q",
                        "-B",
                        "dependency:copy-dependencies",
                        "-DoutputDirectory=libs",
                        "-DincludeScope=runtime",
                    ],
                    cwd=staging,
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise LocalKafkaError(
                    "fetching Kafka from Maven Central took over 15 minutes; check the network"
                ) from exc
            if result.returncode != 0:
                raise LocalKafkaError(
                    f"fetching Kafka {self.version} from Maven Central failed "
                    f"(mvn exited {result.returncode}):\n" + _tail(result.stdout + result.stderr)
                )
            kafka_jar = staging / "libs" / f"kafka_2.13-{self.version}.jar"
            if not kafka_jar.is_file():
                raise LocalKafkaError(f"Maven finished but {kafka_jar.name} is not among the jars")
            (staging / "libs").rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.progress(f"fetched Kafka {self.version} in {time.monotonic() - started:.1f} s")

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> str:
        """Start the broker unless it already runs; return once it answers a client request."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            pid = self._live_pid()
            if pid is not None:
                self._check_running_config_matches(pid)
                if _answers(self.bootstrap, request_timeout=5.0, node_id=self._node_id):
                    self.progress(f"Kafka already running at {self.bootstrap} (pid {pid})")
                    return self.bootstrap
                # Ours, but not answering: most likely a start that was interrupted while the
                # broker was still coming up. Wait for it rather than start a second one.
                self.progress(f"Kafka broker pid {pid} is running but not answering yet; waiting")
                self._wait_ready(pid, timeout, time.monotonic())
                return self.bootstrap
            self._pid_path.unlink(missing_ok=True)

            java = _find_java()
            _check_java_version(java, _MIN_JAVA_FOR_KAFKA_4, self.version)
            ports = [self.port, self.controller_port]
            if self.sasl_ssl is not None:
                ports.append(self.sasl_ssl.port)
            for port in ports:
                if _port_in_use(port):
                    raise LocalKafkaError(
                        f"port {port} on 127.0.0.1 is already in use by another process; stop "
                        "it or choose other ports (e.g. `ss -ltnp` shows who listens)"
                    )
            libs = self.ensure_installed()
            self._write_configs()
            self._format(java, libs)

            started = time.monotonic()
            pid = self._spawn(java, libs)
            self._pid_path.write_text(f"{pid}\n", encoding="ascii")
            self.progress(
                f"starting Kafka {self.version} at {self.bootstrap} "
                f"(pid {pid}, log {self.log_path})"
            )
            self._wait_ready(pid, timeout, started)
            return self.bootstrap

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the broker gracefully; return False if it was not running."""
        if not self.home.is_dir():
            return False
        with self._lock():
            return self._stop(timeout)

    def status(self) -> BrokerStatus:
        pid = self._live_pid()
        return BrokerStatus(
            running=pid is not None, pid=pid, bootstrap=self.bootstrap, home=self.home
        )

    def wipe(self) -> None:
        """Stop the broker if it runs, then delete its data (topics, offsets, cluster id)."""
        if not self.home.is_dir():
            return
        with self._lock():
            self._stop(60.0)
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._cluster_id_path.unlink(missing_ok=True)

    # -- internals ------------------------------------------------------------------------------

    @property
    def _node_id(self) -> int | None:
        return None if self.node is None else self.node.node_id

    def _properties_text(self) -> str:
        return _server_properties(
            self.port, self.controller_port, self._data_dir, self.sasl_ssl, self.node
        )

    def kill(self) -> bool:
        """SIGKILL the broker, as a crash would; return False if it was not running."""
        if not self.home.is_dir():
            return False
        with self._lock():
            pid = self._live_pid()
            if pid is None:
                return False
            _signal(pid, signal.SIGKILL)
            if not _wait_exit(pid, 10.0):
                raise LocalKafkaError(f"Kafka broker pid {pid} survived SIGKILL for 10 s")
            self._pid_path.unlink(missing_ok=True)
            self.progress(f"killed Kafka broker (pid {pid})")
            return True

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        # Serializes start/stop/wipe across processes sharing this home (CLI, test workers).
        return _file_lock(self.home / ".lock", self.progress, "another hookgate process")

    def _stop(self, timeout: float) -> bool:
        pid = self._live_pid()
        if pid is None:
            self._pid_path.unlink(missing_ok=True)
            return False
        self.progress(f"stopping Kafka broker (pid {pid})...")
        started = time.monotonic()
        _signal(pid, signal.SIGTERM)
        if not _wait_exit(pid, timeout):
            self.progress(
                f"warning: Kafka broker pid {pid} did not stop within {timeout:g} s; killing it "
                "(the next start will recover its logs)"
            )
            _signal(pid, signal.SIGKILL)
            _wait_exit(pid, 10.0)
        self._pid_path.unlink(missing_ok=True)
        self.progress(f"stopped Kafka broker in {time.monotonic() - started:.1f} s")
        return True

    def _live_pid(self) -> int | None:
        """The pid from the pid file if that process is alive and is this home's broker."""
        try:
            pid = int(self._pid_path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        # waitpid(0 or -1) would mean "any child": never let a corrupt file get that far.
        if pid <= 1 or _exit_code(pid) is not None:
            return None
        if not _is_broker_of(pid, self._server_properties):
            return None
        return pid

    def _check_running_config_matches(self, pid: int) -> None:
        # The running broker read the server.properties on disk; if it was started with other
        # ports, waiting for it to answer at ours would only time out and kill it.
        wanted = self._properties_text()
        try:
            current = self._server_properties.read_text(encoding="utf-8")
        except OSError:
            return
        if current != wanted:
            listeners = re.search(r"^listeners=(.*)$", current, re.MULTILINE)
            where = listeners.group(1) if listeners else "other settings"
            raise LocalKafkaError(
                f"a broker from {self.home} is already running (pid {pid}) with {where}; "
                f"stop it before starting it at {self.bootstrap}"
            )

    def _write_configs(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._server_properties.write_text(self._properties_text(), encoding="utf-8")
        self._log4j_properties.write_text(_LOG4J2_PROPERTIES, encoding="utf-8")

    def _format(self, java: str, libs: Path) -> None:
        if (self._data_dir / "meta.properties").is_file():
            return
        cluster_id = self._cluster_id()
        try:
            result = subprocess.run(
                [
                    java,
                    "-Xmx256m",
                    f"-Dlog4j2.configurationFile={self._log4j_properties}",
                    "-cp",
                    f"{libs}/*",
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(self._server_properties),
                    "-g",
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalKafkaError(
                f"formatting the Kafka data directory {self._data_dir} took over 2 minutes"
            ) from exc
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting the Kafka data directory {self._data_dir} failed:\n"
                + _tail(result.stdout + result.stderr)
            )

    def _cluster_id(self) -> str:
        with contextlib.suppress(OSError):
            existing = self._cluster_id_path.read_text(encoding="ascii").strip()
            if existing:
                return existing
        cluster_id = _random_kafka_uuid()
        self._cluster_id_path.write_text(f"{cluster_id}\n", encoding="ascii")
        return cluster_id

    def _spawn(self, java: str, libs: Path) -> int:
        if self.log_path.exists():
            self.log_path.replace(self.home / "broker.log.1")
        argv = [
            java,
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            # The lightest collector: a dev broker on a 2-core machine shares it with everything.
            "-XX:+UseSerialGC",
            "-XX:+ExitOnOutOfMemoryError",
            f"-XX:ErrorFile={self.home}/hs_err_pid%p.log",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._log4j_properties}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(self._server_properties),
        ]
        log_flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        # posix_spawn rather than Popen: the broker must outlive us, and a Popen object dropped
        # while its child runs raises ResourceWarning (an error in the test suite); we track the
        # pid ourselves instead. Its own session keeps the terminal's Ctrl-C away from it, and
        # default signal handling plus an empty mask guarantee SIGTERM reaches the JVM even if
        # this process ignores or blocks it.
        try:
            return os.posix_spawn(
                java,
                argv,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, str(self.log_path), log_flags, 0o644),
                    (os.POSIX_SPAWN_DUP2, 1, 2),
                ],
                setsid=True,
                setsigdef=(signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE),
                setsigmask=(),
            )
        except OSError as exc:
            raise LocalKafkaError(f"could not run {java}: {exc}") from exc

    def _wait_ready(self, pid: int, timeout: float, started: float) -> None:
        deadline = started + timeout
        next_note = time.monotonic() + 10.0
        while True:
            code = _exit_code(pid)
            if code is not None:
                self._pid_path.unlink(missing_ok=True)
                how = "" if code == _UNKNOWN_EXIT else f" with code {code}"
                raise LocalKafkaError(
                    f"the Kafka broker exited during startup{how}; last lines of "
                    f"{self.log_path}:\n{_log_tail(self.log_path)}"
                )
            if _answers(self.bootstrap, request_timeout=2.0, node_id=self._node_id):
                self.progress(
                    f"Kafka ready at {self.bootstrap} in {time.monotonic() - started:.1f} s"
                )
                return
            now = time.monotonic()
            if now >= deadline:
                _terminate(pid)
                self._pid_path.unlink(missing_ok=True)
                raise LocalKafkaError(
                    f"the Kafka broker (pid {pid}) did not answer at {self.bootstrap} within "
                    f"{timeout:g} s and was killed; last lines of {self.log_path}:\n"
                    f"{_log_tail(self.log_path)}"
                )
            if now >= next_note:
                self.progress(f"still waiting for Kafka ({now - started:.0f} s)...")
                next_note = now + 10.0
            time.sleep(_POLL_INTERVAL)


class LocalKafkaCluster:
    """``len(ports)`` brokers on 127.0.0.1 forming one KRaft cluster, for failure tests.

    Each node is a combined broker and controller (``ClusterNode``) with its own ports and home
    under ``home/node-<id>``; the controller quorum has every node as a voter, so it survives
    the loss of a minority. Nodes can be killed and started again one by one.
    """

    def __init__(
        self,
        home: Path,
        ports: list[tuple[int, int]],
        *,
        min_insync_replicas: int = 2,
        version: str = "4.1.1",
        cache_dir: Path | None = None,
        heap: str = "384m",
        progress: Callable[[str], None] = print,
    ) -> None:
        if not ports:
            raise LocalKafkaError("a cluster needs at least one node")
        self.home = Path(home).absolute()
        voters = ",".join(
            f"{index}@127.0.0.1:{controller}" for index, (_, controller) in enumerate(ports, 1)
        )
        self.nodes = [
            LocalKafka(
                self.home / f"node-{index}",
                port=port,
                controller_port=controller,
                version=version,
                cache_dir=cache_dir,
                heap=heap,
                progress=_prefixed(progress, f"[node {index}] "),
                node=ClusterNode(index, voters, len(ports), min_insync_replicas),
            )
            for index, (port, controller) in enumerate(ports, 1)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id - 1]

    def start(self, timeout: float = 120.0) -> str:
        """Start every node that is not running; return once each answers as an unfenced broker.

        The nodes start together: none is ready before a majority of the quorum runs.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        cluster_id_path = self.home / "cluster.id"
        if not cluster_id_path.is_file():
            cluster_id_path.write_text(f"{_random_kafka_uuid()}\n", encoding="ascii")
        cluster_id = cluster_id_path.read_text(encoding="ascii")
        for node in self.nodes:
            node.home.mkdir(parents=True, exist_ok=True)
            (node.home / "cluster.id").write_text(cluster_id, encoding="ascii")
        self.nodes[0].ensure_installed()  # once, before the nodes race to fetch
        self.start_nodes(list(range(1, len(self.nodes) + 1)), timeout)
        return self.bootstrap

    def start_nodes(self, node_ids: list[int], timeout: float = 120.0) -> None:
        """Start these nodes together (e.g. after ``kill``) and wait until each is ready."""
        _together([functools.partial(self.node(i).start, timeout) for i in node_ids])

    def kill(self, node_id: int) -> bool:
        """SIGKILL one node, as a crash would."""
        return self.node(node_id).kill()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every node, all at once: one by one, the last would wait for a controller quorum
        that is already gone until ``timeout`` and be killed."""
        _together([functools.partial(node.stop, timeout) for node in self.nodes])


def _prefixed(progress: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda line: progress(prefix + line)


def _together(calls: list[Callable[[], object]]) -> None:
    """Run ``calls`` in threads of their own; raise the first error once every one has ended."""
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:  # re-raised in the caller's thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,), daemon=True) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# -- processes ----------------------------------------------------------------------------------

# The exit code of a process that is gone but was not our child, so we cannot know how it ended.
_UNKNOWN_EXIT = -(2**31)


def _exit_code(pid: int) -> int | None:
    """None while ``pid`` runs; its exit code (or _UNKNOWN_EXIT) once it has ended.

    A child of this process is reaped here, so it does not linger as a zombie.
    """
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    else:
        return None if waited == 0 else os.waitstatus_to_exitcode(status)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return _UNKNOWN_EXIT
    except PermissionError:
        return None
    # A broker orphaned by the process that started it is reparented to pid 1, and some
    # container inits never reap: the zombie still answers kill(0) but is gone for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None if not Path("/proc/self").exists() else _UNKNOWN_EXIT
    state = stat.rpartition(")")[2].split()[:1]
    return _UNKNOWN_EXIT if state in (["Z"], ["X"]) else None


def _is_broker_of(pid: int, server_properties: Path) -> bool:
    """Guards against a stale pid file whose pid now belongs to an unrelated process."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs (macOS): trust the pid file
    except OSError:
        return False
    args = raw.decode(errors="replace").split("\0")
    return "kafka.Kafka" in args and str(server_properties) in args


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _exit_code(pid) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _terminate(pid: int) -> None:
    _signal(pid, signal.SIGTERM)
    if not _wait_exit(pid, 5.0):
        _signal(pid, signal.SIGKILL)
        _wait_exit(pid, 10.0)


# -- environment --------------------------------------------------------------------------------


def _default_cache_dir() -> Path:
    if explicit := os.environ.get("HOOKGATE_CACHE_DIR"):
        return Path(explicit)
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg) / "hookgate"
    return Path.home() / ".cache" / "hookgate"


def _find_java() -> str:
    if java_home := os.environ.get("JAVA_HOME"):
        candidate = Path(java_home).absolute() / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
        raise LocalKafkaError(
            f"JAVA_HOME is {java_home} but {candidate} is not an executable java; fix or unset it"
        )
    found = shutil.which("java")
    if found is None:
        raise LocalKafkaError(
            "java is not on PATH and JAVA_HOME is not set; Kafka 4.x needs Java 17 or newer "
            "(install it, e.g. `apt-get install openjdk-17-jre-headless`)"
        )
    return str(Path(found).absolute())


@functools.cache
def _java_major(java: str) -> int | None:
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalKafkaError(f"could not run {java} -version: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older report themselves as 1.x.
    return int(match.group(2) or 0) if major == 1 else major


def _check_java_version(java: str, minimum: int, kafka_version: str) -> None:
    major = _java_major(java)
    if major is not None and major < minimum:
        raise LocalKafkaError(
            f"Kafka {kafka_version} needs Java {minimum} or newer, but {java} is Java {major}; "
            "set JAVA_HOME to a newer JDK"
        )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port left in TIME_WAIT by a broker we just stopped would look
        # busy, though the broker (which sets it too) can bind it; a live listener still fails.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _answers(bootstrap: str, request_timeout: float, node_id: int | None = None) -> bool:
    """True if a broker at ``bootstrap`` answers a metadata request and lists itself (or, in a
    cluster, lists ``node_id``: a broker answers for its cluster before it is unfenced)."""
    host, _, port = bootstrap.rpartition(":")
    # A plain connect first: the client would otherwise log every refused connection.
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            pass
    except OSError:
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    try:
        metadata = admin.list_topics(timeout=request_timeout)
    except KafkaException:
        return False
    # A broker still fenced by its controller is left out of the broker list.
    return bool(metadata.brokers) if node_id is None else node_id in metadata.brokers


# -- files ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(path: Path, progress: Callable[[str], None], holder: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for {holder} ({path})...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(kept) if kept else "(empty)"


def _log_tail(path: Path) -> str:
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 64 * 1024))
            data = log.read()
    except OSError:
        return "(no log)"
    return _tail(data.decode(errors="replace"))


def _random_kafka_uuid() -> str:
    # Kafka's Uuid.randomUuid(): a random UUID in unpadded URL-safe base64, never starting with
    # "-" (it would read as a command-line flag). Saves a JVM start for `StorageTool random-uuid`.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not text.startswith("-"):
            return text


def _holder_pom(version: str) -> str:
    dependencies = [
        ("org.apache.kafka", "kafka_2.13", version),
        # The published POMs carry no logging backend: without one the broker logs nothing.
        ("org.apache.logging.log4j", "log4j-api", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
    ]
    deps = "".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>\n"
        for g, a, v in dependencies
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>dev.hookgate</groupId>\n"
        "  <artifactId>kafka-local-holder</artifactId>\n"
        "  <version>1</version>\n"
        "  <packaging>pom</packaging>\n"
        f"  <dependencies>\n{deps}  </dependencies>\n"
        "</project>\n"
    )


def _server_properties(
    port: int,
    controller_port: int,
    data_dir: Path,
    sasl_ssl: SaslSslListener | None = None,
    node: ClusterNode | None = None,
) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # One broker: every internal topic must make do with one replica.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # A client touching a missing topic must not create it with broker defaults.
        "auto.create.topics.enable": "false",
        "num.network.threads": "2",
        "num.io.threads": "2",
        # The cleaner refuses less than 1 MiB per thread (exactly 1 MiB fails too).
        "log.cleaner.dedupe.buffer.size": "8388608",
        "log.retention.check.interval.ms": "30000",
    }
    if sasl_ssl is not None:
        extra = f"SASL_SSL://127.0.0.1:{sasl_ssl.port}"
        settings["listeners"] += f",{extra}"
        settings["advertised.listeners"] += f",{extra}"
        settings["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
        settings["inter.broker.listener.name"] = "PLAINTEXT"
        settings.update(sasl_ssl.properties())
    if node is not None:
        replicas, min_isr = str(node.replication_factor), str(node.min_insync_replicas)
        settings.update(
            {
                "node.id": str(node.node_id),
                "controller.quorum.voters": node.voters,
                "offsets.topic.replication.factor": replicas,
                "transaction.state.log.replication.factor": replicas,
                "transaction.state.log.min.isr": min_isr,
                # Not 50: a broker restarted after SIGKILL recovers every log it holds.
                "transaction.state.log.num.partitions": "3",
                "share.coordinator.state.topic.replication.factor": replicas,
                "share.coordinator.state.topic.min.isr": min_isr,
                "default.replication.factor": replicas,
                "min.insync.replicas": min_isr,
                # A killed broker is fenced (and leaves every ISR) within seconds, not nine.
                "broker.heartbeat.interval.ms": "500",
                "broker.session.timeout.ms": "3000",
                "replica.lag.time.max.ms": "10000",
                # Never elect a replica that may lack acknowledged records.
                "unclean.leader.election.enable": "false",
            }
        )
    return "".join(f"{key}={value}\n" for key, value in settings.items())


_LOG4J2_PROPERTIES = """\
status = warn
name = hookgate-local-kafka
# Kafka logs its own shutdown from a JVM shutdown hook; log4j2's hook would stop logging first.
shutdownHook = disable
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
"""
