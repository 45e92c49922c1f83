"""The Helm chart (helm/hookgate): lint, offline validation against the Kubernetes API schemas,
and the branches that matter, read from `helm template` output."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ingress import server
from schemas import config
from tests.deploy.chart import (
    CHART,
    KUBERNETES_VERSION,
    SCENARIOS,
    config_file,
    find,
    kinds,
    pod_specs,
    render,
    render_error,
    run_helm,
)

#: Custom resources: no schema in kubernetes-validate; their shape is checked by the tests below.
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}

TMP = "/tmp"  # noqa: S108 - the path containers mount an emptyDir at, not a file we write
MINIMAL = CHART / "ci" / "minimal-values.yaml"
PRODUCTION = CHART / "ci" / "production-values.yaml"
KEDA = CHART / "ci" / "keda-values.yaml"
MTLS = CHART / "ci" / "mtls-values.yaml"

DEMO_SOURCE = {
    "name": "demo",
    "provider": "standard-webhooks",
    "secrets": [{"existingSecret": "demo-webhook", "key": "current"}],
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_chart_lints_strictly(scenario: Path) -> None:
    result = run_helm(
        "lint",
        "--strict",
        str(CHART),
        "--values",
        str(scenario),
        "--kube-version",
        KUBERNETES_VERSION,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_rendered_manifest_is_valid_for_the_kubernetes_api(scenario: Path) -> None:
    failures = []
    for doc in render(scenario):
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(map(str, exc.path))
            failures.append(f"{doc['kind']}/{doc['metadata']['name']} {path}: {exc.message}")
    assert not failures, "\n".join(failures)


def test_defaults_alone_fail_naming_the_brokers_value() -> None:
    error = render_error()
    assert "kafka.bootstrapServers is required" in error
    assert "--set kafka.bootstrapServers=" in error


def test_more_workers_than_raw_partitions_fail_naming_both_values() -> None:
    error = render_error(MINIMAL, values={"worker": {"replicas": 7}})
    assert "worker.replicas (7) is more than topics.raw.partitions (6)" in error


def test_keda_above_the_partition_count_fails() -> None:
    error = render_error(KEDA, values={"worker": {"keda": {"maxReplicaCount": 9}}})
    assert "worker.keda.maxReplicaCount (9) is more than topics.raw.partitions (8)" in error


def test_a_grace_period_not_covering_drain_and_shutdown_fails() -> None:
    error = render_error(MINIMAL, values={"ingress": {"terminationGracePeriodSeconds": 25}})
    assert "ingress.terminationGracePeriodSeconds (25) must be more than" in error


def test_sasl_without_its_secret_fails() -> None:
    error = render_error(MINIMAL, values={"kafka": {"sasl": {"enabled": True}}})
    assert "kafka.sasl.existingSecret is required" in error


def test_an_inline_source_secret_is_refused_by_the_schema() -> None:
    source = {"name": "stripe", "provider": "stripe", "secrets": ["whsec_inline"]}
    error = render_error(MINIMAL, values={"sources": [source]})
    assert "sources" in error
    assert "secrets" in error


def test_an_unknown_value_is_refused_by_the_schema() -> None:
    error = render_error(MINIMAL, values={"worker": {"replica": 3}})
    assert "replica" in error
    assert "additional properties" in error.lower()


def test_source_secrets_are_env_references_filled_from_existing_secrets() -> None:
    docs = render(PRODUCTION)
    sources = config_file(docs)["sources"]
    assert sources[0]["secrets"] == [
        {"env": "HOOKGATE_SOURCE_0_SECRET_0"},
        {"env": "HOOKGATE_SOURCE_0_SECRET_1"},
    ]
    assert "secrets" not in sources[2]  # fal: keys from its JWKS, no secret
    env = _env(find(docs, "Deployment", "-ingress"))
    assert env["HOOKGATE_SOURCE_0_SECRET_1"]["valueFrom"]["secretKeyRef"] == {
        "name": "stripe-webhook",
        "key": "previous",
    }
    assert env["HOOKGATE_SOURCE_1_SECRET_0"]["valueFrom"]["secretKeyRef"]["name"] == (
        "replicate-webhook"
    )


def test_the_rendered_config_loads_with_the_containers_environment() -> None:
    docs = render(PRODUCTION)
    env = {name: "from-a-secret" for name in _env(find(docs, "Deployment", "-ingress"))}
    env["KAFKA_BOOTSTRAP_SERVERS"] = "kafka-0.kafka:9093"
    settings = config.parse(config_file(docs), env=env)
    assert settings.kafka.bootstrap == "kafka-0.kafka:9093"
    assert settings.topics.raw.partitions == 12
    assert settings.topics.raw.config["min.insync.replicas"] == "2"
    assert settings.worker.store == "rocksdb://"
    assert settings.worker.type_prefix == "dev.hookgate."
    assert sorted(settings.sources) == ["fal", "replicate", "stripe"]
    assert len(settings.sources["stripe"].secrets) == 2


def test_the_workers_guarantee_commit_and_liveness_values_reach_its_config() -> None:
    values = {
        "worker": {
            "guarantee": "at_least_once",
            "commitIntervalMs": 250,
            "stateExpiryIntervalSeconds": 120,
            "stallTimeoutSeconds": 90,
            "standbyReplicas": 1,
        }
    }
    worker = config_file(render(PRODUCTION, values=values))["worker"]
    assert (
        worker["guarantee"],
        worker["commit_interval_ms"],
        worker["state_expiry_interval_s"],
        worker["stall_timeout_s"],
        worker["standby_replicas"],
    ) == ("at_least_once", 250, 120, 90, 1)


def test_a_guarantee_the_worker_does_not_know_is_refused_at_template_time() -> None:
    assert "guarantee" in render_error(PRODUCTION, values={"worker": {"guarantee": "twice"}})


def test_sasl_and_tls_map_to_client_settings_with_secret_references() -> None:
    docs = render(PRODUCTION)
    client = config_file(docs)["kafka"]["client"]
    assert client == {
        "client.rack": "eu-west-1a",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": {"env": "KAFKA_SASL_USERNAME"},
        "sasl.password": {"env": "KAFKA_SASL_PASSWORD"},
        "ssl.ca.location": "/etc/hookgate/kafka-ca/ca.crt",
        "ssl.endpoint.identification.algorithm": "https",
    }
    deployment = find(docs, "Deployment", "-ingress")
    env = _env(deployment)
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "hookgate-kafka-user",
        "key": "password",
    }
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kafka-ca"]["secret"]["secretName"] == "kafka-cluster-ca"


def test_mutual_tls_mounts_the_client_certificate() -> None:
    client = config_file(render(MTLS))["kafka"]["client"]
    assert client["security.protocol"] == "SSL"
    assert client["ssl.certificate.location"] == "/etc/hookgate/kafka-client/tls.crt"
    assert client["ssl.key.location"] == "/etc/hookgate/kafka-client/tls.key"
    assert client["ssl.ca.location"] == "/etc/hookgate/kafka-ca/ca.crt"


def test_plaintext_clusters_get_no_security_settings() -> None:
    assert config_file(render(MINIMAL))["kafka"]["client"] == {}


def test_no_secret_value_is_ever_rendered() -> None:
    for scenario in SCENARIOS:
        docs = render(scenario)
        assert "Secret" not in kinds(docs)
        text = yaml.safe_dump_all(docs)
        assert "whsec_" not in text


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_pod_is_hardened(scenario: Path) -> None:
    for where, spec in pod_specs(render(scenario)):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        mounts_tmp = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            tmp = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == TMP]
            assert len(tmp) == 1, where
            assert tmp[0] in mounts_tmp, where


def test_ingress_is_probed_on_readyz_and_healthz_and_drains_before_stopping() -> None:
    docs = render(MINIMAL)
    spec = find(docs, "Deployment", "-ingress")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    drain = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    # longer than the drain plus the server's graceful shutdown (ingress/server.py)
    assert spec["terminationGracePeriodSeconds"] > drain + _ingress_graceful_shutdown()


def test_the_ingress_graceful_shutdown_the_chart_assumes_is_the_servers() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assumed = re.search(r'define "hookgate.ingressShutdownSeconds" -}}\s*(\d+)', helpers)
    assert assumed
    assert int(assumed.group(1)) == _ingress_graceful_shutdown()


def test_ingress_has_service_pdb_and_optional_hpa_and_ingress_resource() -> None:
    minimal = render(MINIMAL)
    assert find(minimal, "Deployment", "-ingress")["spec"]["replicas"] == 2
    assert {"Service", "PodDisruptionBudget"} <= kinds(minimal)
    assert not {"HorizontalPodAutoscaler", "Ingress"} & kinds(minimal)
    production = render(PRODUCTION)
    assert "replicas" not in find(production, "Deployment", "-ingress")["spec"]
    hpa = find(production, "HorizontalPodAutoscaler", "-ingress")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    rule = find(production, "Ingress", "")["spec"]["rules"][0]
    assert rule["host"] == "hooks.example.com"
    assert [p["path"] for p in rule["http"]["paths"]] == ["/webhooks"]


def test_worker_liveness_is_probed_on_healthz() -> None:
    statefulset = find(render(MINIMAL), "StatefulSet", "-worker")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def test_by_default_the_release_exports_no_spans() -> None:
    tracing = config.parse(config_file(render(MINIMAL)), env={}).tracing
    assert tracing.exporter == "none"


def test_tracing_values_become_the_config_files_tracing_section() -> None:
    values = {
        "tracing": {
            "exporter": "otlp",
            "endpoint": "http://otel-collector.observability:4318/v1/traces",
            "serviceName": "hooks",
            "sampleRatio": 0.25,
        }
    }
    tracing = config.parse(config_file(render(MINIMAL, values=values)), env={}).tracing
    assert (tracing.exporter, tracing.endpoint, tracing.service_name, tracing.sample_ratio) == (
        "otlp",
        "http://otel-collector.observability:4318/v1/traces",
        "hooks",
        0.25,
    )


def test_an_unknown_span_exporter_fails_the_install() -> None:
    error = render_error(MINIMAL, values={"tracing": {"exporter": "jaeger"}})
    assert "/tracing/exporter" in error


def test_worker_is_a_statefulset_with_a_claim_per_pod_and_a_headless_service() -> None:
    docs = render(PRODUCTION)
    statefulset = find(docs, "StatefulSet", "-worker")
    assert statefulset["spec"]["replicas"] == 6
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["state"] == "/var/lib/hookgate"
    assert _env(statefulset)["HOOKGATE_WORKER_DATA_DIR"]["value"] == "/var/lib/hookgate"
    service = find(docs, "Service", "-worker")
    assert service["spec"]["clusterIP"] == "None"
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert find(docs, "PodDisruptionBudget", "-worker")["spec"]["maxUnavailable"] == 1


def test_without_persistence_the_worker_store_is_an_empty_dir() -> None:
    statefulset = find(render(KEDA), "StatefulSet", "-worker")
    assert "volumeClaimTemplates" not in statefulset["spec"]
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["state"] == {"name": "state", "emptyDir": {}}


def test_keda_scales_the_statefulset_on_raw_topic_lag_and_scales_down_slowly() -> None:
    docs = render(KEDA)
    assert "replicas" not in find(docs, "StatefulSet", "-worker")["spec"]
    scaled = find(docs, "ScaledObject", "-worker")["spec"]
    assert scaled["scaleTargetRef"]["kind"] == "StatefulSet"
    assert scaled["maxReplicaCount"] == 8
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 900
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == "hooks.raw"
    assert trigger["metadata"]["consumerGroup"] == "hookgate"
    assert trigger["metadata"]["sasl"] == "scram_sha256"
    auth = find(docs, "TriggerAuthentication", "-kafka")["spec"]["secretTargetRef"]
    assert {(a["parameter"], a["name"], a["key"]) for a in auth} == {
        ("username", "kafka-credentials", "user"),
        ("password", "kafka-credentials", "pass"),
    }


def test_topics_are_provisioned_by_a_hook_job_running_topics_ensure() -> None:
    docs = render(MINIMAL)
    job = find(docs, "Job", "-topics")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["topics", "ensure"]
    # its own ConfigMap, created by the hook before it: the release's does not exist yet
    hook_config = find(docs, "ConfigMap", "-topics")
    assert hook_config["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
    assert hook_config["data"] == find(docs, "ConfigMap", "")["data"]
    assert "Job" not in kinds(render(KEDA))


def test_monitoring_resources_are_optional_and_complete() -> None:
    assert not CUSTOM_KINDS & kinds(render(MINIMAL))
    docs = render(PRODUCTION)
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert sorted(m["spec"]["endpoints"][0]["port"] for m in monitors) == ["http", "metrics"]
    assert all(m["metadata"]["labels"]["release"] == "prometheus" for m in monitors)
    rules = find(docs, "PrometheusRule", "")["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "HookgateVerificationFailuresRising",
        "HookgateConsumerLagGrowing",
        "HookgateDeadLettersArriving",
        "HookgateIngressBrokerUnavailable",
        "HookgateWorkerNotEmitting",
    }
    for rule in rules:
        assert 'namespace="hooks"' in rule["expr"], rule["alert"]
    dashboard = find(docs, "ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["hookgate.json"])["uid"] == "hookgate"


def test_network_policies_admit_senders_to_the_ingress_and_scrapers_to_the_worker() -> None:
    docs = render(PRODUCTION)
    ingress = find(docs, "NetworkPolicy", "-ingress")["spec"]["ingress"]
    assert ingress == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    worker = find(docs, "NetworkPolicy", "-worker")["spec"]["ingress"][0]
    assert worker["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_selectors_never_carry_the_chart_version_label(scenario: Path) -> None:
    for doc in render(scenario):
        selector = doc.get("spec", {}).get("selector")
        if isinstance(selector, dict):
            labels = selector.get("matchLabels", selector)
            assert "helm.sh/chart" not in labels, doc["metadata"]["name"]
            assert labels["app.kubernetes.io/instance"] == "hg"


def test_a_config_change_rolls_the_pods() -> None:
    before = render(MINIMAL, values={"sources": [DEMO_SOURCE]})
    after = render(MINIMAL, values={"sources": [{**DEMO_SOURCE, "tolerance": 60}]})
    for kind, name in (("Deployment", "-ingress"), ("StatefulSet", "-worker")):
        annotation = "checksum/config"
        old = find(before, kind, name)["spec"]["template"]["metadata"]["annotations"][annotation]
        new = find(after, kind, name)["spec"]["template"]["metadata"]["annotations"][annotation]
        assert old != new, kind


def test_notes_tell_how_to_send_a_first_webhook(tmp_path: Path) -> None:
    # helm renders NOTES.txt only on install, which wants a cluster; in a copy of the chart, a
    # template renders the notes' text with `tpl`, so `helm template` shows it.
    chart = tmp_path / "hookgate"
    shutil.copytree(CHART, chart)
    shutil.copy(CHART / "templates" / "NOTES.txt", chart / "notes.txt")
    (chart / "templates" / "notes.yaml").write_text(
        'notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}\n'
    )
    result = run_helm(
        "template",
        "hg",
        str(chart),
        "--namespace",
        "hooks",
        "--values",
        str(MTLS),
        "--kube-version",
        KUBERNETES_VERSION,
        "--show-only",
        "templates/notes.yaml",
    )
    assert result.returncode == 0, result.stderr
    notes = yaml.safe_load(result.stdout)["notes"]
    assert "kubectl exec --namespace hooks deploy/hg-hookgate-ingress" in notes
    assert "hookgate send demo --config /etc/hookgate/hookgate.yaml" in notes
    assert "hookgate tail canonical" in notes
    assert "helm test hg" in notes


def test_the_helm_test_pod_checks_readiness_through_the_service() -> None:
    docs = render(MINIMAL)
    pod = find(docs, "Pod", "-test-ready")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][2]
    assert "http://hg-hookgate-ingress:80/readyz" in script


def test_every_values_key_has_a_comment_above_it() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    key = re.compile(r"^(\s*)([A-Za-z][A-Za-z0-9]*):")
    for number, line in enumerate(lines):
        if key.match(line):
            above = lines[number - 1].strip()
            assert above.startswith("#"), f"values.yaml:{number + 1} {line.strip()} has no comment"


def test_the_values_schema_is_closed_except_for_provider_options() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def closed(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and path != "/sources/items":
                assert node.get("additionalProperties") is False, path
            for name, child in node.get("properties", {}).items():
                closed(child, f"{path}/{name}")
            if "items" in node:
                closed(node["items"], f"{path}/items")

    closed(schema, "")
    assert schema["additionalProperties"] is False


def _env(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    container = workload["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}


def _ingress_graceful_shutdown() -> int:
    return server.GRACEFUL_SHUTDOWN_S
