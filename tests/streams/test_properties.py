"""Property tests of the worker: arbitrary records give an event or a dead letter, nothing else.

- every normalizer (``streams/normalizers``) and the raw record's decoder, given arbitrary
  records: a canonical event or a :class:`streams.errors.StreamError` (a dead letter), never
  another exception (which would stop the worker).

Bounded and reproducible: a fixed number of examples, derandomized, no deadline (a loaded
machine must not fail them). ``HYPOTHESIS_PROFILE=deep`` runs ten times as many, still seeded
(tests/fuzz.py has the strategies and the profile). The ingress's side (verifiers, parsers) is
tests/ingress/test_properties.py.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import raw
from schemas.canonical import CanonicalEvent
from streams.errors import StreamError
from streams.normalizers import NORMALIZERS, normalize
from tests import REPO
from tests.fuzz import PROFILE, bodies, header_names, header_values

# --- every normalizer -----------------------------------------------------------------------

#: Field names and values the normalizers look for, so documents reach past the first check.
WORDS = [
    "id",
    "type",
    "data",
    "status",
    "payload",
    "model",
    "error",
    "created_at",
    "output",
    "request_id",
    "state",
    "event",
    "object",
    "event_callback",
    "succeeded",
    "failed",
    "completed",
    "canceled",
    "processing",
    "queued",
    "starting",
    "started",
    "image",
    "video",
    "url",
    "urls",
    "width",
    "height",
    "content_type",
    "file_size",
    "metrics",
    "timings",
    "version",
    "logs",
    "message",
    "msg",
    "detail",
    "code",
    "loc",
    "action",
    "sender",
    "repository",
    "team_id",
    "event_time",
    "event_id",
    "MessageSid",
    "MessageStatus",
    "CallSid",
    "CallStatus",
    "RecordingSid",
    "RecordingStatus",
    "SmsSid",
    "SmsStatus",
    "Timestamp",
    "gateway_request_id",
    "failure_reason",
    "failure_code",
    "generation_type",
    "assets",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),  # what orjson writes
    st.floats(allow_nan=False),
    st.sampled_from(WORDS),
    st.text(max_size=30),
)


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), inner, max_size=6),
    )


documents = st.recursive(scalars, containers, max_leaves=25)

forms = st.dictionaries(
    st.sampled_from(WORDS), st.one_of(st.sampled_from(WORDS), st.text(max_size=20))
)
record_bodies = st.one_of(
    bodies,
    st.integers().map(lambda i: f'{{"id": "x", "type": "a.b", "data": {i}}}'.encode()),
    documents.map(orjson.dumps),
    forms.map(lambda f: urlencode(f).encode()),
)


#: Epoch milliseconds as a raw record's header holds them (up to 18 digits), the ends of what a
#: date-time can hold among them.
times = st.one_of(
    st.integers(0, 10**18 - 1), st.sampled_from([0, 253_402_300_799_999, 253_402_300_800_000])
)


SAMPLES = REPO / "hookgate" / "samples"


def sample_body(provider: str) -> bytes:
    """The provider's sample delivery (hookgate/samples): a body its normalizer accepts."""
    [path] = [p for p in SAMPLES.iterdir() if p.stem == provider and p.suffix != ".yaml"]
    return path.read_bytes()


@st.composite
def deliveries(draw: st.DrawFn, provider: str) -> raw.RawDelivery:
    sample = sample_body(provider)
    return raw.RawDelivery(
        source=draw(st.sampled_from([provider, "src"])),
        provider=provider,
        scheme=draw(st.text(max_size=10)),
        event_id=draw(st.text(min_size=1, max_size=40)),
        received_at_ms=draw(times),
        content_type=draw(
            st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""])
        ),
        body=draw(st.one_of(record_bodies, st.just(sample), st.just(sample[: len(sample) // 2]))),
        sender_headers=tuple(
            draw(st.dictionaries(header_names, header_values, max_size=4)).items()
        ),
        signed_at_ms=draw(st.none() | times),
        key_index=draw(st.none() | st.integers(0, 10)),
    )


@pytest.mark.parametrize("provider", sorted(NORMALIZERS))
def test_a_normalizer_answers_any_record_with_an_event_or_a_dead_letter_reason(
    provider: str,
) -> None:
    @PROFILE
    @given(delivery=deliveries(provider))
    def check(delivery: raw.RawDelivery) -> None:
        # What the worker hands a normalizer: a record its decoder accepted.
        try:
            decoded = raw.decode(delivery.key, delivery.body, delivery.headers())
        except raw.RawRecordError:
            return  # dead-lettered as undecodable before any normalizer
        try:
            event = normalize(decoded, "dev.hookgate.")
        except StreamError:
            return
        assert isinstance(event, CanonicalEvent)

    check()


RAW_HEADERS = [
    *(v for k, v in vars(raw.Header).items() if k.isupper()),
    raw.SENDER_PREFIX + "webhook-timestamp",
]


@PROFILE
@given(
    key=st.none() | st.binary(max_size=40),
    value=st.none() | st.binary(max_size=200),
    found=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(RAW_HEADERS), st.text(max_size=20)),
            st.one_of(
                st.binary(max_size=30), st.integers(0, 10**15).map(lambda i: str(i).encode())
            ),
        ),
        max_size=10,
    ),
)
def test_the_raw_record_decoder_answers_any_record_with_a_delivery_or_its_own_error(
    key: bytes | None, value: bytes | None, found: list[tuple[str, bytes]]
) -> None:
    with contextlib.suppress(raw.RawRecordError):
        raw.decode(key, value, found)
