"""Hookgate's configuration: one YAML file, a few environment overrides, secrets by reference.

The file is the contract between the operator and both processes (ingress and worker), so it lives
here with the other contracts. It is loaded once per process into frozen dataclasses and passed
down; nothing else reads the environment. Every error names the key and the reason, and a
:class:`Secret` never shows its value in ``repr``, logs or errors.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.canonical import DEFAULT_TYPE_PREFIX, TYPE_PREFIX

#: Environment variables that override deployment values of the file, and the key each sets.
ENV_OVERRIDES: Mapping[str, str] = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka.bootstrap_servers",
    "HOOKGATE_INGRESS_HOST": "ingress.host",
    "HOOKGATE_INGRESS_PORT": "ingress.port",
    "HOOKGATE_WORKER_APP_ID": "worker.app_id",
    "HOOKGATE_WORKER_DATA_DIR": "worker.data_dir",
    "HOOKGATE_WORKER_WEB_PORT": "worker.web_port",
}

_SOURCE_KEYS = frozenset(
    {"name", "provider", "secrets", "public_keys", "tolerance", "max_body_bytes"}
)
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the reason."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config: {key}: {reason}")
        self.key = key
        self.reason = reason


class Secret:
    """A secret value that never prints itself: ``repr`` and ``str`` are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


#: Where the local development broker (``hookgate kafka start``) listens.
LOCAL_BOOTSTRAP = "127.0.0.1:9092"


@dataclass(frozen=True)
class KafkaSettings:
    #: Comma-separated ``host:port`` list; ``KAFKA_BOOTSTRAP_SERVERS`` overrides it. Unset means
    #: the local development broker, which ``hookgate dev`` starts.
    bootstrap_servers: str | None = None
    #: How long the ingress waits for the broker's acknowledgement before answering 503.
    delivery_timeout_ms: int = 5000
    #: Extra librdkafka settings (security, SASL) for the ingress producer and the CLI's
    #: clients. Values may be secret references; hidden from ``repr`` because they hold
    #: passwords.
    client: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or LOCAL_BOOTSTRAP

    @property
    def uses_local_broker(self) -> bool:
        return self.bootstrap_servers is None


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    replication_factor: int = 1
    #: Broker topic configs, e.g. ``retention.ms``.
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicsSettings:
    raw: TopicSpec = TopicSpec("webhooks.raw", config={"retention.ms": str(7 * 86_400_000)})
    canonical: TopicSpec = TopicSpec(
        "webhooks.canonical", config={"retention.ms": str(7 * 86_400_000)}
    )
    dead_letter: TopicSpec = TopicSpec(
        "webhooks.dlq", config={"retention.ms": str(30 * 86_400_000)}
    )

    def all(self) -> tuple[TopicSpec, ...]:
        return (self.raw, self.canonical, self.dead_letter)


@dataclass(frozen=True)
class IngressSettings:
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def local_url(self) -> str:
        """Base URL for a client on this machine (the CLI), also when bound to all interfaces."""
        wildcard = self.host in ("0.0.0.0", "::")  # noqa: S104 - comparing, not binding
        return f"http://{'127.0.0.1' if wildcard else self.host}:{self.port}"


@dataclass(frozen=True)
class WorkerSettings:
    #: Faust app id: the consumer group and the prefix of the changelog topics.
    app_id: str = "hookgate"
    #: A second delivery of an event within this many seconds of the first is dropped.
    dedup_horizon_s: int = 7 * 86_400
    #: Faust's data directory (table stores); one per worker process.
    data_dir: str = ".hookgate/worker"
    #: ``memory://`` rebuilds tables from the changelog at start; ``rocksdb://`` reads the delta.
    store: str = "memory://"
    #: Port of the worker's web server (``/metrics``).
    web_port: int = 6066
    #: Canonical events sent but not yet acknowledged; the agent waits when it is reached.
    max_in_flight: int = 10_000
    #: Reverse-DNS namespace before every canonical ``ce_type``: ``dev.hookgate.job.succeeded``.
    type_prefix: str = DEFAULT_TYPE_PREFIX


@dataclass(frozen=True)
class SourceSettings:
    #: Served at ``POST /webhooks/{name}``; also the first part of every record key.
    name: str
    #: Which provider adapter verifies it (``standard-webhooks``, ...).
    provider: str
    secrets: tuple[Secret, ...] = ()
    public_keys: tuple[str, ...] = ()
    #: Accepted clock difference in seconds; ``None`` means the provider's default.
    tolerance: int | None = None
    max_body_bytes: int = 1_048_576
    #: Provider-specific settings (``public_url``, ``jwks_url``, ``header``, ...): every other
    #: key of the source. The provider adapter validates them and rejects unknown ones.
    #: Hidden from ``repr``: some are keys (fal's local ``signing_key``).
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicsSettings = TopicsSettings()
    ingress: IngressSettings = IngressSettings()
    worker: WorkerSettings = WorkerSettings()
    sources: Mapping[str, SourceSettings] = field(default_factory=dict)
    #: Where the settings were read from, for messages.
    origin: str = "<defaults>"


def load(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the file named by ``path`` or ``HOOKGATE_CONFIG``, then apply environment overrides."""
    env = os.environ if env is None else env
    path = path or env.get("HOOKGATE_CONFIG")
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
    env = os.environ if env is None else env
    # A copy: environment overrides are written into it, never into the caller's document.
    doc = copy.deepcopy(_mapping(document, "<root>"))
    _only(doc, "<root>", {"kafka", "topics", "ingress", "worker", "sources"})
    _apply_env_overrides(doc, env)
    reader = _SecretReader(env, base_dir or Path.cwd())
    sources = [
        _source(item, f"sources[{i}]", reader)
        for i, item in enumerate(_list(doc.get("sources", []), "sources"))
    ]
    by_name: dict[str, SourceSettings] = {}
    for i, source in enumerate(sources):
        if source.name in by_name:
            raise ConfigError(f"sources[{i}].name", f"duplicate source name {source.name!r}")
        by_name[source.name] = source
    return Settings(
        kafka=_kafka(_mapping(doc.get("kafka", {}), "kafka"), reader),
        topics=_topics(_mapping(doc.get("topics", {}), "topics")),
        ingress=_ingress(_mapping(doc.get("ingress", {}), "ingress")),
        worker=_worker(_mapping(doc.get("worker", {}), "worker")),
        sources=by_name,
        origin=origin,
    )


def _apply_env_overrides(doc: dict[str, Any], env: Mapping[str, str]) -> None:
    for variable, dotted in ENV_OVERRIDES.items():
        value = env.get(variable)
        if value:
            section, key = dotted.split(".")
            target = doc.setdefault(section, {})
            if not isinstance(target, dict):
                raise ConfigError(section, "must be a mapping")
            target[key] = value


def _kafka(doc: dict[str, Any], reader: _SecretReader) -> KafkaSettings:
    _only(doc, "kafka", {"bootstrap_servers", "delivery_timeout_ms", "client"})
    defaults = KafkaSettings()
    client = _mapping(doc.get("client", {}), "kafka.client")
    return KafkaSettings(
        bootstrap_servers=None
        if doc.get("bootstrap_servers") is None
        else _str(doc["bootstrap_servers"], "kafka.bootstrap_servers"),
        delivery_timeout_ms=_int(
            doc.get("delivery_timeout_ms", defaults.delivery_timeout_ms),
            "kafka.delivery_timeout_ms",
            low=100,
            high=300_000,
        ),
        client={
            str(k): reader.read(v, f"kafka.client.{k}").reveal() if isinstance(v, dict) else str(v)
            for k, v in client.items()
        },
    )


def _topics(doc: dict[str, Any]) -> TopicsSettings:
    _only(doc, "topics", {"raw", "canonical", "dead_letter"})
    defaults = TopicsSettings()
    return TopicsSettings(
        raw=_topic(doc.get("raw"), "topics.raw", defaults.raw),
        canonical=_topic(doc.get("canonical"), "topics.canonical", defaults.canonical),
        dead_letter=_topic(doc.get("dead_letter"), "topics.dead_letter", defaults.dead_letter),
    )


def _topic(value: Any, key: str, default: TopicSpec) -> TopicSpec:
    if value is None:
        return default
    if isinstance(value, str):
        value = {"name": value}
    doc = _mapping(value, key)
    _only(doc, key, {"name", "partitions", "replication_factor", "config"})
    name = _str(doc.get("name", default.name), f"{key}.name")
    if not _TOPIC_NAME.match(name):
        raise ConfigError(f"{key}.name", f"{name!r} is not a valid Kafka topic name")
    config = {**default.config, **_mapping(doc.get("config", {}), f"{key}.config")}
    return TopicSpec(
        name=name,
        partitions=_int(
            doc.get("partitions", default.partitions), f"{key}.partitions", low=1, high=10_000
        ),
        replication_factor=_int(
            doc.get("replication_factor", default.replication_factor),
            f"{key}.replication_factor",
            low=1,
            high=32,
        ),
        config={str(k): str(v) for k, v in config.items()},
    )


def _ingress(doc: dict[str, Any]) -> IngressSettings:
    _only(doc, "ingress", {"host", "port"})
    defaults = IngressSettings()
    return IngressSettings(
        host=_str(doc.get("host", defaults.host), "ingress.host"),
        port=_int(doc.get("port", defaults.port), "ingress.port", low=0, high=65_535),
    )


def _worker(doc: dict[str, Any]) -> WorkerSettings:
    _only(
        doc,
        "worker",
        {
            "app_id",
            "dedup_horizon_s",
            "data_dir",
            "store",
            "web_port",
            "max_in_flight",
            "type_prefix",
        },
    )
    d = WorkerSettings()
    store = _str(doc.get("store", d.store), "worker.store")
    if store.split("://")[0] not in ("memory", "rocksdb"):
        raise ConfigError("worker.store", f"{store!r}: use memory:// or rocksdb://")
    return WorkerSettings(
        app_id=_str(doc.get("app_id", d.app_id), "worker.app_id"),
        dedup_horizon_s=_int(
            doc.get("dedup_horizon_s", d.dedup_horizon_s),
            "worker.dedup_horizon_s",
            low=1,
            high=365 * 86_400,
        ),
        data_dir=_str(doc.get("data_dir", d.data_dir), "worker.data_dir"),
        store=store,
        web_port=_int(doc.get("web_port", d.web_port), "worker.web_port", low=0, high=65_535),
        max_in_flight=_int(
            doc.get("max_in_flight", d.max_in_flight), "worker.max_in_flight", low=1, high=1_000_000
        ),
        type_prefix=_type_prefix(doc.get("type_prefix", d.type_prefix)),
    )


def _type_prefix(value: Any) -> str:
    prefix = _str(value, "worker.type_prefix")
    if not TYPE_PREFIX.fullmatch(prefix):
        raise ConfigError(
            "worker.type_prefix",
            f"{prefix[:80]!r}: a reverse-DNS name of two or more lower-case labels ending in a "
            "dot, e.g. com.example.webhooks.",
        )
    return prefix


def _source(value: Any, key: str, reader: _SecretReader) -> SourceSettings:
    doc = _mapping(value, key)
    if "name" not in doc:
        raise ConfigError(f"{key}.name", "is required")
    name = _str(doc["name"], f"{key}.name")
    if not _SOURCE_NAME.match(name):
        raise ConfigError(
            f"{key}.name",
            f"{name!r}: use lower-case letters, digits, '.', '_', '-'"
            " (it becomes part of the URL and of record keys)",
        )
    if "provider" not in doc:
        raise ConfigError(f"{key}.provider", "is required")
    secrets = tuple(
        reader.read(item, f"{key}.secrets[{i}]")
        for i, item in enumerate(_list(doc.get("secrets", []), f"{key}.secrets"))
    )
    public_keys = tuple(
        reader.read(item, f"{key}.public_keys[{i}]").reveal()
        for i, item in enumerate(_list(doc.get("public_keys", []), f"{key}.public_keys"))
    )
    tolerance = doc.get("tolerance")
    return SourceSettings(
        name=name,
        provider=_str(doc["provider"], f"{key}.provider"),
        secrets=secrets,
        public_keys=public_keys,
        tolerance=None
        if tolerance is None
        else _int(tolerance, f"{key}.tolerance", low=1, high=30 * 86_400),
        max_body_bytes=_int(
            doc.get("max_body_bytes", 1_048_576),
            f"{key}.max_body_bytes",
            low=1,
            high=64 * 1_048_576,
        ),
        options={k: v for k, v in doc.items() if k not in _SOURCE_KEYS},
    )


class _SecretReader:
    """Resolves ``{env: NAME}``, ``{file: PATH}`` or an inline string into a :class:`Secret`."""

    def __init__(self, env: Mapping[str, str], base_dir: Path) -> None:
        self._env = env
        self._base_dir = base_dir

    def read(self, ref: Any, key: str) -> Secret:
        if isinstance(ref, str):
            value = ref
        elif isinstance(ref, dict) and set(ref) == {"env"}:
            name = _str(ref["env"], f"{key}.env")
            if not self._env.get(name):
                raise ConfigError(key, f"environment variable {name} is not set or empty")
            value = self._env[name]
        elif isinstance(ref, dict) and set(ref) == {"file"}:
            path = self._base_dir / _str(ref["file"], f"{key}.file")
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(key, f"cannot read secret file {path}: {exc.strerror}") from None
        else:
            raise ConfigError(key, "must be a string, {env: NAME} or {file: PATH}")
        if not value.strip():
            raise ConfigError(key, "is empty")
        return Secret(value.strip())


def _only(doc: Mapping[str, Any], key: str, allowed: set[str]) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        where = "" if key == "<root>" else f"{key}."
        raise ConfigError(
            f"{where}{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
        )


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a mapping, not {type(value).__name__}")
    return value


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list, not {type(value).__name__}")
    return value


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "must be a non-empty string")
    return value


def _int(value: Any, key: str, *, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, "must be an integer")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())  # environment overrides arrive as text
    if not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, f"{value} is outside {low}..{high}")
    return value
