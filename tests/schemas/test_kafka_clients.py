"""Every Kafka client's settings come from one builder: librdkafka's for confluent-kafka clients,
Faust credentials for the worker's aiokafka clients, and what either could not follow is refused
at start with the key."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol, SASLMechanism

from schemas import kafka_clients
from schemas.config import ConfigError, KafkaSettings, parse
from tests import REPO
from tests.tls import make_tls_files

SASL_SSL = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "svc",
    "sasl.password": "kafka-pass-1",
}


def kafka(client: dict[str, Any], **section: Any) -> KafkaSettings:
    return parse({"kafka": {"client": client, **section}}, env={}).kafka


def refused(client: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse({"kafka": {"client": client}}, env={})
    return caught.value


# --- librdkafka --------------------------------------------------------------------------------


def test_a_librdkafka_client_gets_the_client_settings_and_the_bootstrap_servers() -> None:
    settings = kafka_clients.librdkafka(kafka(SASL_SSL, bootstrap_servers="k1:9093"))
    assert settings == {**SASL_SSL, "bootstrap.servers": "k1:9093"}


def test_the_callers_own_settings_win_over_the_client_settings() -> None:
    settings = kafka_clients.librdkafka(kafka({"group.id": "theirs"}), **{"group.id": "ours"})
    assert settings["group.id"] == "ours"


def test_a_producer_always_waits_for_every_replica_and_is_idempotent() -> None:
    settings = kafka_clients.producer(kafka({"linger.ms": "50"}), acks=1)
    assert (settings["acks"], settings["enable.idempotence"]) == ("all", True)
    assert settings["linger.ms"] == "50"


@pytest.mark.parametrize(
    ("client", "key"),
    [
        ({"acks": "1"}, "kafka.client.acks"),
        ({"enable.idempotence": "false"}, "kafka.client.enable.idempotence"),
        ({"bootstrap.servers": "elsewhere:9092"}, "kafka.client.bootstrap.servers"),
    ],
    ids=["acks", "idempotence", "bootstrap"],
)
def test_client_settings_that_would_weaken_or_bypass_ours_are_refused(
    client: dict[str, Any], key: str
) -> None:
    assert refused(client).key == key


def test_numbers_and_booleans_in_the_client_section_become_librdkafka_text() -> None:
    assert dict(kafka({"linger.ms": 5, "socket.keepalive.enable": True}).client) == {
        "linger.ms": "5",
        "socket.keepalive.enable": "true",
    }


# --- Faust (aiokafka) --------------------------------------------------------------------------


def test_without_security_settings_faust_gets_no_credentials() -> None:
    settings = kafka_clients.faust_app(kafka({}, bootstrap_servers="k1:9092, k2:9092"))
    assert settings["broker"] == "kafka://k1:9092;kafka://k2:9092"
    assert settings["broker_credentials"] is None
    assert settings["producer_acks"] == -1


def test_sasl_over_tls_becomes_faust_sasl_credentials_with_a_verifying_context(
    tmp_path: Path,
) -> None:
    tls = make_tls_files(tmp_path)
    credentials = kafka_clients.faust_app(kafka({**SASL_SSL, "ssl.ca.location": str(tls.ca)}))[
        "broker_credentials"
    ]
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    assert (credentials.username, credentials.password) == ("svc", "kafka-pass-1")
    context = credentials.ssl_context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "hookgate test CA"),),)
    ]


def test_sasl_without_tls_has_no_context() -> None:
    client = {**SASL_SSL, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}
    credentials = kafka_clients.faust_credentials(kafka(client).client)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_PLAINTEXT
    assert credentials.ssl_context is None


def test_tls_alone_becomes_ssl_credentials_and_none_turns_off_the_host_name_check() -> None:
    client = {"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "none"}
    credentials = kafka_clients.faust_credentials(kafka(client).client)
    assert isinstance(credentials, SSLCredentials)
    assert not credentials.context.check_hostname


def test_a_ca_file_that_cannot_be_read_names_the_key(tmp_path: Path) -> None:
    client = {"security.protocol": "SSL", "ssl.ca.location": str(tmp_path / "absent.pem")}
    with pytest.raises(ConfigError) as caught:
        kafka_clients.faust_credentials(kafka(client).client)
    assert caught.value.key == "kafka.client.ssl.ca.location"


@pytest.mark.parametrize(
    ("client", "key", "reason"),
    [
        ({**SASL_SSL, "sasl.mechanism": "GSSAPI"}, "kafka.client.sasl.mechanism", "supported"),
        (
            {**SASL_SSL, "sasl.mechanism": "OAUTHBEARER"},
            "kafka.client.sasl.mechanism",
            "supported",
        ),
        (
            {k: v for k, v in SASL_SSL.items() if k != "sasl.mechanism"},
            "kafka.client.sasl.mechanism",
            "is required",
        ),
        (
            {k: v for k, v in SASL_SSL.items() if k != "sasl.password"},
            "kafka.client.sasl.password",
            "is required",
        ),
        (
            {"security.protocol": "SSL", "ssl.keystore.location": "/k.p12"},
            "kafka.client.ssl.keystore.location",
            "not supported",
        ),
        ({"security.protocol": "SASL_GSS"}, "kafka.client.security.protocol", "one of"),
        ({"sasl.username": "svc"}, "kafka.client.security.protocol", "SASL_SSL"),
        ({"ssl.ca.location": "/ca.pem"}, "kafka.client.ssl.ca.location", "TLS settings"),
        (
            {"security.protocol": "SSL", "ssl.certificate.location": "/c.pem"},
            "kafka.client.ssl.key.location",
            "both",
        ),
    ],
    ids=[
        "gssapi",
        "oauthbearer",
        "no-mechanism",
        "no-password",
        "pkcs12-keystore",
        "unknown-protocol",
        "sasl-without-protocol",
        "tls-without-protocol",
        "certificate-without-key",
    ],
)
def test_what_the_worker_could_not_follow_is_refused_at_start(
    client: dict[str, Any], key: str, reason: str
) -> None:
    error = refused(client)
    assert error.key == key
    assert reason in error.reason
    assert "kafka-pass-1" not in str(error)


# --- one builder -------------------------------------------------------------------------------

#: Modules that may name ``bootstrap.servers`` themselves, and why: the builder; the two producer
#: wrappers, whose callers pass the builder's settings and the bootstrap servers apart; the local
#: broker tool, whose clients talk to the broker it started, not to a configured cluster.
_NAMES_BOOTSTRAP = {
    "schemas/kafka_clients.py",
    "ingress/producer.py",
    "streams/emitter.py",
    "hookgate/kafka_local.py",
}


def test_no_client_of_any_process_builds_its_settings_by_hand() -> None:
    # A hand-built client misses kafka.client (SASL, TLS): it fails against a secured cluster.
    by_hand = sorted(
        str(path.relative_to(REPO))
        for top in ("ingress", "streams", "schemas", "hookgate")
        for path in (REPO / top).rglob("*.py")
        if '"bootstrap.servers"' in path.read_text()
        and str(path.relative_to(REPO)) not in _NAMES_BOOTSTRAP
    )
    assert not by_hand, f"build client settings with schemas.kafka_clients instead: {by_hand}"
