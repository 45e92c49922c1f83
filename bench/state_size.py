"""De-duplication state size: worker RSS and restart recovery time at N keys, per table store.

For each N and store: creates the topics, pre-fills the table's changelog
``{app_id}-dedup-changelog`` with N entries exactly as the worker writes them (key = raw record
key, value = JSON ``[partition, offset, received_at_ms]``, changelog partition = raw partition),
then starts `hookgate worker` twice:

- first start: full recovery of the N entries; time from process start to Faust's ``Worker
  ready`` (logged when recovery is complete and the partitions resume), and the RSS then;
- SIGTERM, second start: recovery again (``rocksdb://`` keeps its store and reads only the
  changelog past its stored offset; ``memory://`` reads everything again), its time and RSS;
- the on-disk size of the worker's data directory.

``memory://`` runs only up to ``--memory-max`` keys: a Python dict of 10 M keys is the problem
``rocksdb://`` exists to avoid.

    .venv/bin/python bench/state_size.py --keys 1000000 10000000 --stores rocksdb:// memory://

Starts its own broker from the cached jars unless --bootstrap names one. ``rocksdb://`` needs
the ``rocksdb`` extra (``pip install -e '.[rocksdb]'``).
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hookgate.kafka_local import LocalKafka
from hookgate.topics import ensure
from schemas import config
from schemas.raw import record_key
from tests.support import free_ports

#: Logged by Faust's recovery once the tables are recovered and the partitions resume.
READY = re.compile(rb"Worker ready")
#: Faust's recovery proper, from the first changelog read to the last.
RESTORING = re.compile(rb"\[([0-9-]+ [0-9:]+,[0-9]+)\].*Restoring state from changelog topics")
RESTORED = re.compile(rb"\[([0-9-]+ [0-9:]+,[0-9]+)\].*Done reading from changelog topics")


@dataclass
class Start:
    #: Process start to ``Worker ready``.
    seconds: float
    #: Of which Faust's reading of the changelog.
    reading: float
    rss_mib: float


@dataclass
class Row:
    keys: int
    store: str
    first: Start
    second: Start
    disk_mib: float


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def fill_changelog(bootstrap: str, topic: str, partitions: int, keys: int) -> float:
    """N entries spread over the partitions; returns the seconds it took."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    # As Faust creates a table's changelog: compacted, the raw topic's partition count.
    new = NewTopic(topic, partitions, 1, config={"cleanup.policy": "compact"})
    for future in admin.create_topics([new]).values():
        future.result(60)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
            "enable.idempotence": True,
        }
    )
    started = time.monotonic()
    received_at = int(time.time() * 1000) - keys  # one key per millisecond up to now
    step = max(keys // 10, 1)
    for i in range(keys):
        partition = i % partitions
        key = record_key("bench", f"msg_{i:09d}")
        value = orjson.dumps([partition, i // partitions, received_at + i])
        while True:
            try:
                producer.produce(topic, key=key, value=value, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        if (i + 1) % step == 0:
            producer.poll(0)
            say(f"  changelog: {i + 1:,} / {keys:,} entries")
    remaining = producer.flush(300)
    if remaining:
        raise SystemExit(f"{remaining} changelog entries not acknowledged")
    return time.monotonic() - started


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mib(path: Path) -> float:
    if not path.exists():
        return 0.0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def start_worker(config_path: Path, log_path: Path, timeout: float) -> tuple[Start, int]:
    """Start the worker, wait for recovery; returns its timing and RSS, and its pid (running)."""
    log = log_path.open("ab")
    offset = log_path.stat().st_size
    started = time.monotonic()
    worker = subprocess.Popen(
        [sys.executable, "-m", "hookgate", "worker", "--config", str(config_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    _workers.append(worker)
    deadline = started + timeout
    last = started
    while True:
        with log_path.open("rb") as f:
            f.seek(offset)
            if READY.search(f.read()):
                break
        now = time.monotonic()
        if worker.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-40:]
            raise SystemExit("worker exited:\n" + "\n".join(tail))
        if now > deadline:
            raise SystemExit(f"worker not ready within {timeout:.0f} s (log: {log_path})")
        if now - last >= 30:
            say(f"  recovering... {now - started:.0f} s, RSS {rss_mib(worker.pid):.0f} MiB")
            last = now
        time.sleep(0.1)
    seconds = time.monotonic() - started
    # Let the allocations of the recovery settle (buffers freed, first fetches done).
    time.sleep(2)
    with log_path.open("rb") as f:
        f.seek(offset)
        text = f.read()
    return Start(seconds, reading_seconds(text), rss_mib(worker.pid)), worker.pid


def reading_seconds(log: bytes) -> float:
    begin, end = RESTORING.search(log), RESTORED.search(log)
    if begin is None or end is None:
        return float("nan")
    stamps = [datetime.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S,%f") for m in (begin, end)]
    return (stamps[1] - stamps[0]).total_seconds()


def stop_worker(timeout: float = 120) -> None:
    worker = _workers.pop()
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise SystemExit(f"worker did not stop within {timeout:.0f} s of SIGTERM") from None


_workers: list[subprocess.Popen[bytes]] = []


def run(
    bootstrap: str, workdir: Path, keys: int, store: str, partitions: int, timeout: float
) -> Row:
    name = f"state{uuid.uuid4().hex[:6]}"
    (web_port,) = free_ports(1)
    data_dir = workdir / f"{name}-data"
    document = {
        "kafka": {"bootstrap_servers": bootstrap},
        "topics": {
            "raw": {"name": f"{name}.raw", "partitions": partitions},
            "canonical": {"name": f"{name}.canonical", "partitions": partitions},
            "dead_letter": {"name": f"{name}.dlq", "partitions": 1},
        },
        "worker": {
            "app_id": name,
            "data_dir": str(data_dir),
            "web_port": web_port,
            "store": store,
        },
    }
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    settings = config.load(path, env={})
    ensure(settings, progress=lambda line: None)
    changelog = f"{name}-dedup-changelog"
    say(f"{keys:,} keys, {store}: filling {changelog}")
    seconds = fill_changelog(bootstrap, changelog, partitions, keys)
    say(f"  filled in {seconds:.0f} s")
    log_path = workdir / f"{name}.log"
    log_path.touch()
    try:
        first, _ = start_worker(path, log_path, timeout)
        say(
            f"  first start: ready in {first.seconds:.1f} s (reading the changelog "
            f"{first.reading:.1f} s), RSS {first.rss_mib:.0f} MiB"
        )
        stop_worker()
        second, _ = start_worker(path, log_path, timeout)
        say(
            f"  second start: ready in {second.seconds:.1f} s (reading the changelog "
            f"{second.reading:.1f} s), RSS {second.rss_mib:.0f} MiB"
        )
        stop_worker()
    finally:
        while _workers:
            stop_worker()
    row = Row(keys, store, first, second, disk_mib(data_dir))
    say(f"  data dir: {row.disk_mib:.0f} MiB")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--stores", nargs="+", default=["rocksdb://", "memory://"])
    parser.add_argument(
        "--memory-max", type=int, default=1_000_000, help="largest N run with memory://"
    )
    parser.add_argument("--partitions", type=int, default=3, help="raw and changelog partitions")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds one start may take to recover"
    )
    parser.add_argument("--bootstrap", help="an existing cluster instead of a local broker")
    parser.add_argument(
        "--keep", type=Path, help="keep configs, worker logs and data dirs here (not the broker)"
    )
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            workdir = args.keep
        broker = None
        bootstrap = args.bootstrap
        if bootstrap is None:
            port, controller = free_ports(2)
            broker = LocalKafka(Path(tmp) / "kafka", port=port, controller_port=controller)
            bootstrap = broker.start()
        try:
            for keys in args.keys:
                for store in args.stores:
                    if store.startswith("memory") and keys > args.memory_max:
                        say(f"{keys:,} keys, {store}: skipped (above --memory-max)")
                        continue
                    rows.append(run(bootstrap, workdir, keys, store, args.partitions, args.timeout))
        finally:
            if broker is not None:
                broker.stop()
    print()
    print(
        "| keys | store | 1st start: ready (reading) | RSS "
        "| 2nd start: ready (reading) | RSS | data dir |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.keys:,} | `{r.store}` | {r.first.seconds:.1f} s ({r.first.reading:.1f} s) "
            f"| {r.first.rss_mib:.0f} MiB | {r.second.seconds:.1f} s ({r.second.reading:.1f} s) "
            f"| {r.second.rss_mib:.0f} MiB | {r.disk_mib:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
