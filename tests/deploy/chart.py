"""Rendering the Helm chart (helm/hookgate) for tests: the helm binary, ``helm template``, and
lookups in the rendered manifests.

The binary is the one `make test` builds from the Go module proxy (.ci/ensure-helm) and passes as
``HOOKGATE_HELM``. Without it the chart tests skip, except under CI (``CI=true``), where a missing
tool is a failure: CI must never pass by skipping them.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import REPO

ROOT = REPO
CHART = ROOT / "helm" / "hookgate"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
#: The Kubernetes version templates render for and manifests are validated against (a current
#: one; the chart's kubeVersion floor is lower).
KUBERNETES_VERSION = "1.31.0"
RELEASE = "hg"
NAMESPACE = "hooks"


def helm() -> str:
    """The helm binary; skips the test without one (fails under CI)."""
    path = os.environ.get("HOOKGATE_HELM") or _cached_helm()
    if path and Path(path).is_file():
        return path
    reason = "no helm binary: run the tests with `make test` (it builds helm with Go, once)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the chart tests")
    pytest.skip(reason)


def _cached_helm() -> str | None:
    bin_dir = Path(os.environ.get("HOOKGATE_CACHE_DIR", Path.home() / ".cache" / "hookgate"))
    found = sorted((bin_dir / "bin").glob("helm-v3*"))
    return str(found[-1]) if found else None


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm(), *args], capture_output=True, text=True, timeout=120, check=False)


def render(
    *value_files: str | Path, values: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The manifests ``helm template`` renders with these value files, then ``values`` (a nested
    mapping, as a values file would hold it) on top."""
    return [dict(d) for d in _render(tuple(map(str, value_files)), json.dumps(values or {}))]


def render_error(*value_files: str | Path, values: Mapping[str, Any] | None = None) -> str:
    """The error of a ``helm template`` expected to fail."""
    result = _template(tuple(map(str, value_files)), json.dumps(values or {}))
    assert result.returncode != 0, "helm template succeeded, a failure was expected"
    return result.stderr


@functools.cache
def _render(value_files: tuple[str, ...], values: str) -> tuple[Any, ...]:
    result = _template(value_files, values)
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def _template(value_files: tuple[str, ...], values: str) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as extra:
        extra.write(values)  # JSON is YAML: helm reads it as one more values file
        extra.flush()
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        args += ["--kube-version", KUBERNETES_VERSION]
        for file in (*value_files, extra.name):
            args += ["--values", file]
        return run_helm(*args)


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one manifest of ``kind`` (and ``name``, a suffix after the release prefix)."""
    matches = [
        d
        for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == f"{RELEASE}-hookgate{name}")
    ]
    assert len(matches) == 1, f"{len(matches)} {kind} named {name!r} in {[d['kind'] for d in docs]}"
    return matches[0]


def kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {d["kind"] for d in docs}


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload and pod in the rendered manifests."""
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Pod":
            yield where, doc["spec"]
        elif doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield where, doc["spec"]["template"]["spec"]


def config_file(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The Hookgate configuration file the release's ConfigMap mounts."""
    data = find(docs, "ConfigMap", "")["data"]["hookgate.yaml"]
    loaded = yaml.safe_load(data)
    assert isinstance(loaded, dict)
    return loaded
