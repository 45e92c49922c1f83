"""Every Kafka client's settings, built in one place from the configuration's ``kafka`` section.

Two client libraries talk to Kafka: librdkafka (confluent-kafka: the ingress producer, the
worker's emitter, the CLI's admin and tail) and aiokafka (under Faust: the worker's consumer,
changelog producer and topic admin). ``kafka.client`` is written in librdkafka's names; for Faust
its security settings are translated into ``broker_credentials``. What aiokafka cannot do is
refused at start (:func:`check`) rather than leaving the worker unable to reach a cluster the
ingress reaches.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from schemas.config_errors import ConfigError

if TYPE_CHECKING:
    from schemas.config import KafkaSettings

#: What every producer promises: a write acknowledged by every in-sync replica, never duplicated
#: or reordered by the client's own retries. Applied last: ``kafka.client`` cannot weaken it.
PRODUCER_GUARANTEES: Mapping[str, Any] = {"enable.idempotence": True, "acks": "all"}

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
#: SASL mechanisms both librdkafka and aiokafka speak with a user name and password.
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: The security settings that are translated for Faust; any other ``security.*``, ``sasl.*`` or
#: ``ssl.*`` setting would reach librdkafka only, so it is refused.
TRANSLATED = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
    }
)
_SECURITY = ("security.", "sasl.", "ssl.")
_OURS = frozenset({"bootstrap.servers", "metadata.broker.list"})


def check(client: Mapping[str, str]) -> None:
    """Refuse ``kafka.client`` settings that some client of some process could not follow."""
    for name, value in client.items():
        key = f"kafka.client.{name}"
        if name in _OURS:
            raise ConfigError(key, "set kafka.bootstrap_servers instead")
        if name == "acks" and value.lower() not in ("all", "-1"):
            raise ConfigError(key, "producers always wait for every in-sync replica (acks=all)")
        if name == "enable.idempotence" and value.lower() != "true":
            raise ConfigError(key, "producers are always idempotent")
        if name.startswith(_SECURITY) and name not in TRANSLATED:
            allowed = ", ".join(sorted(TRANSLATED))
            raise ConfigError(
                key,
                f"not supported by the worker's Faust (aiokafka) clients (supported: {allowed})",
            )
    protocol = _protocol(client)
    mechanism = _mechanism(client)
    if "SASL" in protocol:
        if mechanism is None:
            # librdkafka's own default is GSSAPI, which aiokafka's clients here cannot follow.
            raise ConfigError(
                "kafka.client.sasl.mechanism",
                f"is required with {protocol} (one of {', '.join(MECHANISMS)})",
            )
        for name in ("sasl.username", "sasl.password"):
            if not client.get(name):
                raise ConfigError(f"kafka.client.{name}", f"is required with {protocol}")
    elif mechanism is not None or "sasl.username" in client:
        raise ConfigError(
            "kafka.client.security.protocol", "SASL settings need SASL_SSL or SASL_PLAINTEXT"
        )
    if "SSL" not in protocol:
        ssl_keys = sorted(name for name in client if name.startswith("ssl."))
        if ssl_keys:
            raise ConfigError(
                f"kafka.client.{ssl_keys[0]}", f"TLS settings need SSL or SASL_SSL, not {protocol}"
            )
    if ("ssl.certificate.location" in client) != ("ssl.key.location" in client):
        raise ConfigError(
            "kafka.client.ssl.key.location",
            "a client certificate needs both ssl.certificate.location and ssl.key.location",
        )


def _protocol(client: Mapping[str, str]) -> str:
    protocol = client.get("security.protocol", "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(
            "kafka.client.security.protocol", f"must be one of {', '.join(PROTOCOLS)}"
        )
    return protocol


def _mechanism(client: Mapping[str, str]) -> str | None:
    name = "sasl.mechanism" if "sasl.mechanism" in client else "sasl.mechanisms"
    value = client.get(name)
    if value is None:
        return None
    if value.upper() not in MECHANISMS:
        raise ConfigError(
            f"kafka.client.{name}",
            f"{value!r} is not supported by the worker's Faust (aiokafka) clients "
            f"(supported: {', '.join(MECHANISMS)})",
        )
    return value.upper()


# -- librdkafka (confluent-kafka) ---------------------------------------------------------------


def librdkafka(kafka: KafkaSettings, **tuning: Any) -> dict[str, Any]:
    """Settings for a confluent-kafka client (admin, consumer): ``kafka.client``, then the
    caller's ``tuning`` (e.g. ``group.id``), then the bootstrap servers."""
    return {**kafka.client, **tuning, "bootstrap.servers": kafka.bootstrap}


def producer(kafka: KafkaSettings, **tuning: Any) -> dict[str, Any]:
    """Settings for a confluent-kafka producer: as :func:`librdkafka`, with
    :data:`PRODUCER_GUARANTEES` last."""
    return {**librdkafka(kafka, **tuning), **PRODUCER_GUARANTEES}


# -- Faust (aiokafka) ---------------------------------------------------------------------------


def faust_app(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App``: the brokers, the credentials its consumer, changelog
    producer and admin use, and ``acks=all`` for its producer."""
    return {
        "broker": ";".join(f"kafka://{h.strip()}" for h in kafka.bootstrap.split(",")),
        "broker_credentials": faust_credentials(kafka.client),
        "producer_acks": -1,
    }


def faust_credentials(client: Mapping[str, str]) -> Any:
    """``kafka.client``'s security settings as Faust credentials (``None`` for PLAINTEXT)."""
    from faust.auth import SASLCredentials, SSLCredentials  # only the worker imports Faust

    check(client)
    protocol = _protocol(client)
    context = ssl_context(client) if "SSL" in protocol else None
    if "SASL" in protocol:
        return SASLCredentials(
            username=client["sasl.username"],
            password=client["sasl.password"],
            mechanism=_mechanism(client),
            ssl_context=context,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def ssl_context(client: Mapping[str, str]) -> ssl.SSLContext:
    """A TLS client context as librdkafka would set it up from the same settings."""
    try:
        context = ssl.create_default_context(cafile=client.get("ssl.ca.location"))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("kafka.client.ssl.ca.location", f"cannot load: {exc}") from None
    if "ssl.certificate.location" in client:
        try:
            context.load_cert_chain(
                client["ssl.certificate.location"],
                client["ssl.key.location"],
                client.get("ssl.key.password"),
            )
        except (OSError, ssl.SSLError) as exc:
            # Never the password: only which files did not load.
            raise ConfigError(
                "kafka.client.ssl.certificate.location",
                f"cannot load the certificate and key: {type(exc).__name__}",
            ) from None
    # librdkafka checks the broker's host name unless told "none"; so does this context.
    if client.get("ssl.endpoint.identification.algorithm", "https").lower() == "none":
        context.check_hostname = False
    return context
