"""The container image (Dockerfile): linted with hadolint, its structure read with a Dockerfile
parser, and every command the chart and the compose file give it parsed by the real CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from hookgate.cli import build_parser
from tests import REPO
from tests.deploy.chart import ROOT, SCENARIOS, pod_specs, render

DOCKERFILE = ROOT / "Dockerfile"


def _stages() -> list[list[dict[str, Any]]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    stages: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _values(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == instruction]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(REPO / ".venv/bin/hadolint")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_built_in_stages_on_a_slim_python() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert "-slim" in final[0]["value"]
    assert final[0]["value"].startswith("python:")
    # the final stage takes the built venv, nothing compiled there
    assert any("--from=build /opt/hookgate" in v for v in _values(final, "COPY"))
    for run in _values(final, "RUN"):
        assert "pip install" not in run, run
        assert "apt-get install" not in run, run


def test_the_worker_store_and_span_export_extras_are_installed() -> None:
    runs = " ".join(_values(_stages()[0], "RUN"))
    assert '".[rocksdb,otel]"' in runs


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    user = _values(_stages()[-1], "USER")[-1]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    chart_uid = yaml.safe_load((ROOT / "helm/hookgate/values.yaml").read_text())[
        "podSecurityContext"
    ]["runAsUser"]
    assert int(uid) == chart_uid


def test_the_entrypoint_is_the_hookgate_command() -> None:
    final = _stages()[-1]
    assert json.loads(_values(final, "ENTRYPOINT")[-1]) == ["hookgate"]
    default = json.loads(_values(final, "CMD")[-1])
    assert _parses(default) or default == ["--help"]


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line.lstrip("!").rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        part
        for stage in _stages()
        for value in _values(stage, "COPY")
        if "--from" not in value
        for part in value.split()[:-1]
    }
    assert copied <= allowed


def _parses(argv: list[str]) -> bool:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def _image_commands() -> list[tuple[str, list[str]]]:
    """Every argument list a container of the image gets, from the chart and the compose file."""
    commands = []
    for scenario in SCENARIOS:
        for where, spec in pod_specs(render(scenario)):
            for container in spec["containers"]:
                if "command" in container:  # the helm test pod runs python itself
                    assert container["command"][0] == "python", where
                    continue
                commands.append((f"{scenario.name} {where}", container["args"]))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if service.get("build") == ".":
            commands.append((f"compose {name}", service["command"]))
    return commands


def test_every_command_the_chart_and_compose_give_the_image_exists_in_the_cli() -> None:
    commands = _image_commands()
    assert {args[0] for _, args in commands} == {"ingress", "worker", "topics"}
    for where, args in commands:
        assert _parses(args), f"{where}: `hookgate {' '.join(args)}` is not a valid command"


@pytest.mark.parametrize("argv", [["ingress", "--no-such-flag"], ["topics", "delete"]])
def test_the_cli_check_refuses_what_the_cli_refuses(argv: list[str]) -> None:
    assert not _parses(argv)
