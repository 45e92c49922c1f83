"""The worker benchmark (issue 7, "Fast"): the worker side by side with its references, one run.

    .venv/bin/python bench/worker_throughput.py                  # 3 interleaved rounds, ~15 min
    .venv/bin/python bench/worker_throughput.py --smoke          # every row once, about a minute

Starts a local Kafka broker (unless --bootstrap), and measures these rows, each once per round,
the order rotating from round to round so that drift on a shared machine spreads over all rows:

  consume-produce      a plain confluent-kafka loop, one process: reads a pre-filled raw topic
                       (3 partitions, --events records) and produces every record as it is to an
                       output topic (idempotent, acks=all, linger 5 ms); auto-commit off, one
                       commit at the end. Records/s from the first record consumed to the last
                       output acknowledged. (bench/consume_produce.py)
  logic-without-faust  the same loop with the worker's own stage per record
                       (`streams.pipeline.Stage`: decode, de-duplicate against a dict, the real
                       normalizers, encode), plus the de-duplication entry produced to a second
                       topic, as the worker writes its changelog. (bench/consume_produce.py --stage)
  ingress              `hookgate ingress` as shipped (default settings), one process: its
                       accepted (2xx) deliveries/s under `wrk -t1 -c64` for --seconds, ~1 KB
                       Standard Webhooks deliveries (bench/ingress.py's servers and wrk driver).
  worker/MODE/Np       `hookgate worker` (--guarantee MODE, defaults otherwise), N processes in one
                       group (--workers): started on an empty raw topic (3 partitions); once every
                       partition is assigned and the group is stable, --events raw records are
                       produced, and a `read_committed` reader times the canonical topic from its
                       first event to the last (start-up, rebalance and recovery not counted;
                       when the first batch read holds most events, as in --smoke, from the
                       start of the fill instead: `rate_basis` in the JSON says which).

The raw records are what the ingress writes for a ~1 KB Standard Webhooks delivery (the same
bodies the ingress row receives), each a distinct event. Pinning (taskset, 2+ cores): the loops,
the ingress and a single worker on CPU 0; wrk, and this script (which fills the raw topics and
reads the canonical ones) on CPU 1; 2 workers are not pinned, nor is the broker. With 3
partitions, 2 workers own 2 and 1 partitions, so their ideal speed-up over 1 worker is ~1.5x,
not 2x (the JSON has the exact figure per round); on a 2-core machine they also share both
cores with the broker and this script.

Writes bench/results/worker-<UTC time>.json (every figure, the load average at the start and end
of every round and measurement, the commit measured) and .md (the table, also printed). Progress
goes to stderr. `wrk` is installed with apt-get when missing and the user is root.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingress import (  # noqa: E402
    Server,
    broker,
    checked,
    cpu_seconds,
    ensure_wrk,
    hookgate_config,
    log,
    machine,
    pinned,
    results_path,
    run_wrk,
    signed,
    write_results,
    wrk_script,
)
from hookgate.topics import ensure  # noqa: E402
from schemas import config, tracecontext  # noqa: E402
from schemas.raw import RawDelivery  # noqa: E402
from tests.support import free_ports  # noqa: E402

PARTITIONS = 3
BODY_BYTES = 1024
LOOP = "consume-produce"
LOGIC = "logic-without-faust"
INGRESS = "ingress"
#: The issue's targets: worker exactly-once per process / one ingress process's accepted rate,
#: and the worker's at-least-once rate.
EOS_OVER_INGRESS_TARGET = 1.5
ALOS_TARGET = 6_000

Record = tuple[bytes, bytes, list[tuple[str, str | bytes | None]]]


@dataclass(frozen=True)
class WorkerRow:
    guarantee: str
    processes: int
    max_in_flight: int | None

    @property
    def key(self) -> str:
        suffix = f"/mif{self.max_in_flight}" if self.max_in_flight is not None else ""
        return f"worker/{self.guarantee}/{self.processes}p{suffix}"


@dataclass
class Run:
    """What every measurement of one run shares."""

    args: argparse.Namespace
    workdir: Path
    bootstrap: str
    tag: str
    events: int
    seconds: float
    records: list[Record]
    main_cpu: str | None
    load_cpu: str | None
    loop_config: Path | None = None
    state_topic: str = ""
    ingress: Server | None = None
    ingress_warm: bool = False
    count: int = 0
    broker_pid: int | None = None
    topics: list[str] = field(default_factory=list)


# --- the raw records ---------------------------------------------------------------------------


def raw_records(events: int, tag: str) -> list[Record]:
    """What the ingress writes for `events` distinct ~1 KB Standard Webhooks deliveries."""
    out: list[Record] = []
    now = time.time()
    for i in range(events):
        event = f"msg_{tag}_{i}"
        headers, body = signed("hmac", BODY_BYTES, event)
        delivery = RawDelivery(
            source="sw",
            provider="standard-webhooks",
            scheme="standard-webhooks",
            event_id=event,
            received_at_ms=int(now * 1000) + i,
            content_type=headers["content-type"],
            body=body,
            sender_headers=tuple(
                (h, headers[h]) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
            ),
            signed_at_ms=int(headers["webhook-timestamp"]) * 1000,
            key_index=0,
            trace=tracecontext.new(),
        )
        out.append((delivery.key, delivery.body, [*delivery.headers()]))
    return out


def fill(bootstrap: str, topic: str, records: list[Record]) -> list[int]:
    """Produce the records (default partitioner, by key); returns the records per partition."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True}
    )
    for key, value, headers in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=list(headers))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(60):
        raise SystemExit(f"could not fill {topic}")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        ]
    finally:
        consumer.close()


def warm_transactions(bootstrap: str) -> None:
    """A fresh broker starts its transaction coordinator on the first transactional producer
    (~20 s here); pay for it once, before anything is timed."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"bench-warm-{uuid.uuid4().hex}"}
    )
    producer.init_transactions(120)


def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result()


def broker_pid(workdir: Path) -> int | None:
    """The local broker's pid (its command line names its home), for its CPU per event."""
    home = str(workdir / "kafka")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if home in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    return int(entry.name)
    return None


# --- rows --------------------------------------------------------------------------------------


def loop_row(run: Run, stage: bool) -> dict[str, Any]:
    assert run.loop_config is not None
    command = [
        sys.executable,
        str(ROOT / "bench" / "consume_produce.py"),
        "--bootstrap",
        run.bootstrap,
        "--config",
        str(run.loop_config),
        "--events",
        str(run.events),
    ]
    if stage:
        command += ["--stage", "--state-topic", run.state_topic]
    figure = dict(json.loads(checked(pinned(run.main_cpu, command), 600)))
    outcomes = figure.get("outcomes", {})
    if stage and outcomes != {"emitted": run.events}:
        log(f"WARNING {LOGIC}: outcomes {outcomes}, expected {run.events} emitted")
    return figure


def ingress_row(run: Run, round_no: int) -> dict[str, Any]:
    assert run.ingress is not None
    assert run.ingress.process is not None
    script = run.workdir / f"ingress-{round_no}.lua"
    script.write_text(wrk_script(*signed("hmac", BODY_BYTES, "msg_bench")))
    url = f"http://127.0.0.1:{run.ingress.port}/webhooks/sw"
    if not run.ingress_warm:
        run_wrk(run.load_cpu, url, script, min(2, run.seconds))
        run.ingress_warm = True
    before = cpu_seconds(run.ingress.process.pid)
    figure: dict[str, Any] = run_wrk(run.load_cpu, url, script, run.seconds)
    spent = cpu_seconds(run.ingress.process.pid) - before
    total = max(1, figure["requests"])
    figure["requests_per_s"] = figure["rate"]
    # The accepted rate: only 2xx answers count.
    figure["rate"] = figure["rate"] * (total - figure["non_2xx"]) / total
    figure["cpu_us_per_event"] = spent / total * 1e6
    if figure["non_2xx"] or figure["socket_errors"]:
        log(f"WARNING {INGRESS}: {figure}")
    return figure


class Reader:
    """Counts the canonical topic's records as a `read_committed` consumer sees them."""

    def __init__(self, bootstrap: str, topic: str, events: int) -> None:
        self._events = events
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-reader-{uuid.uuid4().hex[:8]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                # Caught up, a fetch waits at most this long for new committed records.
                "fetch.wait.max.ms": 20,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        self.records = 0
        self.keys: set[bytes | None] = set()
        self.first: tuple[float, int] | None = None
        #: When the last of the `events` distinct events was seen.
        self.last = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            batch = self._consumer.consume(1000, 0.02)
            now = time.monotonic()
            for message in batch:
                if message.error() is None:
                    self.records += 1
                    self.keys.add(message.key())
            if batch:
                if self.first is None:
                    self.first = (now, len(self.keys))
                if not self.last and len(self.keys) >= self._events:
                    self.last = now

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def stack_document(run: Run, name: str, worker: dict[str, Any] | None = None) -> dict[str, Any]:
    """A hookgate config for one measurement: its own topics, named after ``name``."""
    document: dict[str, Any] = {
        "kafka": {"bootstrap_servers": run.bootstrap},
        "topics": {
            "raw": {"name": f"{name}.raw", "partitions": PARTITIONS},
            "canonical": {"name": f"{name}.canonical", "partitions": PARTITIONS},
            "dead_letter": {"name": f"{name}.dlq", "partitions": 1},
        },
    }
    if worker is not None:
        document["worker"] = worker
    return document


def worker_row(run: Run, row: WorkerRow, round_no: int) -> dict[str, Any]:
    run.count += 1
    name = f"{run.tag}-w{run.count}"
    ports = free_ports(row.processes)
    worker: dict[str, Any] = {"app_id": name, "guarantee": row.guarantee}
    if row.max_in_flight is not None:
        worker["max_in_flight"] = row.max_in_flight
    document = stack_document(run, name, worker=worker)
    path = run.workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    settings = config.load(path, env={})
    ensure(settings, progress=lambda line: None)
    processes = []
    for i, port in enumerate(ports):
        command = [sys.executable, "-m", "hookgate", "worker", "--config", str(path)]
        if run.args.profile is not None:
            folded = run.args.profile / (
                f"worker-{row.guarantee}-{row.processes}p{i + 1}-round{round_no + 1}.folded"
            )
            command = [py_spy(), "record", "--format", "raw", "-r", "200", "-o", str(folded),
                       "--", *command]  # fmt: skip
        # One process on the measured core; more share every core with the broker and this
        # script, the scheduler placing them (as bench/ingress.py's two-process server).
        cpu = run.main_cpu if row.processes == 1 else None
        env = {
            "HOOKGATE_WORKER_WEB_PORT": str(port),
            "HOOKGATE_WORKER_DATA_DIR": str(run.workdir / f"{name}-{i}"),
        }
        processes.append(Server(f"{name}-{i}", port, command, env=env, cpu=cpu))
    reader: Reader | None = None
    try:
        started = time.monotonic()
        for process in processes:
            process.start(run.workdir)
        assignment = wait_assigned(run, processes)
        ready_s = time.monotonic() - started
        reader = Reader(run.bootstrap, settings.topics.canonical.name, run.events)
        pids = [p.process.pid for p in processes if p.process is not None]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        window_start = time.monotonic()
        broker_before = cpu_seconds(run.broker_pid) if run.broker_pid else 0.0
        filling = time.monotonic()
        per_partition = fill(run.bootstrap, settings.topics.raw.name, run.records)
        fill_s = time.monotonic() - filling
        last_change, seen = time.monotonic(), 0
        while len(reader.keys) < run.events:
            time.sleep(0.05)
            if len(reader.keys) != seen:
                last_change, seen = time.monotonic(), len(reader.keys)
            for process in processes:
                assert process.process is not None
                if process.process.poll() is not None:
                    raise SystemExit(f"{process.name} exited:\n{tail(run, process)}")
            if time.monotonic() - last_change > 120:
                raise SystemExit(
                    f"{row.key}: {seen} of {run.events} events, none for 120 s:\n"
                    + tail(run, processes[0])
                )
        spent = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        window = time.monotonic() - window_start
        cpu_used = sum(spent)
        broker_cpu = cpu_seconds(run.broker_pid) - broker_before if run.broker_pid else None
        assert reader.first is not None
        first, first_count = reader.first
        rate, basis, seconds = event_rate(run.events, filling, first, first_count, reader.last)
        owned = [sum(per_partition[p] for p in parts) for parts in assignment]
        figure: dict[str, Any] = {
            "rate": rate,
            "rate_basis": basis,
            "events": run.events,
            "seconds": seconds,
            "first_count": first_count,
            "duplicates": reader.records - len(reader.keys),
            "ready_s": ready_s,
            # The raw records are produced faster than any worker takes them (or this says not).
            "fill_s": fill_s,
            "cpu_us_per_event": cpu_used / run.events * 1e6,
            # Per process: CPU seconds from the fill's start to the last event, and that window.
            "cpu_s": spent,
            "cpu_window_s": window,
            "broker_cpu_us_per_event": (
                broker_cpu / run.events * 1e6 if broker_cpu is not None else None
            ),
            "assignment": assignment,
            "records_per_partition": per_partition,
            # Each process can go no faster than 1 worker: the process with the most records
            # bounds the speed-up over 1 worker.
            "ideal_speedup": run.events / max(owned),
            "cpus": [p.cpu for p in processes],
        }
        return figure
    finally:
        if reader is not None:
            reader.close()
        for process in processes:
            if process.process is None or process.process.poll() is not None:
                continue
            # py-spy writes its profile on SIGINT (and passes it on to the worker).
            process.process.send_signal(signal.SIGINT if run.args.profile else signal.SIGTERM)
        for process in processes:
            if process.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.process.wait(60)
        for process in processes:
            process.stop()
        delete_topics(run.bootstrap, name)


def event_rate(
    events: int, filled_at: float, first: float, first_count: int, last: float
) -> tuple[float, str, float]:
    """Events/s on the canonical topic, the basis it was taken on, and the seconds it spans.

    Normally from the reader's first batch to the last event, the first batch not counted, so
    that start-up latency does not weigh on the rate. When that first batch already held most of
    the events (a small run: one fetch, or one exactly-once transaction, can carry them all), what
    is left is no measurement, so the rate is taken from the start of the fill instead.
    """
    if first_count * 2 <= events and last > first:
        seconds = last - first
        return (events - first_count) / seconds, "first-batch-to-last", seconds
    seconds = max(last - filled_at, 1e-6)
    return events / seconds, "fill-to-last", seconds


def wait_assigned(run: Run, processes: list[Server], timeout: float = 180) -> list[list[int]]:
    """Until every partition is assigned, every process owns one (up to the partition count),
    nobody rebalances, and that holds on two looks 0.5 s apart."""
    deadline = time.monotonic() + timeout
    previous: list[list[int]] | None = None
    while time.monotonic() < deadline:
        time.sleep(0.5)
        looks: list[tuple[list[int], bool]] = []
        for process in processes:
            assert process.process is not None
            if process.process.poll() is not None:
                raise SystemExit(f"{process.name} exited:\n{tail(run, process)}")
            try:
                page = httpx.get(f"http://127.0.0.1:{process.port}/healthz", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                looks = []
                break
            looks.append((sorted(page["partitions"]), bool(page["rebalancing"])))
        if not looks:
            previous = None
            continue
        assignment = [parts for parts, _ in looks]
        owners = min(len(processes), PARTITIONS)
        stable = (
            sorted(p for parts in assignment for p in parts) == list(range(PARTITIONS))
            and sum(1 for parts in assignment if parts) == owners
            and not any(busy for _, busy in looks)
        )
        if stable and assignment == previous:
            return assignment
        previous = assignment if stable else None
    raise SystemExit(f"the workers were not assigned every partition in {timeout} s")


def tail(run: Run, process: Server) -> str:
    path = run.workdir / f"{process.name}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-40:]) if path.exists() else ""


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


# --- the run -----------------------------------------------------------------------------------


def plan_rows(args: argparse.Namespace) -> list[str | WorkerRow]:
    rows: list[str | WorkerRow] = [LOOP, LOGIC, INGRESS]
    for guarantee in args.guarantee:
        for processes in args.workers:
            if processes > 1 and guarantee not in getattr(args, "smoke_many", [guarantee]):
                continue
            for max_in_flight in args.max_in_flight or [None]:
                rows.append(WorkerRow(guarantee, processes, max_in_flight))
    return rows


def row_key(row: str | WorkerRow) -> str:
    return row.key if isinstance(row, WorkerRow) else row


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    two_cpus = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    main_cpu, load_cpu = ("0", "1") if two_cpus else (None, None)
    tag = f"wbench{uuid.uuid4().hex[:6]}"
    rows = plan_rows(args)
    results: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "commit": git("log", "-1", "--format=%h"),
        "streams_commit": git("log", "-1", "--format=%h", "--", "streams/"),
        "streams_changed": bool(git("status", "--porcelain", "--", "streams/")),
        "plan": {
            "events": args.events,
            "rounds": args.rounds,
            "ingress_seconds": args.seconds,
            "rows": [row_key(r) for r in rows],
            "profiled": args.profile is not None,
        },
        "pinning": {"measured": main_cpu, "load_and_this_script": load_cpu, "workers_2+": None},
        "rounds": [],
        "rows": {},
    }
    log(f"raw records: {args.events} distinct ~1 KB Standard Webhooks deliveries")
    records = raw_records(args.events, tag)
    with broker(workdir, args.bootstrap) as bootstrap:
        run = Run(args, workdir, bootstrap, tag, args.events, args.seconds, records, main_cpu,
                  load_cpu)  # fmt: skip
        run.broker_pid = broker_pid(workdir) if args.bootstrap is None else None
        if load_cpu is not None:
            # This script (filling raw topics, reading canonical ones) on the load generator's
            # core, away from what is measured; the broker, started before, stays unpinned.
            os.sched_setaffinity(0, {int(load_cpu)})
        try:
            prepare(run, rows)
            figures: dict[str, list[dict[str, Any]]] = {row_key(r): [] for r in rows}
            for round_no in range(args.rounds):
                shift = round_no * max(1, len(rows) // max(1, args.rounds))
                order = rows[shift:] + rows[:shift]
                record: dict[str, Any] = {
                    "round": round_no + 1,
                    "order": [row_key(r) for r in order],
                    "load_average_start": os.getloadavg(),
                    "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
                log(f"round {round_no + 1}/{args.rounds}, load average {os.getloadavg()[0]:.1f}")
                for row in order:
                    load_before = os.getloadavg()
                    figure = measure_row(run, row, round_no)
                    figure["load_average"] = [load_before, os.getloadavg()]
                    figure["round"] = round_no + 1
                    figures[row_key(row)].append(figure)
                    extra = (
                        f", {figure['duplicates']} duplicates" if figure.get("duplicates") else ""
                    )
                    log(
                        f"round {round_no + 1}/{args.rounds} {row_key(row):32} "
                        f"{figure['rate']:9.0f} /s  {figure['cpu_us_per_event']:6.0f} us CPU/event"
                        f"{extra}"
                    )
                record["load_average_end"] = os.getloadavg()
                results["rounds"].append(record)
        finally:
            if run.ingress is not None:
                run.ingress.stop()
            if args.bootstrap is not None:
                delete_topics(bootstrap, tag)
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["rows"] = {k: summary(v) for k, v in figures.items()}
    results["ratios"] = ratios(results["rows"], args)
    return results


def prepare(run: Run, rows: list[str | WorkerRow]) -> None:
    keys = {row_key(r) for r in rows}
    if any(isinstance(r, WorkerRow) and r.guarantee == "exactly_once" for r in rows):
        log("warming the broker's transaction coordinator")
        warm_transactions(run.bootstrap)
    if LOOP in keys or LOGIC in keys:
        name = f"{run.tag}-loops"
        document = stack_document(run, name)
        run.loop_config = run.workdir / f"{name}.yaml"
        run.loop_config.write_text(yaml.safe_dump(document))
        settings = config.load(run.loop_config, env={})
        ensure(settings, progress=lambda line: None)
        run.state_topic = f"{name}.state"
        admin = AdminClient({"bootstrap.servers": run.bootstrap})
        topic = NewTopic(run.state_topic, PARTITIONS, 1, config={"cleanup.policy": "compact"})
        for future in admin.create_topics([topic]).values():
            future.result()
        log(f"filling the loops' raw topic with {run.events} records")
        fill(run.bootstrap, settings.topics.raw.name, run.records)
    if INGRESS in keys:
        ensure_wrk()
        port, web_port = free_ports(2)
        path, _ = hookgate_config(run.workdir, run.bootstrap, f"{run.tag}-ingress", port, web_port)
        command = [sys.executable, "-m", "hookgate", "ingress", "--config", str(path)]
        run.ingress = Server("ingress", port, command, cpu=run.main_cpu)
        run.ingress.start(run.workdir)
        run.ingress.wait_ready(run.workdir)
        log(f"ingress up on port {port} (CPU {run.main_cpu}), wrk on CPU {run.load_cpu}")


def measure_row(run: Run, row: str | WorkerRow, round_no: int) -> dict[str, Any]:
    if isinstance(row, WorkerRow):
        return worker_row(run, row, round_no)
    if row == INGRESS:
        return ingress_row(run, round_no)
    return loop_row(run, stage=row == LOGIC)


def summary(figures: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = [f["cpu_us_per_event"] for f in figures if f.get("cpu_us_per_event") is not None]
    return {
        "median": statistics.median(f["rate"] for f in figures),
        "cpu_us_per_event": statistics.median(cpu) if cpu else None,
        "rounds": figures,
    }


def ratios(rows: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The issue's ratios, of medians, and per round (rows of one round ran minutes apart)."""
    mif = args.max_in_flight[0] if args.max_in_flight else None

    def median(key: str) -> float | None:
        return rows[key]["median"] if key in rows else None

    def by_round(key: str) -> list[float]:
        return [f["rate"] for f in rows[key]["rounds"]] if key in rows else []

    def ratio(top: str, bottom: str) -> dict[str, Any] | None:
        a, b = median(top), median(bottom)
        if a is None or not b:
            return None
        paired = [x / y for x, y in zip(by_round(top), by_round(bottom), strict=False) if y]
        return {"of": [top, bottom], "median_ratio": a / b, "per_round": paired}

    out: dict[str, Any] = {}
    eos = WorkerRow("exactly_once", 1, mif).key
    alos = WorkerRow("at_least_once", 1, mif).key
    out["eos_over_ingress"] = ratio(eos, INGRESS)
    out["eos_over_ingress_target"] = EOS_OVER_INGRESS_TARGET
    out["alos_rate"] = median(alos)
    out["alos_target"] = ALOS_TARGET
    for key in rows:
        if key.startswith("worker/"):
            out[f"{key} / {LOOP}"] = ratio(key, LOOP)
            out[f"{key} / {LOGIC}"] = ratio(key, LOGIC)
    for guarantee in args.guarantee:
        one = WorkerRow(guarantee, 1, mif).key
        for processes in args.workers:
            if processes == 1:
                continue
            many = WorkerRow(guarantee, processes, mif).key
            scaling = ratio(many, one)
            if scaling is not None and many in rows:
                scaling["ideal"] = statistics.median(
                    f["ideal_speedup"] for f in rows[many]["rounds"]
                )
            out[f"{many} / {one}"] = scaling
    return out


def git(*command: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *command], capture_output=True, text=True)
    return done.stdout.strip()


# --- the table ---------------------------------------------------------------------------------

LABELS = {
    LOOP: "consume→produce loop (confluent-kafka, 1 process)",
    LOGIC: "worker logic without Faust (Stage + confluent-kafka, 1 process)",
    INGRESS: "one `hookgate ingress` process, accepted 2xx/s (wrk -t1 -c64, 1 KB)",
}


def label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    _, guarantee, rest = key.split("/", 2)
    processes, _, mif = rest.partition("/")
    count = int(processes.rstrip("p"))
    text = f"`hookgate worker` {guarantee}, {count} process{'es' if count > 1 else ''}"
    return text + (f", max_in_flight {mif[3:]}" if mif else "")


def table(results: dict[str, Any]) -> str:
    rows = results["rows"]
    loop = rows.get(LOOP, {}).get("median")
    logic = rows.get(LOGIC, {}).get("median")
    ingress = rows.get(INGRESS, {}).get("median")

    def times(value: float, base: float | None) -> str:
        return f"{value / base:.2f}" if base else ""

    lines = [
        f"Worker benchmark, {results['started']} (streams/ at {results['streams_commit']}"
        f"{', with uncommitted changes' if results['streams_changed'] else ''}), "
        f"{results['plan']['events']:,} events, {results['plan']['rounds']} round(s), "
        f"{results['machine']['cores']} cores, load average "
        f"{load_range(results)}.",
        "",
        "| row | events/s (median) | rounds min-max | x consume→produce | x logic w/o Faust "
        "| x ingress | CPU us/event |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in rows.items():
        rates = [f["rate"] for f in row["rounds"]]
        worker = key.startswith("worker/")
        cpu = f"{row['cpu_us_per_event']:.0f}" if row.get("cpu_us_per_event") else ""
        lines.append(
            f"| {label(key)} | {row['median']:,.0f} | {min(rates):,.0f}-{max(rates):,.0f} | "
            f"{times(row['median'], loop) if worker or key == LOGIC else ''} | "
            f"{times(row['median'], logic) if worker else ''} | "
            f"{times(row['median'], ingress) if worker else ''} | {cpu} |"
        )
    r = results["ratios"]
    lines += ["", "| issue 7 asks | measured | met |", "|---|---:|---|"]
    if r.get("eos_over_ingress"):
        e = r["eos_over_ingress"]
        lines.append(
            f"| worker exactly_once, 1 process / one ingress process's accepted rate "
            f">= {r['eos_over_ingress_target']} | {e['median_ratio']:.2f} "
            f"(rounds {spread(e['per_round'])}) | "
            f"{'yes' if e['median_ratio'] >= r['eos_over_ingress_target'] else 'no'} |"
        )
    if r.get("alos_rate") is not None:
        lines.append(
            f"| worker at_least_once, 1 process >= {r['alos_target']:,} events/s | "
            f"{r['alos_rate']:,.0f} | {'yes' if r['alos_rate'] >= r['alos_target'] else 'no'} |"
        )
    for key, value in r.items():
        if value and " / worker/" in key and "ideal" in value:
            many = value["of"][0]
            lines.append(
                f"| {label(many)} / 1 process: near-linear (ideal with 3 partitions "
                f"{value['ideal']:.2f}) | {value['median_ratio']:.2f} "
                f"(rounds {spread(value['per_round'])}) | see note |"
            )
    return "\n".join(lines) + "\n"


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def load_range(results: dict[str, Any]) -> str:
    loads = [
        x for r in results["rounds"] for x in (r["load_average_start"][0], r["load_average_end"][0])
    ]
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="raw records per row (20000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument(
        "--seconds", type=float, default=5, help="the ingress row's wrk duration (5)"
    )
    parser.add_argument(
        "--guarantee",
        nargs="+",
        default=["exactly_once", "at_least_once"],
        choices=["exactly_once", "at_least_once"],
        help="worker modes (both)",
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker processes per row (1 2)"
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        nargs="+",
        help="worker max_in_flight values, one row each (default: the worker's default)",
    )
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample every worker process with py-spy into "
        "DIR/worker-MODE-Np<i>-round<r>.folded (the figures then include py-spy's cost)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every row once with few events and 1 s of ingress load: checks, no figures",
    )
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/results/...)")
    args = parser.parse_args()
    if args.smoke:
        # Within a minute on a running broker: the 2-process row for the first mode only.
        args.events, args.rounds, args.seconds = 500, 1, 1
        args.smoke_many = args.guarantee[:1]
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    out = args.out or results_path("worker")
    with tempfile.TemporaryDirectory(prefix="hookgate-wbench-") as tmp:
        results = measure(args, Path(tmp))
    write_results(out, results, table(results))


if __name__ == "__main__":
    main()
