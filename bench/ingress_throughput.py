"""Ingress requests per second on a real broker, beside the bare Starlette ceiling.

Runs, one after the other, each on uvicorn (uvloop + httptools, one process) and loaded by `wrk`
over loopback with the same signed Standard Webhooks delivery:

- `bare`: a Starlette app whose POST handler reads the body and answers 200 (the ceiling);
- `hookgate`: `hookgate ingress`: verify, produce with acks=all, wait for the ack, answer 200.

    apt-get install wrk   # Debian's package
    .venv/bin/python bench/ingress_throughput.py --seconds 15 --connections 32

Starts its own broker from the cached jars unless --bootstrap names one. The event id is fixed,
so the raw topic gets the same event over and over: the ingress does not de-duplicate (the
worker does), so this measures exactly the per-request path.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hookgate.kafka_local import LocalKafka
from hookgate.topics import ensure
from ingress.schemes.standard_webhooks import decode_secret, sign
from schemas import config
from tests.support import SECRET, free_ports

BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def receive(request):
    await request.body()
    return JSONResponse({"status": "accepted"})

app = Starlette(routes=[Route("/webhooks/{source}", receive, methods=["POST"])])
"""


def wrk_script(body: bytes, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code in (200, 404, 405):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def load(url: str, script: Path, seconds: int, connections: int) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} requests were refused:\n{out}")
    return rate, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = None
        bootstrap = args.bootstrap
        if bootstrap is None:
            port, controller = free_ports(2)
            broker = LocalKafka(workdir / "kafka", port=port, controller_port=controller)
            bootstrap = broker.start()
        try:
            name = f"bench{uuid.uuid4().hex[:6]}"
            (http_port,) = free_ports(1)
            document = {
                "kafka": {"bootstrap_servers": bootstrap},
                "topics": {
                    "raw": {"name": f"{name}.raw", "partitions": 3},
                    "canonical": f"{name}.canonical",
                    "dead_letter": f"{name}.dlq",
                },
                "ingress": {"port": http_port},
                "sources": [
                    {
                        "name": "bench",
                        "provider": "standard-webhooks",
                        "secrets": [SECRET],
                        "tolerance": 3600,
                    }
                ],
            }
            path = workdir / "bench.yaml"
            path.write_text(yaml.safe_dump(document))
            settings = config.load(path, env={})
            ensure(settings, progress=lambda line: None)
            body = json.dumps(
                {
                    "type": "job.done",
                    "timestamp": "2026-11-27T10:00:00Z",
                    "data": {"id": "job_1", "output": "https://x/y.png"},
                }
            ).encode()
            timestamp = int(time.time())
            headers = {
                "webhook-id": "msg_bench",
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(decode_secret(SECRET), "msg_bench", timestamp, body),
                "content-type": "application/json",
            }
            script = workdir / "post.lua"
            script.write_text(wrk_script(body, headers))
            (workdir / "bare_app.py").write_text(textwrap.dedent(BARE_APP))
            url = f"http://127.0.0.1:{http_port}/webhooks/bench"
            runs = {
                "bare starlette": [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bare_app:app",
                    "--port",
                    str(http_port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                "hookgate ingress": [
                    sys.executable,
                    "-m",
                    "hookgate",
                    "ingress",
                    "--config",
                    str(path),
                    "--log-level",
                    "WARNING",
                ],
            }
            for label, command in runs.items():
                server = subprocess.Popen(
                    command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                try:
                    wait_ready(url.replace("/webhooks/bench", "/healthz"))
                    load(url, script, 3, args.connections)  # warm-up
                    rate, p50, p99 = load(url, script, args.seconds, args.connections)
                    print(f"{label:18} {rate:8.0f} req/s   p50 {p50:>8}   p99 {p99:>8}", flush=True)
                finally:
                    server.terminate()
                    server.wait(30)
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()
