"""The raw-delivery record: what the ingress writes to the raw topic and the worker reads.

One Kafka record per accepted delivery:

- key: ``{source}:{event id}`` (UTF-8), or ``{source}:{dedup id}`` when the signature does not
  cover the event id (see formats below). The key is the worker's de-duplication key: every
  retry of one event has the same key, so it lands on the same partition as the first delivery,
  which is where the worker's de-duplication state is.
- value: the request body exactly as received, byte for byte (never re-serialized), so the
  signature can be checked again later from Kafka alone.
- headers: see :class:`Header`. What the ingress verified is carried explicitly: the scheme, the
  index of the secret or key that matched and, when the scheme signs one, the signed time; readers
  use those instead of re-parsing sender headers. Sender headers that the verified signature
  covers (only those: not a second header family the sender also sent) are kept under
  ``sender-{name}``. A record written back by ``hookgate dlq redrive`` also carries
  ``hookgate-redrive-of`` (:data:`schemas.deadletter.REDRIVE_OF`); readers ignore it.
- trace context: ``traceparent`` and, when there is state, ``tracestate``, under their W3C names
  (as OpenTelemetry's Kafka instrumentations carry them), always written in version ``00``. It
  is the ingress's hop, the parent of the worker's: the ingress span's when spans are exported,
  else the context the delivery came with, else a new trace (:mod:`schemas.tracecontext`).
  Optional; an invalid value is ignored, never an undecodable record.

The record format is versioned by the ``hookgate-format`` header; readers reject versions they do
not know instead of guessing. Format 1: keyed by the event id, which the signature covers.
Format 2: keyed by ``hookgate-dedup-id``, a digest of what the signature covers, for senders whose
event id is a header they set beside the signature (GitHub, PagerDuty, Shopify, Twilio, a
generic HMAC's ``event_id_header``): a replay under a fresh id must still be a duplicate. The
ingress writes format 2 only for those, so a worker that reads only format 1 keeps reading every
other source's records (and dead-letters the rest, to be redriven once it is upgraded).
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas import tracecontext
from schemas.frozen import frozen
from schemas.tracecontext import TraceContext

#: Keyed by ``{source}:{event id}``.
FORMAT_VERSION = "1"
#: Keyed by ``{source}:{dedup id}``, with the ``hookgate-dedup-id`` header.
DEDUP_FORMAT_VERSION = "2"

#: The latest receive time a record can carry (9999-12-31T23:59:59.999Z, in epoch ms): the last
#: one a date-time (RFC 3339, Python's ``datetime``) can hold.
LATEST_MS = 253_402_300_799_999

#: Prefix of the sender's own headers kept on the record (lower-case names).
SENDER_PREFIX = "sender-"


class Header:
    """Header names of the raw record (values are UTF-8 text)."""

    FORMAT = "hookgate-format"
    SOURCE = "hookgate-source"
    PROVIDER = "hookgate-provider"
    SCHEME = "hookgate-scheme"
    EVENT_ID = "hookgate-event-id"
    #: Format 2 only: what the record is keyed and de-duplicated by, a digest of what the
    #: signature covers, when it does not cover the event id.
    DEDUP_ID = "hookgate-dedup-id"
    #: When the ingress received the delivery: integer milliseconds since the epoch.
    RECEIVED_AT = "hookgate-received-at"
    #: The time the sender signed into the delivery, as the ingress verified it: integer
    #: milliseconds since the epoch. Absent when the scheme signs no time.
    SIGNED_AT = "hookgate-signed-at"
    #: Which configured secret or key verified the delivery (0-based; public keys follow the
    #: secrets). Absent for records written before it was recorded.
    KEY_INDEX = "hookgate-key-index"
    #: W3C trace context of the delivery (the standard names, not ``hookgate-``: tools that
    #: propagate trace context through Kafka read these). Absent on older records.
    TRACEPARENT = "traceparent"
    TRACESTATE = "tracestate"
    CONTENT_TYPE = "content-type"


_OPTIONAL_CONTEXT = frozenset((Header.TRACEPARENT, Header.TRACESTATE))
_SENDER_PREFIX_LENGTH = len(SENDER_PREFIX)
#: The headers a record must carry, not empty, per format: what keys it among them.
_REQUIRED: dict[str | None, tuple[str, ...]] = {
    FORMAT_VERSION: (Header.SOURCE, Header.PROVIDER, Header.EVENT_ID, Header.RECEIVED_AT),
    DEDUP_FORMAT_VERSION: (
        Header.SOURCE,
        Header.PROVIDER,
        Header.EVENT_ID,
        Header.RECEIVED_AT,
        Header.DEDUP_ID,
    ),
}


class RawRecordError(Exception):
    """A raw record cannot be decoded (missing header, unknown format, bad key)."""


@frozen
class RawDelivery:
    source: str
    provider: str
    scheme: str
    event_id: str
    received_at_ms: int
    content_type: str
    body: bytes
    #: (lower-case name, value) of the sender's headers the signature covers.
    sender_headers: tuple[tuple[str, str], ...] = ()
    #: The verified signed time (epoch ms), when the scheme signs one.
    signed_at_ms: int | None = None
    #: The index of the secret or key that verified the delivery.
    key_index: int | None = None
    #: What the record is keyed (de-duplicated) by when the signature does not cover
    #: ``event_id``; None when it does (one equal to ``event_id`` is stored as None).
    dedup_id: str | None = None
    #: The trace the delivery belongs to; its parent id is the ingress's hop.
    trace: TraceContext | None = None

    def __post_init__(self) -> None:
        if self.dedup_id == self.event_id:
            object.__setattr__(self, "dedup_id", None)

    @property
    def key(self) -> bytes:
        return record_key(self.source, self.event_id if self.dedup_id is None else self.dedup_id)

    @property
    def format(self) -> str:
        return FORMAT_VERSION if self.dedup_id is None else DEDUP_FORMAT_VERSION

    def headers(self) -> list[tuple[str, bytes]]:
        return SourceRecords(self.source, self.provider, self.scheme).headers(
            self.event_id,
            self.received_at_ms,
            self.content_type,
            self.sender_headers,
            signed_at_ms=self.signed_at_ms,
            key_index=self.key_index,
            dedup_id=self.dedup_id,
            trace=self.trace,
        )

    def sender_header(self, name: str) -> str | None:
        for key, value in self.sender_headers:
            if key == name:
                return value
        return None


class SourceRecords:
    """The record key and headers of one source's deliveries, with the headers that are the same
    for every delivery of the source (format, source, provider, scheme) encoded once: the ingress
    keeps one per configured source instead of building a :class:`RawDelivery` and encoding
    every header per delivery (~8 % of a delivery's samples in a profile under load). The one
    definition of the headers' order and encoding: :meth:`RawDelivery.headers` uses it too."""

    __slots__ = ("_by_dedup_id", "_by_event_id", "_key_prefix", "source")

    def __init__(self, source: str, provider: str, scheme: str) -> None:
        self.source = source
        common = (
            (Header.SOURCE, source.encode()),
            (Header.PROVIDER, provider.encode()),
            (Header.SCHEME, scheme.encode()),
        )
        self._by_event_id = ((Header.FORMAT, FORMAT_VERSION.encode()), *common)
        self._by_dedup_id = ((Header.FORMAT, DEDUP_FORMAT_VERSION.encode()), *common)
        self._key_prefix = source.encode() + b":"

    def key(self, event_id: str, dedup_id: str | None) -> bytes:
        """:func:`record_key` of a delivery (a ``dedup_id`` equal to ``event_id`` is none)."""
        return self._key_prefix + (event_id if dedup_id is None else dedup_id).encode()

    def headers(
        self,
        event_id: str,
        received_at_ms: int,
        content_type: str,
        sender_headers: Iterable[tuple[str, str]],
        *,
        signed_at_ms: int | None,
        key_index: int | None,
        dedup_id: str | None,
        trace: TraceContext | None,
    ) -> list[tuple[str, bytes]]:
        """The record's headers, in :class:`RawDelivery`'s order (see the module doc)."""
        if dedup_id == event_id:
            dedup_id = None
        out = list(self._by_event_id if dedup_id is None else self._by_dedup_id)
        out.append((Header.EVENT_ID, event_id.encode()))
        out.append((Header.RECEIVED_AT, b"%d" % received_at_ms))
        out.append((Header.CONTENT_TYPE, content_type.encode()))
        if dedup_id is not None:
            out.append((Header.DEDUP_ID, dedup_id.encode()))
        if signed_at_ms is not None:
            out.append((Header.SIGNED_AT, b"%d" % signed_at_ms))
        if key_index is not None:
            out.append((Header.KEY_INDEX, b"%d" % key_index))
        if trace is not None:
            out.append((Header.TRACEPARENT, trace.traceparent.encode()))
            if trace.state:
                out.append((Header.TRACESTATE, trace.state.encode()))
        for name, value in sender_headers:
            out.append((SENDER_PREFIX + name, value.encode()))
        return out


def record_key(source: str, event_id: str) -> bytes:
    """``{source}:{id}``: the event id, or in format 2 the dedup id."""
    return f"{source}:{event_id}".encode()


def decode(
    key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]] | None
) -> RawDelivery:
    """Rebuild a :class:`RawDelivery` from a Kafka record; raises :class:`RawRecordError`."""
    if value is None:
        raise RawRecordError("null value: a raw record always carries the body")
    found: dict[str, str] = {}
    sender: list[tuple[str, str]] = []
    for name, raw in headers or ():
        try:
            text = raw.decode() if raw is not None else ""
        except UnicodeDecodeError:
            if name in _OPTIONAL_CONTEXT:
                continue  # trace context is a hint: a bad one is ignored, as an invalid value is
            raise RawRecordError(f"header {name!r} is not UTF-8") from None
        if name.startswith(SENDER_PREFIX):
            sender.append((name[_SENDER_PREFIX_LENGTH:], text))
        else:
            found[name] = text
    version = found.get(Header.FORMAT)
    required = _REQUIRED.get(version)
    if required is None:
        raise RawRecordError(
            f"unknown raw record format {version!r}"
            f" (expected {FORMAT_VERSION!r} or {DEDUP_FORMAT_VERSION!r})"
        )
    if version == FORMAT_VERSION and Header.DEDUP_ID in found:
        raise RawRecordError(f"{Header.DEDUP_ID} on a format {version} record (keyed by event id)")
    for name in required:
        if not found.get(name):
            raise RawRecordError(f"missing header {name}")
    received_at_ms = _integer(found, Header.RECEIVED_AT)
    if received_at_ms is None:
        raise RawRecordError(f"missing header {Header.RECEIVED_AT}")
    if received_at_ms > LATEST_MS:
        # Every canonical event's time falls back to it: it must be a time one can write down.
        raise RawRecordError(f"{Header.RECEIVED_AT} is after the year 9999")
    delivery = RawDelivery(
        source=found[Header.SOURCE],
        provider=found[Header.PROVIDER],
        scheme=found.get(Header.SCHEME, ""),
        event_id=found[Header.EVENT_ID],
        received_at_ms=received_at_ms,
        content_type=found.get(Header.CONTENT_TYPE, "application/octet-stream"),
        body=value,
        sender_headers=tuple(sender),
        signed_at_ms=_integer(found, Header.SIGNED_AT),
        key_index=_integer(found, Header.KEY_INDEX),
        dedup_id=found.get(Header.DEDUP_ID),
        trace=tracecontext.parse(found.get(Header.TRACEPARENT), found.get(Header.TRACESTATE)),
    )
    if delivery.format != version:
        raise RawRecordError(f"a format {version} record whose {Header.DEDUP_ID} is its event id")
    if key is not None and key != delivery.key:
        raise RawRecordError("record key does not match the source and event (or dedup) id headers")
    return delivery


def _integer(found: dict[str, str], name: str) -> int | None:
    text = found.get(name)
    if text is None:
        return None
    # int() alone also takes '+5', ' 5', '1_0' and non-ASCII digits.
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise RawRecordError(f"{name} is not a non-negative integer")
    return int(text)
