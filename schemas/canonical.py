"""The canonical event: a CloudEvents 1.0 event on the Kafka protocol binding, binary mode.

This is the contract downstream teams read. On the wire:

- headers: ``ce_specversion``, ``ce_id``, ``ce_source``, ``ce_type``, ``ce_time`` and, when known,
  ``ce_subject``; ``ce_dataschema`` when the data has a published schema;
  ``content-type: application/json``; extension attributes as ``ce_{name}``.
- ``type``: the installation's reverse-DNS prefix (``worker.type_prefix``, default
  :data:`DEFAULT_TYPE_PREFIX`) + ``job.{status}`` or ``{provider}.{provider event type}``.
- key: the ``partitionkey`` extension (the provider entity, else the event id), so every event of
  one job or entity lands on one partition, in order.
- value: the event data as JSON, never empty: a null value would be a tombstone on a compacted
  topic.

``source`` + ``id`` identify an event: every delivery of one provider event has the same pair,
so consumers that must be exactly-once de-duplicate on it.

Extension attributes the worker adds to every event (:func:`with_origin`):

- ``rawtopic``, ``rawpartition``, ``rawoffset``: the raw record the event was normalized from
  (``hookgate verify-raw TOPIC:PARTITION:OFFSET`` re-verifies it);
- ``replay``: ``"true"`` when the worker had processed that raw record before and emits its
  event again (a replay after an offset reset, or a redelivery after a crash before the commit);
  absent on a first emission;
- ``traceparent`` and, when there is state, ``tracestate``: the CloudEvents distributed-tracing
  extension (W3C Trace Context), so a consumer continues the delivery's trace. The parent id is
  the worker's span when spans are exported, else the raw record's (:func:`with_trace`).
``schemas/json/canonical-event.v1.schema.json`` describes the same event in structured form
(attributes plus ``data``) for validation.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import field, replace
from datetime import UTC, datetime
from typing import Any

from schemas import jsoncodec, tracecontext
from schemas.frozen import frozen
from schemas.tracecontext import TraceContext

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
#: The namespace of every ``type`` unless an installation configures its own
#: (``worker.type_prefix``): the reverse of the project's domain, ``hookgate.dev``, which also
#: names the published schemas (``https://hookgate.dev/schemas/...``).
DEFAULT_TYPE_PREFIX = "dev.hookgate."
#: A configured type prefix: a reverse-DNS name of two or more labels, ending in a dot.
TYPE_PREFIX = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){2,}")
_REQUIRED = ("specversion", "id", "source", "type")
_SPEC_VERSION_HEADER = ("ce_specversion", SPEC_VERSION.encode())
_CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())
_OPTIONAL = ("time", "subject", "dataschema")

#: Extension attribute names (CloudEvents: lower-case a-z0-9; kept within 20 characters).
RAW_TOPIC = "rawtopic"
RAW_PARTITION = "rawpartition"
RAW_OFFSET = "rawoffset"
REPLAY = "replay"
#: The CloudEvents distributed-tracing extension's attributes.
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")


@functools.lru_cache(maxsize=256)
def _header_name(extension: str) -> str:
    """``ce_{extension}``, checked once per name (every event carries the same few)."""
    if not _EXTENSION_NAME.fullmatch(extension):
        raise CanonicalRecordError(f"extension name {extension!r} is not 1-20 of a-z0-9")
    return f"ce_{extension}"


class CanonicalRecordError(Exception):
    """A record on a canonical topic is not a valid canonical event."""


@frozen
class CanonicalEvent:
    id: str
    #: URI-reference of the configured source: ``/hookgate/{source name}``.
    source: str
    type: str
    #: Data: any JSON value except null (see module doc).
    data: Any
    #: The provider's event time, RFC 3339 UTC.
    time: str | None = None
    subject: str | None = None
    #: The ``$id`` of the published JSON Schema ``data`` follows, when there is one
    #: (:mod:`schemas.published`).
    dataschema: str | None = None
    #: Becomes the record key; the provider entity when known, else the event id.
    partitionkey: str = ""
    extensions: Mapping[str, str] = field(default_factory=dict)

    def key(self) -> bytes:
        return (self.partitionkey or self.id).encode()

    def value(self) -> bytes:
        if self.data is None:
            raise CanonicalRecordError("canonical data must not be null")
        return jsoncodec.dumps(self.data)

    def headers(self) -> list[tuple[str, bytes]]:
        return _headers(self, self.type, self.extensions)

    def to_structured(self) -> dict[str, Any]:
        """The event as a CloudEvents JSON object (what the JSON Schema file describes)."""
        doc: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "datacontenttype": CONTENT_TYPE,
            "partitionkey": self.partitionkey or self.id,
            **self.extensions,
            "data": self.data,
        }
        if self.time is not None:
            doc["time"] = self.time
        if self.subject is not None:
            doc["subject"] = self.subject
        if self.dataschema is not None:
            doc["dataschema"] = self.dataschema
        return doc


@frozen
class RawOrigin:
    """Coordinates of the raw record an event was normalized from."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def with_origin(event: CanonicalEvent, origin: RawOrigin, *, replay: bool) -> CanonicalEvent:
    """``event`` with the raw record's coordinates and, for a re-emission, the replay marker."""
    extensions = dict(event.extensions)
    _set_origin(extensions, origin, replay)
    return replace(event, extensions=extensions)


def with_trace(event: CanonicalEvent, trace: TraceContext | None) -> CanonicalEvent:
    """``event`` carrying ``trace`` as its distributed-tracing extension (none: without it)."""
    extensions = dict(event.extensions)
    _set_trace(extensions, trace)
    return replace(event, extensions=extensions)


def with_provenance(
    event: CanonicalEvent, origin: RawOrigin, *, replay: bool, trace: TraceContext | None
) -> CanonicalEvent:
    """:func:`with_origin` and :func:`with_trace` in one copy (the worker's, per event)."""
    extensions = dict(event.extensions)
    _set_origin(extensions, origin, replay)
    _set_trace(extensions, trace)
    return replace(event, extensions=extensions)


def encode(
    event: CanonicalEvent,
    *,
    type_prefix: str,
    origin: RawOrigin,
    replay: bool,
    trace: TraceContext | None,
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """The key, value and headers of :func:`with_provenance` of ``event`` with ``type_prefix``
    before its type, written without building that copy: the worker's, per event (copying a
    frozen event costs more than encoding it)."""
    extensions = dict(event.extensions)
    _set_origin(extensions, origin, replay)
    _set_trace(extensions, trace)
    return event.key(), event.value(), _headers(event, type_prefix + event.type, extensions)


def _headers(
    event: CanonicalEvent, type: str, extensions: Mapping[str, str]
) -> list[tuple[str, bytes]]:
    out = [
        _SPEC_VERSION_HEADER,
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", type.encode()),
        _CONTENT_TYPE_HEADER,
    ]
    if event.time is not None:
        out.append(("ce_time", event.time.encode()))
    if event.subject is not None:
        out.append(("ce_subject", event.subject.encode()))
    if event.dataschema is not None:
        out.append(("ce_dataschema", event.dataschema.encode()))
    for name, value in extensions.items():
        out.append((_header_name(name), value.encode()))
    return out


def _set_origin(extensions: dict[str, str], origin: RawOrigin, replay: bool) -> None:
    extensions[RAW_TOPIC] = origin.topic
    extensions[RAW_PARTITION] = str(origin.partition)
    extensions[RAW_OFFSET] = str(origin.offset)
    if replay:
        extensions[REPLAY] = "true"
    else:
        extensions.pop(REPLAY, None)


def _set_trace(extensions: dict[str, str], trace: TraceContext | None) -> None:
    extensions.pop(TRACEPARENT, None)
    extensions.pop(TRACESTATE, None)
    if trace is not None:
        extensions[TRACEPARENT] = trace.traceparent
        if trace.state:
            extensions[TRACESTATE] = trace.state


def trace_of(event: CanonicalEvent) -> TraceContext | None:
    """The event's trace context, if it carries a valid one."""
    return tracecontext.parse(event.extensions.get(TRACEPARENT), event.extensions.get(TRACESTATE))


def origin_of(event: CanonicalEvent) -> RawOrigin | None:
    """The raw record's coordinates, if the event carries them."""
    ext = event.extensions
    topic, partition, offset = ext.get(RAW_TOPIC), ext.get(RAW_PARTITION), ext.get(RAW_OFFSET)
    if not topic or partition is None or offset is None:
        return None
    if not (partition.isdigit() and offset.isdigit()):
        return None
    return RawOrigin(topic, int(partition), int(offset))


def is_replay(event: CanonicalEvent) -> bool:
    return event.extensions.get(REPLAY) == "true"


def source_uri(source_name: str) -> str:
    return f"/hookgate/{source_name}"


def rfc3339(epoch_seconds: float) -> str:
    """Format a time as RFC 3339 UTC with millisecond precision (``...T12:00:00.000Z``)."""
    if epoch_seconds >= 0:
        # Every event has one or two times, mostly within the same few seconds: the date and
        # time of day are formatted once per second. The microseconds are rounded as
        # datetime.fromtimestamp rounds them (half to even, carrying into the next second).
        second = math.floor(epoch_seconds)
        micro = round((epoch_seconds - second) * 1e6)
        if micro >= 1_000_000:
            second, micro = second + 1, micro - 1_000_000
        return f"{_second_rfc3339(second)}.{micro // 1000:03d}Z"
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return f"{_second_rfc3339(int(moment.timestamp() // 1))}.{moment.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=64)
def _second_rfc3339(second: int) -> str:
    moment = datetime.fromtimestamp(second, tz=UTC)
    # %Y does not zero-pad years before 1000 on every platform; RFC 3339 needs four digits.
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S")


def decode(
    key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]] | None
) -> CanonicalEvent:
    """Read a canonical record back (for downstream consumers and tests)."""
    if value is None:
        raise CanonicalRecordError("null value")
    attrs: dict[str, str] = {}
    for name, raw in headers or ():
        name = name.lower()
        if name.startswith("ce_") or name == "content-type":
            try:
                attrs[name.removeprefix("ce_")] = raw.decode()
            except UnicodeDecodeError:
                raise CanonicalRecordError(f"header {name!r} is not UTF-8") from None
    for required in _REQUIRED:
        if not attrs.get(required):
            raise CanonicalRecordError(f"missing ce_{required}")
    if attrs["specversion"] != SPEC_VERSION:
        raise CanonicalRecordError(f"unsupported specversion {attrs['specversion']!r}")
    try:
        data = jsoncodec.loads(value)
    except ValueError as exc:
        raise CanonicalRecordError(f"data is not JSON: {exc}") from None
    known = {*_REQUIRED, *_OPTIONAL, "content-type"}
    return CanonicalEvent(
        id=attrs["id"],
        source=attrs["source"],
        type=attrs["type"],
        data=data,
        time=attrs.get("time"),
        subject=attrs.get("subject"),
        dataschema=attrs.get("dataschema"),
        partitionkey=key.decode() if key is not None else "",
        extensions={k: v for k, v in attrs.items() if k not in known},
    )
