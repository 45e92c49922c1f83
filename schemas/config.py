"""Hookgate's configuration: one YAML file, a few environment overrides, secrets by reference.

The file is the contract between the operator and both processes (ingress and worker), so it lives
here with the other contracts. It is validated once per process into frozen pydantic models
(unknown keys refused everywhere) and passed down; nothing else reads the environment. Every error
is a :class:`ConfigError` that names the key as a path (``sources[0].secrets[1]``) and the reason,
and a :class:`~schemas.secrets.Secret` never shows its value. The JSON Schema published in
``schemas/json/config.v1.schema.json`` is generated from these models (:func:`json_schema`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import kafka_clients, published
from schemas import sources as sources_module
from schemas.canonical import DEFAULT_TYPE_PREFIX, TYPE_PREFIX
from schemas.config_errors import ConfigError, config_error
from schemas.field_docs import describe
from schemas.secrets import SECRET_REF_SCHEMA, Secret, SecretContext, TextRef
from schemas.sources import (
    SOURCE_MODELS,
    AnySource,
    ApiKeySource,
    BasicAuthSource,
    FalSource,
    GenericHmacSource,
    LumaSource,
    SignedSource,
    SourceSettings,
    TwilioSource,
)
from schemas.types import Between

__all__ = [
    "ENV_OVERRIDES",
    "LOCAL_BOOTSTRAP",
    "SOURCE_MODELS",
    "ApiKeySource",
    "BasicAuthSource",
    "ConfigError",
    "FalSource",
    "GenericHmacSource",
    "IngressSettings",
    "KafkaSettings",
    "LumaSource",
    "Secret",
    "Settings",
    "SignedSource",
    "SourceSettings",
    "TopicSpec",
    "TopicsSettings",
    "TracingSettings",
    "TwilioSource",
    "WorkerSettings",
    "json_schema",
    "load",
    "parse",
]

#: Environment variables that override deployment values of the file, and the key each sets.
ENV_OVERRIDES: Mapping[str, str] = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka.bootstrap_servers",
    "HOOKGATE_INGRESS_HOST": "ingress.host",
    "HOOKGATE_INGRESS_PORT": "ingress.port",
    "HOOKGATE_WORKER_APP_ID": "worker.app_id",
    "HOOKGATE_WORKER_DATA_DIR": "worker.data_dir",
    "HOOKGATE_WORKER_WEB_PORT": "worker.web_port",
}

#: Where the local development broker (``hookgate kafka start``) listens.
LOCAL_BOOTSTRAP = "127.0.0.1:9092"

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_STRICT = ConfigDict(extra="forbid", frozen=True)

NonEmpty = Annotated[str, Field(min_length=1)]
Port = Annotated[int, Between(0, 65_535)]


def _client_value(value: Any) -> Any:
    # librdkafka takes every setting as text; YAML may give numbers and booleans.
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


class KafkaSettings(BaseModel):
    model_config = _STRICT

    #: Comma-separated ``host:port`` list; ``KAFKA_BOOTSTRAP_SERVERS`` overrides it. Unset means
    #: the local development broker, which ``hookgate dev`` starts.
    bootstrap_servers: NonEmpty | None = None
    #: How long the ingress waits for the broker's acknowledgement before answering 503.
    delivery_timeout_ms: Annotated[int, Between(100, 300_000)] = 5000
    #: librdkafka settings (TLS, SASL, ...) for every Kafka client of every process; the worker's
    #: Faust consumer and changelog producer get the security settings translated
    #: (``schemas/kafka_clients.py``). Values may be secret references; hidden from ``repr``.
    client: dict[
        str,
        Annotated[
            TextRef,
            BeforeValidator(_client_value),
            WithJsonSchema({"anyOf": [{"type": ["number", "boolean"]}, SECRET_REF_SCHEMA]}),
        ],
    ] = Field(default_factory=dict, repr=False)

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or LOCAL_BOOTSTRAP

    @property
    def uses_local_broker(self) -> bool:
        return self.bootstrap_servers is None


def _topic_name(value: str) -> str:
    if not _TOPIC_NAME.match(value):
        raise PydanticCustomError(
            "config", "{name} is not a valid Kafka topic name", {"name": repr(value)}
        )
    return value


def _short_topic(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class TopicSpec(BaseModel):
    model_config = _STRICT

    #: The topic's name.
    name: Annotated[
        str, Field(json_schema_extra={"pattern": _TOPIC_NAME.pattern}), AfterValidator(_topic_name)
    ]
    #: Partitions; the raw topic's count is the worker's unit of scaling and of its table.
    partitions: Annotated[int, Between(1, 10_000)] = 3
    #: Copies of each partition; 3 on a production cluster (with ``min.insync.replicas: 2``).
    replication_factor: Annotated[int, Between(1, 32)] = 1
    #: Broker topic configs, e.g. ``retention.ms``; merged over the topic's defaults.
    config: dict[
        str,
        Annotated[
            str,
            BeforeValidator(_client_value),
            WithJsonSchema({"type": ["string", "number", "boolean"]}),
        ],
    ] = Field(default_factory=dict)


def _defaults(name: str, retention_days: int) -> TopicSpec:
    return TopicSpec(name=name, config={"retention.ms": str(retention_days * 86_400_000)})


def _over(default: TopicSpec) -> Any:
    """A topic given as a name or a mapping, over this topic's default name and configs."""

    def fill(value: Any) -> Any:
        value = _short_topic(value)
        if not isinstance(value, dict):
            return value
        config = value.get("config", {})
        if isinstance(config, dict):
            config = {**default.config, **config}
        return {"name": default.name, **value, "config": config}

    return BeforeValidator(fill, json_schema_input_type=str | TopicSpec)


_RAW = _defaults("webhooks.raw", 7)
_CANONICAL = _defaults("webhooks.canonical", 7)
_DEAD_LETTER = _defaults("webhooks.dlq", 30)


class TopicsSettings(BaseModel):
    model_config = _STRICT

    #: Written by the ingress, read by the worker; its partitions bound the worker's scale.
    raw: Annotated[TopicSpec, _over(_RAW)] = _RAW
    #: The CloudEvents the worker emits.
    canonical: Annotated[TopicSpec, _over(_CANONICAL)] = _CANONICAL
    #: What the worker could not normalize, with the reason.
    dead_letter: Annotated[TopicSpec, _over(_DEAD_LETTER)] = _DEAD_LETTER

    def all(self) -> tuple[TopicSpec, ...]:
        return (self.raw, self.canonical, self.dead_letter)


class IngressSettings(BaseModel):
    model_config = _STRICT

    #: The address the ingress listens on.
    host: NonEmpty = "127.0.0.1"
    #: The port the ingress listens on.
    port: Port = 8000
    #: A body must arrive in full within this many milliseconds of its first byte being
    #: awaited, else 408: a sender that stalls mid-body holds no connection and memory for long.
    body_timeout_ms: Annotated[int, Between(100, 600_000)] = 10_000
    #: Body bytes all requests in progress may hold together (declared lengths count before
    #: they arrive); a request that would pass it gets 503 + ``Retry-After``. At least the
    #: largest ``max_body_bytes`` of a source.
    max_body_bytes_in_flight: Annotated[int, Between(1_048_576, 16 * 1_073_741_824)] = (
        64 * 1_048_576
    )
    #: Deliveries waiting for the broker's acknowledgement; while this many wait, new ones are
    #: refused with 503 + ``Retry-After`` before their body is read.
    max_produces_in_flight: Annotated[int, Between(1, 1_000_000)] = 1_000
    #: Connections served at once per process; a request on one more gets uvicorn's 503.
    max_connections: Annotated[int, Between(1, 1_000_000)] = 1_000
    #: Bytes of a request's head (request line and headers); beyond them: 431, connection closed
    #: before the rest arrives.
    max_header_bytes: Annotated[int, Between(1_024, 1_048_576)] = 32_768
    #: Headers in one request; one more: 431.
    max_headers: Annotated[int, Between(8, 10_000)] = 100

    @property
    def local_url(self) -> str:
        """Base URL for a client on this machine (the CLI), also when bound to all interfaces."""
        wildcard = self.host in ("0.0.0.0", "::")  # noqa: S104 - comparing, not binding
        return f"http://{'127.0.0.1' if wildcard else self.host}:{self.port}"


class WorkerSettings(BaseModel):
    model_config = _STRICT

    #: Faust app id: the consumer group and the prefix of the changelog topics.
    app_id: NonEmpty = "hookgate"
    #: A second delivery of an event within this many seconds of the first is dropped.
    dedup_horizon_s: Annotated[int, Between(1, 365 * 86_400)] = 7 * 86_400
    #: Faust's data directory (table stores); one per worker process.
    data_dir: NonEmpty = ".hookgate/worker"
    #: ``memory://`` rebuilds tables from the changelog at start; ``rocksdb://`` reads the delta.
    store: NonEmpty = "memory://"
    #: Port of the worker's web server (``/metrics``, ``/healthz``).
    web_port: Port = 6066
    #: Records written but not yet acknowledged; the worker waits when it is reached.
    max_in_flight: Annotated[int, Between(1, 1_000_000)] = 10_000
    #: Reverse-DNS namespace before every canonical ``ce_type``: ``dev.hookgate.job.succeeded``.
    type_prefix: Annotated[
        str, Field(json_schema_extra={"pattern": f"^{TYPE_PREFIX.pattern}$"})
    ] = DEFAULT_TYPE_PREFIX
    #: ``exactly_once``: output, de-duplication state and offsets commit together in Kafka
    #: transactions (consumers read ``read_committed``). ``at_least_once``: faster to see, and
    #: a crash may repeat recent events (same ``ce_source`` + ``ce_id``).
    guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    #: How often progress is committed; the latency it adds to canonical visibility.
    commit_interval_ms: Annotated[int, Between(10, 60_000)] = 100
    #: How often de-duplication entries older than the horizon are removed.
    state_expiry_interval_s: Annotated[int, Between(1, 86_400)] = 60
    #: Records waiting on an owned partition and none taken for this long (rebalancing and
    #: table recovery not counted): the worker stops with an error for a restart. 0: never.
    stall_timeout_s: Annotated[int, Between(0, 86_400)] = 60
    #: Copies of each de-duplication table partition kept warm by other worker processes:
    #: a moved partition then needs no full changelog read, but every worker replays the
    #: others' state writes (CPU per event 2.4x with two workers, measured in bench/README.md).
    standby_replicas: Annotated[int, Between(0, 10)] = 0

    @field_validator("type_prefix")
    @classmethod
    def _reverse_dns(cls, prefix: str) -> str:
        if not TYPE_PREFIX.fullmatch(prefix):
            raise PydanticCustomError(
                "config",
                "{prefix}: a reverse-DNS name of two or more lower-case labels ending in a dot, "
                "e.g. com.example.webhooks.",
                {"prefix": repr(prefix[:80])},
            )
        return prefix

    @field_validator("store")
    @classmethod
    def _known_store(cls, store: str) -> str:
        if store.split("://")[0] not in ("memory", "rocksdb"):
            raise PydanticCustomError(
                "config", "{store}: use memory:// or rocksdb://", {"store": repr(store)}
            )
        return store


class TracingSettings(BaseModel):
    """Span export (OpenTelemetry, the ``hookgate[otel]`` extra). The W3C trace context travels
    from the delivery to the canonical event whatever this says; this only decides whether the
    ingress and the worker also record spans, and where they send them."""

    model_config = _STRICT

    #: ``none``: no spans (the default; nothing is imported or sent). ``otlp``: OTLP over HTTP to
    #: ``endpoint``. ``console``: spans printed as JSON to stdout, for trying it out.
    exporter: Literal["none", "otlp", "console"] = "none"
    #: The OTLP/HTTP traces URL, e.g. ``http://otel-collector:4318/v1/traces``. Unset: the
    #: exporter's own default (``OTEL_EXPORTER_OTLP_*`` variables, else localhost:4318).
    endpoint: NonEmpty | None = None
    #: ``service.name`` of the spans; the ingress and the worker add ``-ingress``/``-worker``.
    service_name: NonEmpty = "hookgate"
    #: The share of new traces recorded. A delivery that comes with a ``traceparent`` follows
    #: its sender's sampled flag instead.
    sample_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0

    @field_validator("endpoint")
    @classmethod
    def _url(cls, endpoint: str | None) -> str | None:
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise PydanticCustomError(
                "config", "{endpoint}: an http:// or https:// URL", {"endpoint": repr(endpoint)}
            )
        return endpoint


#: Kafka's default ``max.message.bytes`` (1 MiB + record-batch overhead).
_KAFKA_DEFAULT_RECORD_BYTES = 1_048_588


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="Hookgate configuration")

    #: The cluster and the client settings every Kafka client of every process uses.
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    #: The raw, canonical and dead-letter topics.
    topics: TopicsSettings = Field(default_factory=TopicsSettings)
    #: The HTTP service that verifies deliveries and writes them to the raw topic.
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    #: The stream worker that de-duplicates and normalizes into canonical events.
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    #: W3C trace context and optional OpenTelemetry spans.
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    #: The webhook senders, each served at ``POST /webhooks/{name}``.
    source_list: tuple[AnySource, ...] = Field(default=(), alias="sources")

    _by_name: Mapping[str, SourceSettings] = PrivateAttr(default_factory=dict)
    _origin: str = PrivateAttr(default="<defaults>")

    def model_post_init(self, context: Any) -> None:
        self._by_name = MappingProxyType({s.name: s for s in self.source_list})

    @property
    def sources(self) -> Mapping[str, SourceSettings]:
        """The sources by name, in the file's order."""
        return self._by_name

    @property
    def origin(self) -> str:
        """Where the settings were read from, for messages."""
        return self._origin

    @property
    def max_record_bytes(self) -> int:
        """The largest record the topics, producers and consumers must carry: the largest body a
        source accepts, grown by a third (a body that is not JSON becomes base64 canonical
        data), plus room for the key and headers (the sender's are capped by
        ``ingress.max_header_bytes``); never below Kafka's own default of about 1 MB."""
        largest = max((s.max_body_bytes for s in self.source_list), default=0)
        headroom = 2 * self.ingress.max_header_bytes + 65_536
        return max(_KAFKA_DEFAULT_RECORD_BYTES, -(-largest * 4 // 3) + headroom)


class EnvironmentOverrides(BaseSettings):
    """The deployment values that environment variables override, read by pydantic-settings.

    Kept as text: each is written into the document at the key it sets, so a bad value fails
    there with that key (``ingress.port: must be an integer``).
    """

    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    ingress_host: str | None = Field(default=None, validation_alias="HOOKGATE_INGRESS_HOST")
    ingress_port: str | None = Field(default=None, validation_alias="HOOKGATE_INGRESS_PORT")
    worker_app_id: str | None = Field(default=None, validation_alias="HOOKGATE_WORKER_APP_ID")
    worker_data_dir: str | None = Field(default=None, validation_alias="HOOKGATE_WORKER_DATA_DIR")
    worker_web_port: str | None = Field(default=None, validation_alias="HOOKGATE_WORKER_WEB_PORT")
    #: The configuration file.
    config: str | None = Field(default=None, validation_alias="HOOKGATE_CONFIG")

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> EnvironmentOverrides:
        """From the process environment, or from ``env`` alone when given (tests, tools)."""
        if env is None:
            return cls()
        # model_validate skips the settings sources: only ``env`` is read.
        return cls.model_validate(
            {
                str(field.validation_alias): env.get(str(field.validation_alias)) or None
                for field in cls.model_fields.values()
            }
        )

    def overrides(self) -> dict[str, str]:
        """Dotted key -> value, for the variables that are set."""
        values = {
            dotted: getattr(self, dotted.replace(".", "_")) for dotted in ENV_OVERRIDES.values()
        }
        return {dotted: value for dotted, value in values.items() if value}


def load(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the file named by ``path`` or ``HOOKGATE_CONFIG``, then apply environment overrides."""
    path = path or EnvironmentOverrides.read(env).config
    if path is None:
        raise ConfigError(
            "--config", "no configuration file given (use --config or HOOKGATE_CONFIG)"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", f"{path} is not valid YAML: {exc}") from None
    return parse(document, env=env, origin=str(path), base_dir=Path(path).parent)


def parse(
    document: Any,
    *,
    env: Mapping[str, str] | None = None,
    origin: str = "<dict>",
    base_dir: Path | None = None,
) -> Settings:
    """Build settings from an already-parsed document (the YAML's mapping)."""
    if not isinstance(document, dict):
        raise ConfigError("<root>", f"must be a mapping, not {type(document).__name__}")
    # A shallow copy per section: overrides are written into it, never into the caller's document.
    doc = dict(document)
    for dotted, value in EnvironmentOverrides.read(env).overrides().items():
        section, key = dotted.split(".")
        target = doc.get(section, {})
        if not isinstance(target, dict):
            raise ConfigError(section, f"must be a mapping, not {type(target).__name__}")
        doc[section] = {**target, key: value}
    context = {"secrets": SecretContext(env, base_dir)}
    try:
        settings = Settings.model_validate(doc, context=context)
    except ValidationError as exc:
        raise config_error(exc, Settings, "sources") from None
    kafka_clients.check(settings.kafka.client)
    seen: set[str] = set()
    in_flight = settings.ingress.max_body_bytes_in_flight
    for i, source in enumerate(settings.source_list):
        if source.name in seen:
            raise ConfigError(f"sources[{i}].name", f"duplicate source name {source.name!r}")
        seen.add(source.name)
        if source.max_body_bytes > in_flight:
            raise ConfigError(
                "ingress.max_body_bytes_in_flight",
                f"{in_flight} is less than sources[{i}].max_body_bytes ({source.max_body_bytes}):"
                " no body of that size could ever be accepted",
            )
    settings._origin = origin
    return settings


#: Where the generated schema is published (``hookgate config schema --write``).
SCHEMA_PATH = published.DIRECTORY / "config.v1.schema.json"


def json_schema_text() -> str:
    """:func:`json_schema` as the published file's text."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def json_schema() -> dict[str, Any]:
    """The configuration file's JSON Schema (draft 2020-12), generated from the models."""
    schema = Settings.model_json_schema(mode="validation")
    models = {
        cls.__name__: cls
        for module in (sys.modules[__name__], sources_module)
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, BaseModel)
    }
    describe(schema, models, Settings)
    # Each topic field fills in its own default name, so a topic mapping may omit it.
    schema["$defs"]["TopicSpec"].pop("required", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": published.BASE_URI + SCHEMA_PATH.name,
        # Semantic versioning as every published schema (schemas/README.md).
        "version": "1.1.0",
        **schema,
    }
