"""The chart and the code agree: the containers `helm template` renders (command from the image's
entrypoint, args, environment with Secrets resolved, the ConfigMap's config file at its mount
path) run as local processes against the test session's broker, and a signed delivery comes out
as a canonical CloudEvent. The same processes' /metrics must carry every metric the Grafana
dashboard and the alert rules query."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.v1.kafka import KafkaMessage, from_binary
from confluent_kafka import Producer
from dockerfile_parse import DockerfileParser
from standardwebhooks import Webhook

from tests.deploy.chart import CHART, ROOT, find, render
from tests.support import SECRET, free_ports, read_all, wait_until

pytestmark = pytest.mark.kafka

#: What the cluster's Secrets would hold: (Secret name, key) -> value.
SECRETS = {("demo-webhook", "current"): SECRET}


@dataclass
class Pod:
    """One rendered container, run as a local process the way the kubelet would run it."""

    name: str
    manifest: dict[str, Any]
    configmaps: dict[str, dict[str, str]]
    root: Path
    process: subprocess.Popen[bytes] | None = None
    mounts: dict[str, Path] = field(default_factory=dict)

    @property
    def container(self) -> dict[str, Any]:
        spec = self.manifest["spec"]["template"]["spec"]
        assert len(spec["containers"]) == 1
        return dict(spec["containers"][0])

    def prepare(self) -> None:
        spec = self.manifest["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        claims = {
            c["metadata"]["name"] for c in self.manifest["spec"].get("volumeClaimTemplates", [])
        }
        for mount in self.container["volumeMounts"]:
            local = self.root / mount["mountPath"].lstrip("/")
            volume = volumes.get(mount["name"])
            if volume and "configMap" in volume:
                data = self.configmaps[volume["configMap"]["name"]]
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(data[mount["subPath"]])
            else:  # emptyDir or a PersistentVolumeClaim: a fresh directory
                assert mount["name"] in claims or (volume and "emptyDir" in volume), mount
                local.mkdir(parents=True, exist_ok=True)
            self.mounts[mount["mountPath"]] = local

    def local(self, value: str) -> str:
        """A container path as the local path its mount is at."""
        for path, local in sorted(self.mounts.items(), key=lambda m: -len(m[0])):
            if value == path or value.startswith(path + "/"):
                return str(local) + value[len(path) :]
        return value

    def environment(self) -> dict[str, str]:
        # PYTHONPATH: the code of this checkout, as the image has it, even when the console
        # script's environment has another checkout installed in editable mode (a git worktree).
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root), "PYTHONPATH": str(ROOT)}
        for item in self.container.get("env", []):
            if "value" in item:
                env[item["name"]] = self.local(item["value"])
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = SECRETS[(ref["name"], ref["key"])]
        # The one change to what the chart gives: the pod's network namespace is this machine's,
        # so the ingress binds loopback instead of every interface (0.0.0.0 in the config).
        env["HOOKGATE_INGRESS_HOST"] = "127.0.0.1"
        return env

    def start(self) -> None:
        self.prepare()
        argv = [*_entrypoint(), *(self.local(a) for a in self.container["args"])]
        log = (self.root / "log").open("ab")
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=self.environment(), cwd=self.root
        )
        log.close()

    def wait(self, timeout: float) -> int:
        assert self.process
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return (self.root / "log").read_text(errors="replace")

    def port(self, name: str) -> int:
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        return int(ports[name])


def _entrypoint() -> list[str]:
    """The image's ENTRYPOINT, resolved in this environment (the `hookgate` console script)."""
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    entrypoint = [i["value"] for i in parser.structure if i["instruction"] == "ENTRYPOINT"][-1]
    command, *rest = json.loads(entrypoint)
    return [str(Path(sys.executable).parent / command), *rest]


@dataclass
class Release:
    docs: list[dict[str, Any]]
    pods: dict[str, Pod]
    raw_topic: str
    canonical_topic: str

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.pods['ingress'].port('http')}{path}"

    def worker_metrics(self) -> str:
        port = self.pods["worker"].port("metrics")
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def _values(bootstrap: str, name: str) -> dict[str, Any]:
    ingress_port, web_port = free_ports(2)
    return {
        "kafka": {"bootstrapServers": bootstrap, "deliveryTimeoutMs": 3000},
        "topics": {
            "raw": {"name": f"{name}.raw", "partitions": 3, "replicationFactor": 1, "config": {}},
            "canonical": {
                "name": f"{name}.canonical",
                "partitions": 3,
                "replicationFactor": 1,
                "config": {},
            },
            "deadLetter": {
                "name": f"{name}.dlq",
                "partitions": 1,
                "replicationFactor": 1,
                "config": {},
            },
        },
        "sources": [
            {
                "name": "demo",
                "provider": "standard-webhooks",
                "secrets": [{"existingSecret": "demo-webhook", "key": "current"}],
            }
        ],
        "ingress": {"port": ingress_port},
        # memory://: the test environment does not install the rocksdb extra (the image does)
        "worker": {"webPort": web_port, "appId": f"hookgate-{name}", "store": "memory://"},
        "monitoring": {"prometheusRule": {"enabled": True}, "dashboard": {"enabled": True}},
    }


@pytest.fixture(scope="module")
def release(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    name = f"c{uuid.uuid4().hex[:8]}"
    docs = render(values=_values(kafka_bootstrap, name))
    configmaps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    root = tmp_path_factory.mktemp("chart")
    pods = {
        role: Pod(role, find(docs, kind, suffix), configmaps, root / role)
        for role, kind, suffix in (
            ("topics", "Job", "-topics"),
            ("ingress", "Deployment", "-ingress"),
            ("worker", "StatefulSet", "-worker"),
        )
    }
    topics = pods["topics"]
    topics.start()
    assert topics.wait(120) == 0, topics.log()
    try:
        pods["ingress"].start()
        pods["worker"].start()
        yield Release(docs, pods, f"{name}.raw", f"{name}.canonical")
    finally:
        for pod in pods.values():
            pod.stop()


def _post(release: Release, event_id: str, body: bytes, secret: str = SECRET) -> httpx.Response:
    timestamp = int(time.time())
    # Signed by the Standard Webhooks library, not by our own signer.
    signature = Webhook(secret).sign(event_id, _utc(timestamp), body.decode())
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return httpx.post(release.url("/webhooks/demo"), content=body, headers=headers, timeout=30)


def _utc(timestamp: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, tz=UTC)


def _wait_ready(release: Release) -> None:
    ingress = release.pods["ingress"]
    probe = ingress.container["readinessProbe"]["httpGet"]

    def ready() -> bool:
        for pod in release.pods.values():
            if pod.name != "topics" and pod.process and pod.process.poll() is not None:
                raise AssertionError(f"{pod.name} exited:\n{pod.log()}")
        try:
            return httpx.get(release.url(probe["path"]), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 60, "the rendered ingress to pass its readiness probe")


def _canonical(release: Release, event_id: str) -> Any:
    for message in read_all(
        release.pods["ingress"].environment()["KAFKA_BOOTSTRAP_SERVERS"], release.canonical_topic
    ):
        headers = dict(message.headers() or [])
        if headers.get("ce_id") == event_id.encode():
            return message
    return None


def test_a_signed_delivery_through_the_rendered_containers_comes_out_canonical(
    release: Release,
) -> None:
    _wait_ready(release)
    body = json.dumps(
        {"type": "invoice.paid", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": "inv_chart"}}
    ).encode()
    response = _post(release, "msg_chart_1", body)
    assert response.status_code == 200, response.text
    message = wait_until(
        lambda: _canonical(release, "msg_chart_1"), 120, "the canonical event of the delivery"
    )
    event = from_binary(
        KafkaMessage(headers=dict(message.headers()), key=message.key(), value=message.value())
    )
    assert event["id"] == "msg_chart_1"
    assert event["source"] == "/hookgate/demo"
    assert event["type"] == "dev.hookgate.standard-webhooks.invoice.paid"
    assert event.data == {"id": "inv_chart"}


METRIC = re.compile(r"\b(hookgate_[a-z0-9_]+)\b")


def _queried_metrics(release: Release) -> set[str]:
    dashboard = json.loads((CHART / "dashboards" / "hookgate.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rule = find(release.docs, "PrometheusRule", "")
    exprs += [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def _sample_names(text: str) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"
    }


def test_every_metric_the_dashboard_and_alerts_query_is_served(release: Release) -> None:
    _wait_ready(release)
    # Traffic that makes every queried series exist: a delivery, its retry (a duplicate), a
    # forged one (a verification failure) and an undecodable raw record (a dead letter).
    body = b'{"type": "metrics.check", "data": {"id": "m1"}}'
    assert _post(release, "msg_metrics", body).status_code == 200
    assert _post(release, "msg_metrics", body).status_code == 200
    forged = _post(release, "msg_forged", body, secret="whsec_" + "A" * 43)
    assert forged.status_code == 401
    producer = Producer(
        {"bootstrap.servers": release.pods["ingress"].environment()["KAFKA_BOOTSTRAP_SERVERS"]}
    )
    producer.produce(release.raw_topic, key=b"demo:junk", value=b"not a raw record")
    assert producer.flush(30) == 0

    ingress_port = release.pods["ingress"].port("http")
    queried = _queried_metrics(release)
    assert len(queried) >= 8, queried

    def served() -> set[str]:
        ingress = httpx.get(f"http://127.0.0.1:{ingress_port}/metrics", timeout=5).text
        names = _sample_names(ingress) | _sample_names(release.worker_metrics())
        missing = queried - names
        return set() if missing else names

    try:
        wait_until(served, 120, "every queried metric on /metrics")
    except AssertionError:
        ingress = httpx.get(f"http://127.0.0.1:{ingress_port}/metrics", timeout=5).text
        names = _sample_names(ingress) | _sample_names(release.worker_metrics())
        raise AssertionError(f"not served: {sorted(queried - names)}") from None


def test_the_rendered_worker_passes_its_probes(release: Release) -> None:
    worker = release.pods["worker"]
    port = worker.port("metrics")

    def answered(probe: str) -> bool:
        path = worker.container[probe]["httpGet"]["path"]
        try:
            return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        wait_until(functools.partial(answered, probe), 120, f"the worker's {probe}")
