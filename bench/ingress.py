"""The ingress benchmark: every server side by side, interleaved rounds, medians, one command.

    .venv/bin/python bench/ingress.py                 # the full run (~10 min), BENCHMARKS.md
    .venv/bin/python bench/ingress.py --smoke         # seconds: every part once, no figures

Starts what it needs: a local Kafka broker (hookgate/kafka_local.py, unless --bootstrap), the
topics, and these servers, all at once on their own ports, each kept running for the whole run:

  bare         a bare Starlette POST handler on uvicorn: reads the body, answers 202 (ceiling)
  handwritten  Starlette + the `standardwebhooks` library + aiokafka `send_and_wait` per request
  default      `hookgate ingress` as shipped (per-delivery JSON log line on, to a file)
  tuned        `hookgate ingress` with the settings in TUNED below
  tuned-2p     the same with `--workers 2`

plus `produce`: a raw confluent-kafka produce loop with the ingress's producer settings, no HTTP
(the producer ceiling). Sources: `hmac` (Standard Webhooks) and `ed25519` (fal); bodies of
1 KB and 10 KB. One-process servers are pinned to CPU 0 (taskset) and the load generator to
CPU 1; the two-process server and its load generator share both cores. The broker is unpinned.

Each round measures every cell once with `wrk -t1 -c64` (closed loop: the maximum rate); the
order rotates from round to round so that drift on a shared machine spreads over all cells.
Then, at 50 % and 80 % of each cell's median maximum, bench/loadgen.py (open loop, fixed rate)
measures p50/p99/p99.9; and end to end, a worker runs and each 2xx is timed until its canonical
record is visible on the canonical topic.

Writes --out (JSON, every raw figure) and prints the table (also written next to it as .md).
`wrk` is installed with apt-get when missing and the user is root.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from confluent_kafka import Consumer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hookgate.kafka_local import LocalKafka  # noqa: E402
from hookgate.records import headers_of  # noqa: E402
from hookgate.topics import ensure  # noqa: E402
from schemas import config  # noqa: E402
from tests.support import free_ports  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - a test secret
FAL_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"hookgate bench fal").digest())
FAL_PUBLIC = base64.urlsafe_b64encode(
    FAL_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()
SIZES = {"1k": 1024, "10k": 10240}

#: What "tuned" changes against the shipped defaults: `hookgate ingress` arguments. Without the
#: per-delivery log line (for operators who take access logs from their proxy instead).
TUNED: list[str] = ["--log-level", "WARNING"]
#: Servers and the sources they take (bare and handwritten know only Standard Webhooks).
SERVERS = {
    "before": ("hmac", "ed25519"),
    "bare": ("hmac",),
    "handwritten": ("hmac",),
    "default": ("hmac", "ed25519"),
    "tuned": ("hmac", "ed25519"),
    "tuned-2p": ("hmac", "ed25519"),
}
TWO_PROCESS = {"tuned-2p"}


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# --- what is sent ------------------------------------------------------------------------------


def body_of(size: int, event: str) -> bytes:
    head = {"type": "job.done", "timestamp": "2026-11-30T10:00:00Z", "data": {"id": event}}
    doc = json.dumps({**head, "data": {"id": event, "output": "https://x/y.png", "pad": ""}})
    pad = size - len(doc)
    return doc.replace('"pad": ""', '"pad": "' + "x" * max(0, pad) + '"').encode()


def signed(source: str, size: int, event: str) -> tuple[dict[str, str], bytes]:
    body = body_of(size, event)
    now = dt.datetime.now(dt.UTC)
    if source == "hmac":
        signature = Webhook(SECRET).sign(event, now, body.decode())
        headers = {
            "webhook-id": event,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
    else:
        stamp = str(int(now.timestamp()))
        message = "\n".join([event, "user_bench", stamp, hashlib.sha256(body).hexdigest()])
        headers = {
            "x-fal-webhook-request-id": event,
            "x-fal-webhook-user-id": "user_bench",
            "x-fal-webhook-timestamp": stamp,
            "x-fal-webhook-signature": FAL_KEY.sign(message.encode()).hex(),
        }
    return {**headers, "content-type": "application/json"}, body


def wrk_script(headers: dict[str, str], body: bytes) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()]
    return "\n".join(lines) + "\n"


# --- processes ---------------------------------------------------------------------------------


def pinned(cpu: str | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if cpu is not None else command


@dataclass
class Server:
    name: str
    port: int
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cpu: str | None = None
    cwd: Path = ROOT
    process: subprocess.Popen[bytes] | None = None

    def start(self, workdir: Path) -> None:
        out = (workdir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            pinned(self.cpu, self.command),
            cwd=self.cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        out.close()

    def wait_ready(self, workdir: Path, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = (workdir / f"{self.name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{self.name} exited:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                path = "/healthz" if self.name in ("bare", "handwritten") else "/readyz"
                if httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=1).is_success:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not become ready in {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            # A fresh machine has no package lists yet.
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
        if shutil.which("wrk"):
            return
    raise SystemExit("wrk is not installed and could not be: apt-get install wrk")


def checked(command: list[str], timeout: float) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


# --- measurements ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants (uvicorn's workers)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family = {pid}
    grew = True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return sum(times.get(p, 0.0) for p in family)


def summary(figures: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = [f["cpu_us_per_request"] for f in figures if "cpu_us_per_request" in f]
    return {
        "median": statistics.median(f["rate"] for f in figures),
        "cpu_us_per_request": statistics.median(cpu) if cpu else None,
        "non_2xx": sum(f.get("non_2xx", 0) + f.get("failed", 0) for f in figures),
        "rounds": figures,
    }


def run_wrk(
    cpu: str | None, url: str, script: Path, seconds: float, connections: int = 64
) -> dict[str, Any]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(
        pinned(cpu, command), capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate,
        "requests": requests,
        "non_2xx": int(refused.group(1)) if refused else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def run_loadgen(
    cpu: str | None,
    port: int,
    requests: list[tuple[dict[str, str], bytes]],
    rate: float,
    seconds: float,
    workdir: Path,
    keep_times: bool = False,
) -> dict[str, Any]:
    path = workdir / f"requests-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps([{"headers": h, "body": b.decode()} for h, b in requests]))
    source = "fal" if "x-fal-webhook-request-id" in requests[0][0] else "sw"
    command = [
        sys.executable,
        str(ROOT / "bench" / "loadgen.py"),
        "--port",
        str(port),
        "--path",
        f"/webhooks/{source}",
        "--requests",
        str(path),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        *(["--times"] if keep_times else []),
    ]
    out = checked(pinned(cpu, command), seconds + 120)
    return dict(json.loads(out))


def run_produce_loop(cpu: str | None, bootstrap: str, topic: str, size: int, seconds: float) -> Any:
    command = [
        sys.executable,
        str(ROOT / "bench" / "produce_loop.py"),
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--bytes",
        str(size),
        "--seconds",
        str(seconds),
    ]
    out = checked(pinned(cpu, command), seconds + 120)
    return json.loads(out)


# --- configuration -----------------------------------------------------------------------------


def hookgate_config(
    workdir: Path, bootstrap: str, name: str, port: int, web_port: int
) -> tuple[Path, config.Settings]:
    document = {
        "kafka": {"bootstrap_servers": bootstrap},
        "topics": {
            "raw": {"name": f"{name}.raw", "partitions": 3},
            "canonical": {"name": f"{name}.canonical", "partitions": 3},
            "dead_letter": {"name": f"{name}.dlq", "partitions": 1},
        },
        "ingress": {"host": "127.0.0.1", "port": port},
        "worker": {
            "app_id": f"bench-{name}",
            "data_dir": str(workdir / f"{name}-worker"),
            "web_port": web_port,
        },
        "sources": [
            {
                "name": "sw",
                "provider": "standard-webhooks",
                "secrets": [SECRET],
                "tolerance": 3600,
            },
            {"name": "fal", "provider": "fal", "public_keys": [FAL_PUBLIC], "tolerance": 3600},
        ],
    }
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    settings = config.load(path, env={})
    ensure(settings, progress=lambda line: None)
    return path, settings


def servers_for(
    workdir: Path, bootstrap: str, tag: str, wanted: list[str], cpu: str | None, before: str
) -> tuple[dict[str, Server], str]:
    """The servers of the run, each on its own port; all hookgate ones share one raw topic."""
    ports = dict(zip(wanted, free_ports(len(wanted)), strict=True))
    servers: dict[str, Server] = {}
    raw_topic = ""
    uvicorn = [sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]
    for name in wanted:
        port = ports[name]
        if name == "bare":
            command = [*uvicorn, "--port", str(port), "bench.bare_app:app"]
            servers[name] = Server(name, port, command, cpu=cpu)
            continue
        path, settings = hookgate_config(workdir, bootstrap, f"{tag}-{name}", port, 0)
        raw_topic = raw_topic or settings.topics.raw.name
        if name == "handwritten":
            command = [*uvicorn, "--port", str(port), "bench.handwritten_app:app"]
            env = {
                "BENCH_BOOTSTRAP": bootstrap,
                "BENCH_TOPIC": settings.topics.raw.name,
                "BENCH_SECRET": SECRET,
            }
            servers[name] = Server(name, port, command, env=env, cpu=cpu)
            continue
        command = [sys.executable, "-m", "hookgate", "ingress", "--config", str(path)]
        if name == "before":
            # The ingress at another revision (default settings), from a copy of its tree:
            # `python -m hookgate` in that directory imports that revision's packages.
            tree = workdir / "before"
            tree.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", before], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            servers[name] = Server(name, port, command, cpu=cpu, cwd=tree)
            continue
        if name.startswith("tuned"):
            command += TUNED
        if name in TWO_PROCESS:
            command += ["--workers", "2"]
        servers[name] = Server(name, port, command, cpu=None if name in TWO_PROCESS else cpu)
    return servers, raw_topic


# --- end to end --------------------------------------------------------------------------------


def end_to_end(
    workdir: Path, bootstrap: str, tag: str, rate: float, seconds: float, cpu: str | None
) -> dict[str, Any]:
    """Open-loop deliveries with unique ids; each 2xx timed until its canonical record shows."""
    port, web_port = free_ports(2)
    path, settings = hookgate_config(workdir, bootstrap, f"{tag}-e2e", port, web_port)
    ingress = Server("e2e-ingress", port, [*_hookgate("ingress"), "--config", str(path)])
    worker = Server("e2e-worker", web_port, [*_hookgate("worker"), "--config", str(path)])
    seen: dict[str, float] = {}
    stop = threading.Event()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([settings.topics.canonical.name])

    def consume() -> None:
        while not stop.is_set():
            message = consumer.poll(0.05)
            if message is None or message.error():
                continue
            arrived = time.time()
            for key, value in headers_of(message):
                if key == "ce_id":
                    seen[value.decode()] = arrived

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    try:
        ingress.start(workdir)
        worker.start(workdir)
        ingress.wait_ready(workdir)
        # The worker is ready when a probe comes out the other end (start-up, rebalance).
        probe = f"msg_probe_{uuid.uuid4().hex[:8]}"
        headers, body = signed("hmac", 1024, probe)
        deadline = time.monotonic() + 120
        while probe not in seen:
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not emit the probe event within 120 s")
            if worker.process is not None and worker.process.poll() is not None:
                raise SystemExit((workdir / "e2e-worker.log").read_text()[-3000:])
            httpx.post(f"http://127.0.0.1:{port}/webhooks/sw", content=body, headers=headers)
            time.sleep(1)
        count = max(1, int(rate * seconds))
        events = [f"msg_e2e_{i}_{uuid.uuid4().hex[:8]}" for i in range(count)]
        requests = [signed("hmac", 1024, e) for e in events]
        result = run_loadgen(cpu, port, requests, rate, seconds, workdir, keep_times=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(e in seen for e in events):
            time.sleep(0.2)
        after_2xx: list[float] = []
        after_send: list[float] = []
        for n, sent, answered in result.pop("times"):
            event = events[n % len(events)]
            if event in seen:
                after_2xx.append(max(0.0, seen[event] - answered))
                after_send.append(seen[event] - sent)
        missing = sum(1 for e in events[: result["requests"]] if e not in seen)
        return {
            "rate": rate,
            "http": result,
            "canonical_missing": missing,
            "after_2xx": _ms(after_2xx),
            "after_send": _ms(after_send),
        }
    finally:
        stop.set()
        reader.join(5)
        consumer.close()
        worker.stop()
        ingress.stop()


def _hookgate(role: str) -> list[str]:
    return [sys.executable, "-m", "hookgate", role]


def _ms(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)

    def at(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "count": len(ordered)}


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Plan:
    rounds: int
    seconds: float
    latency_seconds: float
    servers: list[str]
    sources: list[str]
    sizes: list[str]
    latency_cells: list[tuple[str, str, str]]
    e2e_rate: float
    e2e_seconds: float


def cells(plan: Plan) -> list[tuple[str, str, str]]:
    out = [
        (server, source, size)
        for server in plan.servers
        for source in SERVERS[server]
        if source in plan.sources
        for size in plan.sizes
    ]
    return out + [("produce", "-", size) for size in plan.sizes]


def key(cell: tuple[str, str, str]) -> str:
    return "/".join(cell)


@contextlib.contextmanager
def broker(workdir: Path, bootstrap: str | None) -> Iterator[str]:
    if bootstrap is not None:
        yield bootstrap
        return
    port, controller = free_ports(2)
    kafka = LocalKafka(workdir / "kafka", port=port, controller_port=controller)
    log("starting the local Kafka broker")
    address = kafka.start()
    try:
        yield address
    finally:
        log("stopping the broker")
        kafka.stop()


def measure(args: argparse.Namespace, plan: Plan, workdir: Path) -> dict[str, Any]:
    two_cpus = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    server_cpu, load_cpu = ("0", "1") if two_cpus else (None, None)
    tag = f"bench{uuid.uuid4().hex[:6]}"
    results: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "tuned": TUNED,
        "plan": plan.__dict__,
        "pinning": {"server": server_cpu, "load": load_cpu},
        "throughput": {},
        "latency": {},
    }
    with broker(workdir, args.bootstrap) as bootstrap:
        servers, raw_topic = servers_for(
            workdir, bootstrap, tag, plan.servers, server_cpu, args.before
        )
        try:
            for started in servers.values():
                started.start(workdir)
            for started in servers.values():
                started.wait_ready(workdir)
            log(f"servers up: {', '.join(servers)}")
            todo = cells(plan)
            rounds: dict[str, list[dict[str, Any]]] = {key(c): [] for c in todo}
            warm: set[str] = set()
            for round_no in range(plan.rounds):
                shift = round_no * max(1, len(todo) // max(1, plan.rounds))
                order = todo[shift:] + todo[:shift]
                scripts = {}
                for source in plan.sources:
                    for size in plan.sizes:
                        script = workdir / f"{source}-{size}-{round_no}.lua"
                        script.write_text(wrk_script(*signed(source, SIZES[size], "msg_bench")))
                        scripts[source, size] = script
                for cell in order:
                    server, source, size = cell
                    if server == "produce":
                        figure = run_produce_loop(
                            server_cpu, bootstrap, raw_topic, SIZES[size], plan.seconds
                        )
                    else:
                        where = "sw" if source == "hmac" else "fal"
                        url = f"http://127.0.0.1:{servers[server].port}/webhooks/{where}"
                        cpu = None if server in TWO_PROCESS else load_cpu
                        if server not in warm:
                            run_wrk(cpu, url, scripts[source, size], min(2, plan.seconds))
                            warm.add(server)
                        process = servers[server].process
                        assert process is not None, f"{server} is not running"
                        pid = process.pid
                        cpu_before = cpu_seconds(pid)
                        figure = run_wrk(cpu, url, scripts[source, size], plan.seconds)
                        spent = cpu_seconds(pid) - cpu_before
                        figure["cpu_us_per_request"] = spent / max(1, figure["requests"]) * 1e6
                        if figure["non_2xx"] or figure["socket_errors"]:
                            log(f"WARNING {key(cell)}: {figure}")
                    rounds[key(cell)].append(figure)
                    log(
                        f"round {round_no + 1}/{plan.rounds} {key(cell):24} "
                        f"{figure['rate']:9.0f} /s"
                        + (
                            f"  {figure['cpu_us_per_request']:6.0f} us CPU/request"
                            if "cpu_us_per_request" in figure
                            else ""
                        )
                    )
            results["throughput"] = {k: summary(v) for k, v in rounds.items()}
            rates = {k: [r["rate"] for r in v] for k, v in rounds.items()}
            for cell in plan.latency_cells:
                server, source, size = cell
                if key(cell) not in rates:
                    continue
                cpu = None if server in TWO_PROCESS else load_cpu
                maximum = statistics.median(rates[key(cell)])
                for share in (0.5, 0.8):
                    requests = [signed(source, SIZES[size], "msg_bench")]
                    figure = run_loadgen(
                        cpu,
                        servers[server].port,
                        requests,
                        maximum * share,
                        plan.latency_seconds,
                        workdir,
                    )
                    results["latency"][f"{key(cell)}@{int(share * 100)}"] = figure
                    log(
                        f"latency {key(cell):20} at {int(share * 100)} % "
                        f"({figure['achieved_rate']:.0f}/s): p50 {figure['p50_ms']} ms, "
                        f"p99 {figure['p99_ms']} ms, p99.9 {figure['p999_ms']} ms"
                    )
        finally:
            for started in servers.values():
                started.stop()
        if plan.e2e_seconds > 0:
            log(f"end to end at {plan.e2e_rate:.0f}/s for {plan.e2e_seconds:.0f} s")
            results["end_to_end"] = end_to_end(
                workdir, bootstrap, tag, plan.e2e_rate, plan.e2e_seconds, load_cpu
            )
            log(f"end to end: {results['end_to_end']['after_2xx']}")
    return results


def results_path(kind: str) -> Path:
    """``bench/results/<kind>-<UTC time>.json``: where a run's results go by default."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return ROOT / "bench" / "results" / f"{kind}-{stamp}.json"


def write_results(out: Path, results: dict[str, Any], rendered: str) -> None:
    """The JSON at ``out``, its table beside it as ``.md``, and the table printed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(rendered)
    print(rendered)
    log(f"wrote {out} and {out.with_suffix('.md')}")


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
    }


def table(results: dict[str, Any]) -> str:
    thr = results["throughput"]

    def median(k: str) -> float | None:
        return thr[k]["median"] if k in thr else None

    lines = [
        "| server | source | body | req/s (median) | rounds min-max | x bare | x handwritten "
        "| CPU us/request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, v in thr.items():
        server, source, size = k.split("/")
        bare = median(f"bare/hmac/{size}")
        hand = median(f"handwritten/hmac/{size}")
        http = server not in ("bare", "produce")
        ratio_bare = f"{v['median'] / bare:.2f}" if bare and http else ""
        ratio_hand = f"{v['median'] / hand:.2f}" if hand and http else ""
        rates = [r["rate"] for r in v["rounds"]]
        cpu = f"{v['cpu_us_per_request']:.0f}" if v.get("cpu_us_per_request") else ""
        lines.append(
            f"| {server} | {source} | {size} | {v['median']:,.0f} | "
            f"{min(rates):,.0f}-{max(rates):,.0f} | {ratio_bare} | {ratio_hand} | {cpu} |"
        )
    if results["latency"]:
        lines += [
            "",
            "| server | source | body | load | achieved req/s | p50 ms | p99 ms | p99.9 ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for k, v in results["latency"].items():
            cell, share = k.split("@")
            server, source, size = cell.split("/")
            lines.append(
                f"| {server} | {source} | {size} | {share} % | {v['achieved_rate']:,.0f} | "
                f"{v['p50_ms']} | {v['p99_ms']} | {v['p999_ms']} |"
            )
    if "end_to_end" in results:
        e2e = results["end_to_end"]
        lines += [
            "",
            f"End to end (default ingress + worker, {e2e['rate']:.0f} req/s open loop): "
            f"2xx → canonical visible p50 {e2e['after_2xx']['p50_ms']} ms, "
            f"p99 {e2e['after_2xx']['p99_ms']} ms; send → canonical p50 "
            f"{e2e['after_send']['p50_ms']} ms, p99 {e2e['after_send']['p99_ms']} ms "
            f"({e2e['after_2xx']['count']} events, {e2e['canonical_missing']} not seen).",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="every part once, in seconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5, help="per throughput measurement")
    parser.add_argument("--latency-seconds", type=float, default=8)
    parser.add_argument(
        "--servers", nargs="+", default=list(SERVERS), choices=list(SERVERS), help="(all)"
    )
    parser.add_argument("--sources", nargs="+", default=["hmac", "ed25519"])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--e2e-rate", type=float, default=200)
    parser.add_argument("--e2e-seconds", type=float, default=10)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument(
        "--before",
        default="6d1d107",
        help="git revision of the `before` server: hookgate ingress before issue 11's changes",
    )
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/results/...)")
    args = parser.parse_args()
    latency_cells = [
        ("bare", "hmac", "1k"),
        ("handwritten", "hmac", "1k"),
        ("default", "hmac", "1k"),
        ("default", "ed25519", "1k"),
        ("tuned", "hmac", "1k"),
        ("tuned", "ed25519", "1k"),
        ("tuned-2p", "hmac", "1k"),
    ]
    if args.smoke:
        plan = Plan(1, 1, 1, ["bare", "handwritten", "default", "tuned-2p"], ["hmac", "ed25519"],
                    ["1k"], [("default", "hmac", "1k")], 20, 1)  # fmt: skip
    else:
        plan = Plan(
            args.rounds,
            args.seconds,
            args.latency_seconds,
            args.servers,
            args.sources,
            args.sizes,
            latency_cells,
            args.e2e_rate,
            args.e2e_seconds,
        )
    ensure_wrk()
    out = args.out or results_path("ingress")
    with tempfile.TemporaryDirectory(prefix="hookgate-bench-") as tmp:
        results = measure(args, plan, Path(tmp))
    write_results(out, results, table(results))


if __name__ == "__main__":
    main()
