"""The local broker runner against a real JVM and a real broker; no mocks.

One broker (own home, own free ports, the machine-wide jar cache) serves the module; tests that
need it running ask for ``running``, which restarts it only if an earlier test stopped it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin/__init__ uses it but does not re-export it

import hookgate.kafka_local
from hookgate.kafka_local import LocalKafka, LocalKafkaError

REPO_ROOT = Path(hookgate.kafka_local.__file__).resolve().parents[1]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def local_kafka(home: Path, *, heap: str = "512m", cache_dir: Path | None = None) -> LocalKafka:
    port, controller_port = free_ports(2)
    return LocalKafka(
        home, port=port, controller_port=controller_port, heap=heap, cache_dir=cache_dir
    )


def processes_running(server_properties: Path) -> list[int]:
    """Live (non-zombie) processes whose command line names this server.properties."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(server_properties).encode() in args:
            found.append(int(entry.name))
    return found


def topic_names(bootstrap: str) -> set[str]:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return set(metadata.topics)


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = local_kafka(tmp_path_factory.mktemp("kafka-home"))
    yield broker
    broker.stop()


@pytest.fixture
def running(kafka: LocalKafka) -> LocalKafka:
    kafka.start()
    return kafka


# -- without a broker -------------------------------------------------------------------------


def test_start_without_java_raises_naming_java(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(LocalKafkaError, match="java"):
        local_kafka(tmp_path / "home", cache_dir=tmp_path / "cache").start()


def test_fetch_without_maven_raises_naming_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java_only = tmp_path / "java-only"
    java_only.mkdir()
    java = subprocess.run(
        ["sh", "-c", "command -v java"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (java_only / "java").symlink_to(Path(java).resolve())
    monkeypatch.setenv("PATH", str(java_only))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(LocalKafkaError, match="mvn"):
        local_kafka(tmp_path / "home", cache_dir=tmp_path / "empty-cache").ensure_installed()


def test_start_refuses_a_port_in_use_and_names_it(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        broker = LocalKafka(
            tmp_path, port=busy, controller_port=free_ports(1)[0], progress=lambda _: None
        )

        with pytest.raises(LocalKafkaError, match=f"port {busy}"):
            broker.start()


def test_stop_when_not_running_returns_false(tmp_path: Path) -> None:
    assert local_kafka(tmp_path).stop() is False


# -- with the JVM -----------------------------------------------------------------------------


@pytest.mark.kafka
def test_ensure_installed_returns_the_cached_libs_with_the_broker_jar(tmp_path: Path) -> None:
    libs = local_kafka(tmp_path).ensure_installed()

    assert (libs / "kafka_2.13-4.1.1.jar").is_file()
    assert not any(p.name.startswith(".fetch-") for p in libs.parent.iterdir())


@pytest.mark.kafka
def test_broker_exiting_during_startup_raises_with_the_log_tail(tmp_path: Path) -> None:
    # A heap the JVM refuses makes the broker process die at once.
    broker = local_kafka(tmp_path, heap="1k")

    with pytest.raises(LocalKafkaError, match="exited during startup") as error:
        broker.start()

    assert "Too small" in str(error.value)
    assert not (tmp_path / "broker.pid").exists()


@pytest.mark.kafka
def test_start_timing_out_kills_the_broker_and_raises_with_the_log(tmp_path: Path) -> None:
    broker = local_kafka(tmp_path)

    with pytest.raises(LocalKafkaError, match=r"did not answer .* and was killed") as error:
        broker.start(timeout=0.5)

    assert str(tmp_path / "broker.log") in str(error.value)
    assert processes_running(tmp_path / "server.properties") == []
    assert not broker.status().running


# -- with the module's broker -----------------------------------------------------------------


@pytest.mark.kafka
def test_start_makes_the_broker_answer_a_client_request(running: LocalKafka) -> None:
    metadata = AdminClient({"bootstrap.servers": running.bootstrap}).list_topics(timeout=10)

    assert [broker.id for broker in metadata.brokers.values()] == [1]


@pytest.mark.kafka
def test_status_reports_running_with_the_pid_of_the_broker_process(running: LocalKafka) -> None:
    status = running.status()

    assert status.running
    assert status.pid is not None
    assert processes_running(running.home / "server.properties") == [status.pid]
    assert status.bootstrap == running.bootstrap == f"127.0.0.1:{running.port}"
    assert status.home == running.home


@pytest.mark.kafka
def test_second_start_is_a_noop_returning_the_same_bootstrap_and_pid(running: LocalKafka) -> None:
    pid_before = running.status().pid
    messages: list[str] = []
    # A separate instance, as a second CLI invocation would have.
    again = LocalKafka(
        running.home,
        port=running.port,
        controller_port=running.controller_port,
        progress=messages.append,
    )

    bootstrap = again.start()

    assert bootstrap == running.bootstrap
    assert again.status().pid == pid_before
    assert any("already running" in message for message in messages)


@pytest.mark.kafka
def test_start_with_other_ports_refuses_while_the_broker_runs(running: LocalKafka) -> None:
    elsewhere = local_kafka(running.home)

    with pytest.raises(LocalKafkaError, match="already running") as error:
        elsewhere.start()

    assert running.bootstrap in str(error.value)
    assert running.status().running


@pytest.mark.kafka
def test_topics_and_cluster_id_survive_a_restart(running: LocalKafka) -> None:
    cluster_id = (running.home / "cluster.id").read_text()
    admin = AdminClient({"bootstrap.servers": running.bootstrap})
    admin.create_topics([NewTopic("survivor", num_partitions=1, replication_factor=1)])[
        "survivor"
    ].result(timeout=30)

    running.stop()
    running.start()

    assert "survivor" in topic_names(running.bootstrap)
    assert (running.home / "cluster.id").read_text() == cluster_id


@pytest.mark.kafka
def test_stop_terminates_the_broker_and_status_reports_not_running(running: LocalKafka) -> None:
    pid = running.status().pid
    assert pid is not None

    assert running.stop() is True

    assert not running.status().running
    assert not (running.home / "broker.pid").exists()
    # The broker was this process's child: stop must have reaped it, not left a zombie.
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@pytest.mark.kafka
def test_stop_ends_a_broker_started_by_another_process(kafka: LocalKafka) -> None:
    kafka.stop()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from hookgate.kafka_local import LocalKafka
        LocalKafka(Path({str(kafka.home)!r}), port={kafka.port},
                   controller_port={kafka.controller_port}).start()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    pid = kafka.status().pid
    assert pid is not None

    assert kafka.stop() is True

    assert not kafka.status().running
    assert processes_running(kafka.home / "server.properties") == []


@pytest.mark.kafka
def test_wipe_stops_the_broker_and_deletes_its_data_and_cluster_id(running: LocalKafka) -> None:
    running.wipe()

    assert not running.status().running
    assert not (running.home / "data").exists()
    assert not (running.home / "cluster.id").exists()
