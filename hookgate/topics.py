"""``hookgate topics ensure``: create the raw, canonical and dead-letter topics, idempotently.

Auto topic creation stays off on the broker: a topic created by whichever client touches it first
gets broker defaults (wrong partitions, wrong retention), so every topic is created here on
purpose. Existing topics are left as they are; a partition count that differs from the config is
reported, because the worker's de-duplication table requires the raw topic's partitioning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# admin/__init__ uses these but does not re-export them.
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.cimpl import NewTopic

from schemas import kafka_clients
from schemas.config import Settings, TopicSpec


class TopicsError(Exception):
    """A topic could not be created, or the cluster did not answer."""


@dataclass(frozen=True)
class TopicResult:
    name: str
    action: str  # "created" | "exists" | "mismatch"
    detail: str = ""


def ensure(
    settings: Settings, progress: Callable[[str], None] = print, timeout: float = 30.0
) -> list[TopicResult]:
    admin = AdminClient(kafka_clients.librdkafka(settings.kafka))
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise TopicsError(f"Kafka at {settings.kafka.bootstrap} did not answer: {exc}") from None
    results: list[TopicResult] = []
    missing: list[TopicSpec] = []
    record_bytes = settings.max_record_bytes
    for spec in settings.topics.all():
        if spec.name in existing:
            have = len(existing[spec.name].partitions)
            raised = _raise_record_size(admin, spec, record_bytes, timeout)
            if raised:
                results.append(TopicResult(spec.name, "updated", raised))
            if have != spec.partitions:
                results.append(
                    TopicResult(
                        spec.name,
                        "mismatch",
                        f"has {have} partitions, config says {spec.partitions}",
                    )
                )
            elif not raised:
                results.append(TopicResult(spec.name, "exists"))
        else:
            missing.append(spec)
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(
                    s.name,
                    num_partitions=s.partitions,
                    replication_factor=s.replication_factor,
                    config=_with_record_size(s, settings.max_record_bytes),
                )
                for s in missing
            ],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        for spec in missing:
            try:
                futures[spec.name].result()
                results.append(
                    TopicResult(
                        spec.name,
                        "created",
                        f"{spec.partitions} partitions, replication {spec.replication_factor}",
                    )
                )
            except KafkaException as exc:
                error = exc.args[0]
                # Another process created it between our listing and our request: fine.
                if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    results.append(TopicResult(spec.name, "exists"))
                else:
                    raise TopicsError(f"cannot create {spec.name}: {error.str()}") from None
    for result in results:
        progress(
            f"  {result.name}: {result.action}" + (f" ({result.detail})" if result.detail else "")
        )
    return results


_RECORD_SIZE = "max.message.bytes"


def _with_record_size(spec: TopicSpec, record_bytes: int) -> dict[str, str]:
    """The topic's configs, with room for the largest record a source can cause, unless the
    config sets ``max.message.bytes`` itself."""
    return {_RECORD_SIZE: str(record_bytes), **spec.config}


def _raise_record_size(
    admin: AdminClient, spec: TopicSpec, record_bytes: int, timeout: float
) -> str:
    """Raise an existing topic's ``max.message.bytes`` to what the sources need (never lower
    it); returns what was done, or "" when nothing was needed."""
    wanted = int(spec.config.get(_RECORD_SIZE, record_bytes))
    resource = ConfigResource(ConfigResource.Type.TOPIC, spec.name)
    try:
        described = admin.describe_configs([resource], request_timeout=timeout)[resource].result()
        have = int(described[_RECORD_SIZE].value)
        if have >= wanted:
            return ""
        change = ConfigResource(
            ConfigResource.Type.TOPIC,
            spec.name,
            incremental_configs=[
                ConfigEntry(_RECORD_SIZE, str(wanted), incremental_operation=AlterConfigOpType.SET)
            ],
        )
        admin.incremental_alter_configs([change], request_timeout=timeout)[change].result()
    except KafkaException as exc:
        raise TopicsError(
            f"cannot set {_RECORD_SIZE} of {spec.name}: {exc.args[0].str()}"
        ) from None
    return f"{_RECORD_SIZE} {have} -> {wanted}, for the largest body a source accepts"
