"""The configuration contract: parsing, defaults, errors naming the key, env overrides, secrets."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

import schemas
from schemas import telemetry
from schemas.config import (
    LOCAL_BOOTSTRAP,
    SOURCE_MODELS,
    ConfigError,
    IngressSettings,
    KafkaSettings,
    Secret,
    TopicsSettings,
    TwilioSource,
    WorkerSettings,
    load,
    parse,
)
from tests import REPO

SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a value to parse, nothing binds to it
SAMPLE = REPO / "hookgate" / "samples" / "dev.yaml"


def full_document() -> dict[str, Any]:
    return {
        "kafka": {
            "bootstrap_servers": "kafka-1:9092,kafka-2:9092",
            "delivery_timeout_ms": 7000,
            "client": {"security.protocol": "SSL"},
        },
        "topics": {
            "raw": {"name": "hooks.raw", "partitions": 6, "replication_factor": 3},
            "canonical": "hooks.canonical",
            "dead_letter": {"name": "hooks.dlq", "config": {"retention.ms": "1000"}},
        },
        "ingress": {"host": ALL_INTERFACES, "port": 8080},
        "worker": {
            "app_id": "hookgate-prod",
            "dedup_horizon_s": 86_400,
            "data_dir": "/var/lib/hookgate",
            "store": "rocksdb://",
            "web_port": 6067,
            "max_in_flight": 500,
            "type_prefix": "com.example.webhooks.",
        },
        "sources": [
            {
                "name": "replicate",
                "provider": "standard-webhooks",
                "secrets": [SECRET_TEXT, {"env": "OLD_SECRET"}],
                "tolerance": 600,
                "max_body_bytes": 2048,
            },
            {"name": "openai", "provider": "standard-webhooks", "secrets": ["whsec_b3BlbmFp"]},
        ],
    }


def config_error(document: Any, env: dict[str, str] | None = None, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(document, env=env or {}, **kwargs)
    return caught.value


# --- a full example and the defaults -----------------------------------------------------------


def test_a_full_example_sets_every_kafka_value() -> None:
    kafka = parse(full_document(), env={"OLD_SECRET": "whsec_b2xk"}).kafka
    assert kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert kafka.bootstrap == "kafka-1:9092,kafka-2:9092"
    assert not kafka.uses_local_broker
    assert kafka.delivery_timeout_ms == 7000
    assert dict(kafka.client) == {"security.protocol": "SSL"}


def test_a_full_example_sets_every_topic_and_keeps_default_topic_configs() -> None:
    topics = parse(full_document(), env={"OLD_SECRET": "whsec_b2xk"}).topics
    assert (topics.raw.name, topics.raw.partitions, topics.raw.replication_factor) == (
        "hooks.raw",
        6,
        3,
    )
    assert topics.raw.config == {"retention.ms": str(7 * 86_400_000)}
    assert topics.canonical.name == "hooks.canonical"
    assert topics.dead_letter.config == {"retention.ms": "1000"}


def test_a_full_example_sets_ingress_and_worker() -> None:
    settings = parse(full_document(), env={"OLD_SECRET": "whsec_b2xk"})
    assert settings.ingress == IngressSettings(host=ALL_INTERFACES, port=8080)
    assert settings.ingress.local_url == "http://127.0.0.1:8080"
    assert settings.worker == WorkerSettings(
        app_id="hookgate-prod",
        dedup_horizon_s=86_400,
        data_dir="/var/lib/hookgate",
        store="rocksdb://",
        web_port=6067,
        max_in_flight=500,
        type_prefix="com.example.webhooks.",
    )


def test_a_full_example_keeps_sources_in_order_with_their_secrets() -> None:
    settings = parse(full_document(), env={"OLD_SECRET": "whsec_b2xk"})
    assert list(settings.sources) == ["replicate", "openai"]
    replicate = settings.sources["replicate"]
    assert replicate.provider == "standard-webhooks"
    assert [s.reveal() for s in replicate.secrets] == [SECRET_TEXT, "whsec_b2xk"]
    assert (replicate.tolerance, replicate.max_body_bytes) == (600, 2048)


def test_an_empty_document_gives_the_defaults() -> None:
    settings = parse({}, env={})
    assert settings.kafka == KafkaSettings()
    assert settings.topics == TopicsSettings()
    assert settings.ingress == IngressSettings()
    assert settings.worker == WorkerSettings()
    assert dict(settings.sources) == {}


def test_by_default_the_local_broker_is_used() -> None:
    kafka = parse({}, env={}).kafka
    assert kafka.bootstrap == LOCAL_BOOTSTRAP
    assert kafka.uses_local_broker


def test_a_source_without_tolerance_or_limit_gets_the_provider_default_and_one_mib() -> None:
    source = parse(
        {"sources": [{"name": "demo", "provider": "standard-webhooks", "secrets": ["s"]}]},
        env={},
    ).sources["demo"]
    assert source.tolerance is None
    assert source.max_body_bytes == 1_048_576


def test_the_shipped_development_sample_loads() -> None:
    settings = load(SAMPLE, env={})
    assert list(settings.sources) == ["demo", "stripe", "github", "replicate", "fal"]
    assert settings.origin == str(SAMPLE)


def test_every_source_of_the_development_sample_builds_its_verifier() -> None:
    from ingress.providers import configure_sources

    assert set(configure_sources(load(SAMPLE, env={}))) == set(load(SAMPLE, env={}).sources)


# --- every error names the key -----------------------------------------------------------------


def test_an_unknown_top_level_key_is_named() -> None:
    assert config_error({"kafak": {}}).key == "kafak"


def test_an_unknown_nested_key_is_named_with_its_section() -> None:
    assert config_error({"ingress": {"prot": 80}}).key == "ingress.prot"


def test_a_providers_options_are_typed_fields_of_its_source_model() -> None:
    settings = parse(
        {"sources": [{"name": "a", "provider": "twilio", "public_url": "https://x/y"}]}, env={}
    )
    source = settings.sources["a"]
    assert isinstance(source, TwilioSource)
    assert source.public_url == "https://x/y"


def test_an_option_of_another_provider_is_refused_naming_the_key_and_provider() -> None:
    error = config_error(
        {"sources": [{"name": "a", "provider": "github", "public_url": "https://x/y"}]}
    )
    assert error.key == "sources[0].public_url"
    assert "unknown key for provider" in error.reason


def test_an_unknown_provider_is_refused_listing_the_known_ones() -> None:
    error = config_error({"sources": [{"name": "a", "provider": "acme"}]})
    assert error.key == "sources[0].provider"
    assert "'acme'" in error.reason
    assert "stripe" in error.reason


def test_every_provider_with_an_adapter_has_a_source_model_and_no_model_lacks_one() -> None:
    from ingress.providers import PROVIDERS

    assert set(SOURCE_MODELS) == set(PROVIDERS)


def test_an_option_of_the_wrong_type_names_the_key() -> None:
    error = config_error(
        {"sources": [{"name": "a", "provider": "generic-hmac", "header": "x-s", "prefix": 5}]}
    )
    assert (error.key, error.reason) == ("sources[0].prefix", "must be a string")


def test_a_source_without_provider_is_refused() -> None:
    error = config_error({"sources": [{"name": "demo"}]})
    assert (error.key, error.reason) == ("sources[0].provider", "is required")


def test_a_source_without_name_is_refused() -> None:
    assert config_error({"sources": [{"provider": "standard-webhooks"}]}).key == "sources[0].name"


@pytest.mark.parametrize("name", ["Demo", "-demo", "demo/x", "demo source", "a" * 64, ""])
def test_a_source_name_that_cannot_be_part_of_a_url_and_key_is_refused(name: str) -> None:
    error = config_error({"sources": [{"name": name, "provider": "standard-webhooks"}]})
    assert error.key == "sources[0].name"


def test_a_duplicate_source_name_names_the_second_entry() -> None:
    source = {"name": "demo", "provider": "standard-webhooks", "secrets": ["s"]}
    error = config_error({"sources": [source, dict(source)]})
    assert error.key == "sources[1].name"
    assert "duplicate" in error.reason


def test_a_non_integer_port_is_refused() -> None:
    error = config_error({"ingress": {"port": "eighty"}})
    assert error.key == "ingress.port"
    assert "integer" in error.reason


def test_a_boolean_is_not_taken_for_an_integer() -> None:
    assert config_error({"worker": {"max_in_flight": True}}).key == "worker.max_in_flight"


def test_an_out_of_range_port_is_refused_with_the_range() -> None:
    error = config_error({"ingress": {"port": 70_000}})
    assert error.key == "ingress.port"
    assert "0..65535" in error.reason


def test_an_out_of_range_source_tolerance_is_refused() -> None:
    error = config_error({"sources": [{"name": "a", "provider": "github", "tolerance": 0}]})
    assert error.key == "sources[0].tolerance"


def test_a_secret_from_an_unset_environment_variable_is_refused() -> None:
    error = config_error(
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"env": "A_SECRET"}]}]}
    )
    assert error.key == "sources[0].secrets[0]"
    assert "A_SECRET" in error.reason


def test_a_secret_from_an_environment_variable_is_read() -> None:
    settings = parse(
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"env": "A_SECRET"}]}]},
        env={"A_SECRET": "whsec_ZW52"},
    )
    assert settings.sources["a"].secrets == (Secret("whsec_ZW52"),)


def test_a_missing_secret_file_is_refused(tmp_path: Path) -> None:
    error = config_error(
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"file": "nope"}]}]},
        base_dir=tmp_path,
    )
    assert error.key == "sources[0].secrets[0]"
    assert "nope" in error.reason


def test_a_secret_file_is_read_relative_to_the_base_dir_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET_TEXT + "\n")
    settings = parse(
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"file": "secret"}]}]},
        env={},
        base_dir=tmp_path,
    )
    assert settings.sources["a"].secrets[0].reveal() == SECRET_TEXT


@pytest.mark.parametrize("secret", ["", "   "])
def test_an_empty_secret_is_refused(secret: str) -> None:
    error = config_error({"sources": [{"name": "a", "provider": "github", "secrets": [secret]}]})
    assert (error.key, error.reason) == ("sources[0].secrets[0]", "is empty")


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("\n")
    error = config_error(
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"file": "secret"}]}]},
        base_dir=tmp_path,
    )
    assert error.key == "sources[0].secrets[0]"


def test_a_secret_reference_of_an_unknown_form_is_refused() -> None:
    error = config_error(
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"vault": "x"}]}]}
    )
    assert error.key == "sources[0].secrets[0]"


def test_a_bad_topic_name_is_refused() -> None:
    error = config_error({"topics": {"raw": {"name": "raw topic"}}})
    assert error.key == "topics.raw.name"


def test_a_bad_topic_name_in_short_form_is_refused() -> None:
    assert config_error({"topics": {"dead_letter": "dlq/1"}}).key == "topics.dead_letter.name"


def test_an_unknown_store_is_refused() -> None:
    error = config_error({"worker": {"store": "redis://"}})
    assert error.key == "worker.store"


def test_the_default_type_prefix_is_the_projects_reverse_dns_name() -> None:
    assert parse({}, env={}).worker.type_prefix == "dev.hookgate."


@pytest.mark.parametrize(
    "prefix",
    ["hookgate.", "com.example", "Com.Example.", ".com.example.", "com..example.", "com.-x.", ""],
    ids=["one-label", "no-final-dot", "upper-case", "leading-dot", "empty-label", "dash", "empty"],
)
def test_a_type_prefix_that_is_not_a_reverse_dns_name_is_refused(prefix: str) -> None:
    assert config_error({"worker": {"type_prefix": prefix}}).key == "worker.type_prefix"


def test_a_section_that_is_not_a_mapping_is_refused() -> None:
    assert config_error({"worker": ["store"]}).key == "worker"


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    assert config_error(["kafka"]).key == "<root>"


def test_the_error_message_starts_with_the_key() -> None:
    assert str(config_error({"ingress": {"port": -1}})).startswith("config: ingress.port: ")


# --- environment overrides ---------------------------------------------------------------------


def test_kafka_bootstrap_servers_overrides_the_file_and_the_local_broker() -> None:
    kafka = parse({}, env={"KAFKA_BOOTSTRAP_SERVERS": "broker:9093"}).kafka
    assert kafka.bootstrap == "broker:9093"
    assert not kafka.uses_local_broker


def test_kafka_bootstrap_servers_wins_over_the_value_in_the_file() -> None:
    kafka = parse(
        {"kafka": {"bootstrap_servers": "from-file:9092"}},
        env={"KAFKA_BOOTSTRAP_SERVERS": "from-env:9092"},
    ).kafka
    assert kafka.bootstrap_servers == "from-env:9092"


def test_an_empty_override_variable_is_ignored() -> None:
    assert parse({}, env={"KAFKA_BOOTSTRAP_SERVERS": ""}).kafka.uses_local_broker


def test_the_ingress_port_override_arrives_as_text_and_becomes_an_integer() -> None:
    assert parse({}, env={"HOOKGATE_INGRESS_PORT": "9001"}).ingress.port == 9001


def test_a_non_integer_port_override_names_the_key_it_sets() -> None:
    error = config_error({}, env={"HOOKGATE_INGRESS_PORT": "nine"})
    assert error.key == "ingress.port"


def test_the_worker_overrides_set_their_keys() -> None:
    worker = parse(
        {},
        env={
            "HOOKGATE_WORKER_APP_ID": "w2",
            "HOOKGATE_WORKER_DATA_DIR": "/data",
            "HOOKGATE_WORKER_WEB_PORT": "7000",
        },
    ).worker
    assert (worker.app_id, worker.data_dir, worker.web_port) == ("w2", "/data", 7000)


def test_parse_leaves_the_document_it_was_given_unchanged() -> None:
    document = {"kafka": {"delivery_timeout_ms": 5000}}
    before = copy.deepcopy(document)
    parse(document, env={"KAFKA_BOOTSTRAP_SERVERS": "broker:9093"})
    assert document == before


# --- secrets never print -----------------------------------------------------------------------


def test_a_secret_does_not_show_its_value_in_repr_or_str() -> None:
    secret = Secret(SECRET_TEXT)
    assert SECRET_TEXT not in repr(secret)
    assert SECRET_TEXT not in str(secret)
    assert "MfKQ9r8" not in f"{secret}"


def test_settings_do_not_show_secret_values_in_repr_or_str() -> None:
    settings = parse(full_document(), env={"OLD_SECRET": "whsec_b2xkLXNlY3JldA"})
    for text in (repr(settings), str(settings), repr(settings.sources["replicate"])):
        assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in text
        assert "b2xkLXNlY3JldA" not in text
        assert "b3BlbmFp" not in text


def test_an_error_about_an_empty_secret_file_does_not_quote_the_file(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("   \n")
    error = config_error(
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"file": "secret"}]}]},
        base_dir=tmp_path,
    )
    assert error.reason == "is empty"


def test_a_kafka_client_password_does_not_show_in_the_repr_of_settings() -> None:
    settings = parse(
        {
            "kafka": {
                "client": {
                    "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "PLAIN",
                    "sasl.username": "svc",
                    "sasl.password": "hunter2-kafka",
                }
            }
        },
        env={},
    )
    assert "hunter2-kafka" not in repr(settings)


# --- load() ------------------------------------------------------------------------------------


def test_load_of_a_missing_file_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "absent.yaml", env={})
    assert caught.value.key == "--config"
    assert "absent.yaml" in caught.value.reason


def test_load_without_a_path_or_variable_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError) as caught:
        load(None, env={})
    assert "HOOKGATE_CONFIG" in caught.value.reason


def test_load_reads_the_path_from_hookgate_config(tmp_path: Path) -> None:
    path = tmp_path / "hookgate.yaml"
    path.write_text("ingress: {port: 8123}\n")
    assert load(None, env={"HOOKGATE_CONFIG": str(path)}).ingress.port == 8123


def test_load_of_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kafka: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load(path, env={})
    assert caught.value.key == "<file>"
    assert "bad.yaml" in caught.value.reason


def test_load_reads_secret_files_next_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "demo.secret").write_text(SECRET_TEXT)
    path = tmp_path / "hookgate.yaml"
    path.write_text(
        "sources:\n"
        "  - name: demo\n"
        "    provider: standard-webhooks\n"
        "    secrets: [{file: demo.secret}]\n"
    )
    assert load(path, env={}).sources["demo"].secrets[0].reveal() == SECRET_TEXT


def test_load_of_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    assert load(path, env={}).ingress == IngressSettings()


# --- tracing -----------------------------------------------------------------------------------


def test_by_default_no_spans_are_exported() -> None:
    assert parse({}, env={}).tracing.exporter == "none"


def test_a_tracing_endpoint_that_is_not_an_http_url_is_refused() -> None:
    error = config_error({"tracing": {"exporter": "otlp", "endpoint": "collector:4318"}})
    assert error.key == "tracing.endpoint"
    assert "http://" in error.reason


def test_a_sample_ratio_above_one_is_refused() -> None:
    assert config_error({"tracing": {"sample_ratio": 1.5}}).key == "tracing.sample_ratio"


def test_span_export_without_opentelemetry_installed_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The import fails as if OpenTelemetry were not installed.
    monkeypatch.setitem(sys.modules, "schemas.otel", None)
    monkeypatch.delattr(schemas, "otel", raising=False)
    settings = parse({"tracing": {"exporter": "otlp"}}, env={})
    with pytest.raises(ConfigError) as raised:
        telemetry.start(settings.tracing, "worker")
    assert raised.value.key == "tracing.exporter"
    assert "hookgate[otel]" in raised.value.reason
