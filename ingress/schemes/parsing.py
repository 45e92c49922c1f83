"""What the signature schemes read the same way: timestamps, event ids, base64, JSON bodies.

One definition each, so every scheme refuses the same malformed input for the same reason.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from ingress.schemes.base import body_digest_id
from schemas import jsoncodec

#: Whole epoch seconds in plain ASCII: no sign, no leading zero, no spaces or non-ASCII digits
#: (``int()`` alone takes ``'+5'``, ``' 5'``, ``'1_0'``, ``'١٢٣'``). So ``str(int(t)) == t``, and
#: the content rebuilt from the int is exactly what the sender signed.
TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,11}")

#: An event id must be usable as part of a Kafka key and header: printable ASCII, no spaces.
#: (Servers decode header bytes differently, ASGI as latin-1, so a non-ASCII id could not be
#: turned back into the bytes the sender signed.)
EVENT_ID = re.compile(r"[\x21-\x7e]{1,256}")

#: Bodies up to this size are parsed for their event id; a larger one is identified by its digest.
#: The parse runs on the event loop, so it is bounded; real events are far smaller.
MAX_ID_PARSE_BYTES = 1_048_576


def strict_b64decode(text: str, size: int) -> bytes | None:
    """The ``size`` bytes that ``text`` spells in canonical standard base64, else None.

    ``b64decode`` ignores the unused low bits of the last character (``'...1OE='`` and
    ``'...1OF='`` decode alike); insisting on the canonical spelling makes every edit of a
    signature a mismatch.
    """
    if not text.isascii():
        return None
    data = text.encode()
    # binascii directly: base64.b64decode(validate=True) adds a regex match and two wrappers,
    # and the canonical check below refuses whatever a lenient decode would have let through.
    try:
        raw = binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        return None
    if len(raw) != size or binascii.b2a_base64(raw, newline=False) != data:
        return None
    return raw


def json_document(body: bytes) -> Any:
    """A verified body as JSON, or None (not JSON, too large, too deep).

    Only for bodies whose signature already verified: parsing is the normalizer's job, and an
    unverified body must cost us nothing beyond the signature check.
    """
    if len(body) > MAX_ID_PARSE_BYTES:
        return None
    try:
        return jsoncodec.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, deep nesting
        return None


def json_object(body: bytes) -> dict[str, Any] | None:
    """A verified body as a JSON object, or None (see :func:`json_document`)."""
    if len(body) > MAX_ID_PARSE_BYTES:
        return None
    try:
        return jsoncodec.loads_object(body)
    except (ValueError, RecursionError):
        return None


def json_event_id(body: bytes, field: str) -> str:
    """The top-level string ``field`` of a verified JSON body, else the body's digest."""
    document = json_object(body)
    value = None if document is None else document.get(field)
    if isinstance(value, str) and EVENT_ID.fullmatch(value):
        return value
    return body_digest_id(body)
