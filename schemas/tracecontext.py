"""W3C Trace Context (https://www.w3.org/TR/trace-context/): ``traceparent`` and ``tracestate``.

The ingress takes them from a delivery's request headers, the raw record carries them, the worker
puts them on the canonical event (the CloudEvents distributed-tracing extension). Parsing is
strict and never raises: a header that does not follow the specification is ignored, as the
specification asks, and the delivery starts a new trace instead. No OpenTelemetry here: the
context travels whether or not spans are exported (:mod:`schemas.telemetry`).
"""

from __future__ import annotations

import random
import re

from schemas.frozen import frozen

#: The version this implementation writes; a higher one is read by its first four fields.
VERSION = "00"
SAMPLED = 0x01
#: At most this many list members in ``tracestate`` (the specification's limit).
MAX_TRACESTATE_MEMBERS = 32

#: version, trace id, parent id and flags: the fields every version starts with (lower-case hex).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_TRACEPARENT_LENGTH = 55  # 2 + 1 + 32 + 1 + 16 + 1 + 2
# key: simple-key or tenant-id@system-id; value: up to 256 printable ASCII characters except
# ',' and '=', not ending in a space.
_TRACESTATE_KEY = re.compile(
    r"[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}"
)
_TRACESTATE_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_OWS = " \t"


@frozen
class TraceContext:
    """One hop's trace context: the trace, the span that is the parent of the next, and state."""

    #: 32 lower-case hex digits, not all zero.
    trace_id: str
    #: The parent span: 16 lower-case hex digits, not all zero.
    parent_id: str
    #: The trace flags byte; bit 0 is ``sampled``.
    flags: int = 0
    #: The validated ``tracestate`` list (members joined by ``,``), or empty.
    state: str = ""

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` value, always written in version ``00``."""
        return f"{VERSION}-{self.trace_id}-{self.parent_id}-{self.flags:02x}"

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)


def parse(traceparent: str | None, tracestate: str | None = None) -> TraceContext | None:
    """The context of a ``traceparent`` (and ``tracestate``) value, or ``None`` if it is invalid.

    An invalid ``tracestate`` is dropped on its own; an invalid ``traceparent`` drops both, since
    ``tracestate`` means nothing without the trace it belongs to.
    """
    if traceparent is None:
        return None
    value = traceparent.strip(_OWS)
    fields = _TRACEPARENT.match(value)
    if fields is None:
        return None
    version, trace_id, parent_id, flags = fields.groups()
    if version == "ff":
        return None
    if len(value) > _TRACEPARENT_LENGTH and (
        # Version 00 has exactly these fields; a later version may append more, after a dash.
        version == VERSION or value[_TRACEPARENT_LENGTH] != "-"
    ):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceContext(trace_id, parent_id, int(flags, 16), parse_tracestate(tracestate) or "")


def parse_tracestate(value: str | None) -> str | None:
    """``tracestate`` with its list members validated and joined by ``,``; ``None`` if invalid.

    Empty members are allowed and dropped; more than 32 members, a malformed member or a key that
    appears twice make the whole header invalid.
    """
    if value is None:
        return None
    members: list[str] = []
    keys: set[str] = set()
    for item in value.split(","):
        member = item.strip(_OWS)
        if not member:
            continue
        key, equals, member_value = member.partition("=")
        if not equals or key in keys:
            return None
        if not (_TRACESTATE_KEY.fullmatch(key) and _TRACESTATE_VALUE.fullmatch(member_value)):
            return None
        keys.add(key)
        members.append(member)
    if not members or len(members) > MAX_TRACESTATE_MEMBERS:
        return None
    return ",".join(members)


def new(*, sampled: bool = False) -> TraceContext:
    """A new trace (random trace and parent ids), for a delivery that came without one."""
    while True:
        # Unpredictability is not needed (OpenTelemetry's own id generator uses ``random``
        # too), and os.urandom is a system call per delivery. ``random`` is reseeded in a
        # forked child, so worker processes do not repeat each other's ids.
        ids = random.randbytes(24).hex()
        trace_id, parent_id = ids[:32], ids[32:]
        if trace_id != "0" * 32 and parent_id != "0" * 16:
            return TraceContext(trace_id, parent_id, SAMPLED if sampled else 0)
