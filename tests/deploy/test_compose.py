"""docker-compose.yml: validated by a real compose implementation, and every command and
environment variable it gives Hookgate known to the CLI and the settings."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas import config
from tests.deploy.chart import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"


def compose_binary() -> str:
    """docker-compose as `make test` installs it (.ci/ensure-compose); skips without it, except
    under CI, where a missing tool is a failure."""
    path = os.environ.get("HOOKGATE_COMPOSE") or _cached_compose()
    if path and Path(path).is_file():
        return path
    reason = "no docker-compose: run the tests with `make test` (it installs one, once)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must validate the compose file")
    pytest.skip(reason)


def _cached_compose() -> str | None:
    cache = Path(os.environ.get("HOOKGATE_CACHE_DIR", Path.home() / ".cache" / "hookgate"))
    found = sorted(p.parent for p in cache.glob("docker-compose-*/.complete"))
    return str(found[-1] / "bin" / "docker-compose") if found else None


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def _hookgate_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in _compose()["services"].items() if s.get("build") == "."}


def test_the_compose_file_validates_with_docker_compose(tmp_path: Path) -> None:
    result = subprocess.run(
        [compose_binary(), "--file", str(COMPOSE_FILE), "--project-directory", str(ROOT), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        # No DEMO_WEBHOOK_SECRET: the file's default must do.
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"kafka", "topics", "ingress", "worker"}
    worker = resolved["services"]["worker"]
    assert worker["environment"]["DEMO_WEBHOOK_SECRET"].startswith("whsec_")
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_kafka_is_the_official_image_in_kraft_mode_with_a_data_volume() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "kafka-data:/var/lib/kafka/data" in kafka["volumes"]
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "healthcheck" in kafka


def test_services_start_in_order_on_health_not_on_sleeps() -> None:
    services = _compose()["services"]
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for name in ("ingress", "worker"):
        assert services[name]["depends_on"] == {
            "topics": {"condition": "service_completed_successfully"}
        }
        assert "healthcheck" in services[name]
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"\bsleep\b", text)


def test_the_worker_keeps_its_state_on_a_volume() -> None:
    worker = _compose()["services"]["worker"]
    assert "worker-state:/var/lib/hookgate" in worker["volumes"]
    assert worker["environment"]["HOOKGATE_WORKER_DATA_DIR"] == "/var/lib/hookgate"
    assert set(_compose()["volumes"]) == {"kafka-data", "worker-state"}


def test_every_environment_variable_given_to_hookgate_is_read_by_it() -> None:
    config_text = (ROOT / "compose" / "hookgate.yaml").read_text()
    referenced = set(re.findall(r"\{env: ([A-Z0-9_]+)\}", config_text))
    known = set(config.ENV_OVERRIDES) | {"HOOKGATE_CONFIG"} | referenced
    for name, service in _hookgate_services().items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name}: {sorted(unknown)} are read by nothing"


def test_the_mounted_config_loads_with_the_services_environment() -> None:
    for name, service in _hookgate_services().items():
        env = {
            k: re.sub(r"\$\{[A-Z_]+:-(.*)\}", r"\1", v) for k, v in service["environment"].items()
        }
        mount = next(v for v in service["volumes"] if v.endswith(":/etc/hookgate/hookgate.yaml:ro"))
        assert env["HOOKGATE_CONFIG"] == "/etc/hookgate/hookgate.yaml"
        settings = config.load(ROOT / mount.split(":")[0], env=env)
        assert settings.kafka.bootstrap == "kafka:9092", name
        # every interface of the container: reachable through the published port
        assert settings.ingress.host == "0.0.0.0"  # noqa: S104
        assert "demo" in settings.sources
        if name == "worker":
            assert settings.worker.data_dir == "/var/lib/hookgate"
            assert settings.worker.store == "rocksdb://"
