"""The configuration's published JSON Schema is generated from the models and agrees with them."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from hookgate.cli import main
from schemas.config import SCHEMA_PATH, ConfigError, json_schema, json_schema_text, parse
from tests import REPO

DEV_CONFIG = REPO / "hookgate" / "samples" / "dev.yaml"


def validator() -> jsonschema.Draft202012Validator:
    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(published)
    return jsonschema.Draft202012Validator(published)


def test_the_published_schema_is_the_one_the_models_generate() -> None:
    # Stale after a change to the models: run `hookgate config schema --write`.
    assert SCHEMA_PATH.read_text(encoding="utf-8") == json_schema_text()


def test_the_cli_prints_the_generated_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


def test_the_development_config_is_valid_by_the_schema() -> None:
    validator().validate(yaml.safe_load(DEV_CONFIG.read_text(encoding="utf-8")))


def test_a_topic_mapping_without_a_name_and_a_short_form_are_valid_by_the_schema() -> None:
    validator().validate({"topics": {"raw": {"partitions": 6}, "canonical": "c.events"}})


def test_numbers_and_references_in_client_settings_are_valid_by_the_schema() -> None:
    document = {
        "kafka": {"client": {"linger.ms": 5, "sasl.password": {"file": "kafka-password"}}},
        "topics": {"raw": {"config": {"retention.ms": 1000}}},
    }
    validator().validate(document)


@pytest.mark.parametrize(
    "document",
    [
        {"kafak": {}},
        {"ingress": {"port": 70_000}},
        {"sources": [{"name": "a", "provider": "acme"}]},
        {"sources": [{"name": "a", "provider": "github", "public_url": "https://x/y"}]},
        {"sources": [{"name": "a", "provider": "fal", "signing_key": "x"}]},
        {"sources": [{"name": "a", "provider": "github", "secrets": [{"vault": "x"}]}]},
        {"sources": [{"name": "a", "provider": "generic-hmac"}]},
        {"worker": {"max_in_flight": 0}},
    ],
    ids=[
        "unknown-key",
        "port-range",
        "unknown-provider",
        "other-providers-option",
        "signing-key",
        "secret-form",
        "required-option",
        "range",
    ],
)
def test_what_the_models_refuse_the_schema_refuses_too(document: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse(document, env={})
    assert list(validator().iter_errors(document))


def test_every_key_of_the_published_schema_has_a_description() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    missing = [
        f"{name}.{key}"
        for name, definition in [("Settings", schema), *schema["$defs"].items()]
        for key, prop in definition.get("properties", {}).items()
        if "description" not in prop
    ]
    assert missing == []


def test_a_keys_description_is_its_comment_in_the_model() -> None:
    described = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["$defs"]["WorkerSettings"]
    assert described["properties"]["stall_timeout_s"]["description"].startswith(
        "Records waiting on an owned partition"
    )
