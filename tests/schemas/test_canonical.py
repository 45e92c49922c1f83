"""The canonical event: CloudEvents 1.0 binary mode on Kafka, and JSON that keeps integers exact.

The ``cloudevents`` PyPI package (2.x, ``cloudevents.core.bindings.kafka``) is the independent
reader: what it reads from our record is what a downstream team using the SDK sees.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from hypothesis import given
from hypothesis import strategies as st

from schemas import canonical, jsoncodec, published, tracecontext
from schemas.canonical import CanonicalEvent, CanonicalRecordError, rfc3339, source_uri

SCHEMA = published.load(published.CANONICAL_EVENT)
RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

EVENT = CanonicalEvent(
    id="msg_p5jXN8AQM9LWM0D4loKWxJek",
    source="/hookgate/demo",
    type="dev.hookgate.standard-webhooks.invoice.paid",
    data={"id": "inv_7Hq2Xk9Lm", "amount": 2400, "note": "café ☕"},
    time="2026-11-27T10:00:00.000Z",
    subject="inv_7Hq2Xk9Lm",
    partitionkey="inv_7Hq2Xk9Lm",
)


def read_with_sdk(event: CanonicalEvent) -> Any:
    message = KafkaMessage(headers=dict(event.headers()), key=event.key(), value=event.value())
    return from_binary(message, JSONFormat())


def validate(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


# --- key, value, headers -----------------------------------------------------------------------


def test_the_key_is_the_partition_key() -> None:
    assert EVENT.key() == b"inv_7Hq2Xk9Lm"


def test_without_a_partition_key_the_key_is_the_event_id() -> None:
    assert replace(EVENT, partitionkey="").key() == b"msg_p5jXN8AQM9LWM0D4loKWxJek"


def test_the_value_is_the_data_as_compact_utf8_json() -> None:
    value = EVENT.value()
    assert value == b'{"id":"inv_7Hq2Xk9Lm","amount":2400,"note":"caf\xc3\xa9 \xe2\x98\x95"}'


def test_the_headers_are_the_binary_mode_attributes() -> None:
    assert EVENT.headers() == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("ce_source", b"/hookgate/demo"),
        ("ce_type", b"dev.hookgate.standard-webhooks.invoice.paid"),
        ("content-type", b"application/json"),
        ("ce_time", b"2026-11-27T10:00:00.000Z"),
        ("ce_subject", b"inv_7Hq2Xk9Lm"),
    ]


def test_absent_time_and_subject_send_no_header() -> None:
    names = [name for name, _ in replace(EVENT, time=None, subject=None).headers()]
    assert "ce_time" not in names
    assert "ce_subject" not in names


def test_extensions_become_ce_headers() -> None:
    headers = dict(replace(EVENT, extensions={"traceparent": "00-ab-cd-01"}).headers())
    assert headers["ce_traceparent"] == b"00-ab-cd-01"


def test_null_data_cannot_be_written() -> None:
    with pytest.raises(CanonicalRecordError):
        replace(EVENT, data=None).value()


@pytest.mark.parametrize("data", [[1, 2], "text", 0, False, {}])
def test_any_json_value_but_null_is_data(data: Any) -> None:
    assert jsoncodec.loads(replace(EVENT, data=data).value()) == data


def test_source_uri_is_under_hookgate() -> None:
    assert source_uri("demo") == "/hookgate/demo"


def test_rfc3339_writes_utc_with_milliseconds() -> None:
    assert rfc3339(1_795_000_000.1234) == "2026-11-18T11:06:40.123Z"


def _rfc3339_by_datetime(epoch_seconds: float) -> str:
    # The plain reading: datetime's own rounding, millisecond precision.
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return (
        f"{moment.year:04d}-"
        + moment.strftime("%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


@given(
    st.floats(min_value=-62_135_596_800, max_value=253_402_300_799.999, allow_nan=False)
    | st.integers(min_value=0, max_value=4_000_000_000).map(lambda s: s + 0.9995)
    | st.integers(min_value=0, max_value=4_000_000_000).map(lambda s: s + 0.9999995)
)
def test_rfc3339_formats_any_time_as_datetime_does(epoch_seconds: float) -> None:
    assert rfc3339(epoch_seconds) == _rfc3339_by_datetime(epoch_seconds)


@pytest.mark.parametrize("epoch_seconds", [1e20, -1e20, float("inf"), float("nan")])
def test_rfc3339_refuses_a_time_datetime_cannot_hold(epoch_seconds: float) -> None:
    with pytest.raises((ValueError, OverflowError)):
        rfc3339(epoch_seconds)


def test_rfc3339_writes_a_four_digit_year_for_early_dates() -> None:
    early = datetime(1, 1, 1, tzinfo=UTC).timestamp()
    assert RFC3339_MS.match(rfc3339(early))


# --- decode ------------------------------------------------------------------------------------


def test_decode_reads_back_the_event() -> None:
    assert canonical.decode(EVENT.key(), EVENT.value(), EVENT.headers()) == EVENT


def test_decode_takes_the_partition_key_from_the_record_key() -> None:
    event = canonical.decode(b"job-7", EVENT.value(), EVENT.headers())
    assert event.partitionkey == "job-7"


def test_decode_reads_extensions() -> None:
    event = replace(EVENT, extensions={"traceparent": "00-ab-cd-01"})
    assert canonical.decode(event.key(), event.value(), event.headers()) == event


def test_decode_accepts_upper_case_header_names() -> None:
    headers = [(name.upper(), value) for name, value in EVENT.headers()]
    assert canonical.decode(EVENT.key(), EVENT.value(), headers) == EVENT


def test_decode_refuses_a_null_record_value() -> None:
    with pytest.raises(CanonicalRecordError, match="null"):
        canonical.decode(EVENT.key(), None, EVENT.headers())


@pytest.mark.parametrize("name", ["ce_specversion", "ce_id", "ce_source", "ce_type"])
def test_decode_refuses_a_record_without_a_required_attribute(name: str) -> None:
    headers = [(k, v) for k, v in EVENT.headers() if k != name]
    with pytest.raises(CanonicalRecordError, match=name):
        canonical.decode(EVENT.key(), EVENT.value(), headers)


def test_decode_refuses_another_specversion() -> None:
    headers = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in EVENT.headers()]
    with pytest.raises(CanonicalRecordError, match="specversion"):
        canonical.decode(EVENT.key(), EVENT.value(), headers)


def test_decode_refuses_data_that_is_not_json() -> None:
    with pytest.raises(CanonicalRecordError, match="JSON"):
        canonical.decode(EVENT.key(), b"{not json", EVENT.headers())


def test_decode_refuses_a_header_that_is_not_utf8() -> None:
    headers = [(k, b"\xff" if k == "ce_subject" else v) for k, v in EVENT.headers()]
    with pytest.raises(CanonicalRecordError):
        canonical.decode(EVENT.key(), EVENT.value(), headers)


# --- read by the CloudEvents SDK ---------------------------------------------------------------


def test_the_cloudevents_sdk_reads_the_required_attributes() -> None:
    event = read_with_sdk(EVENT)
    assert event.get_specversion() == "1.0"
    assert event.get_id() == EVENT.id
    assert event.get_source() == "/hookgate/demo"
    assert event.get_type() == "dev.hookgate.standard-webhooks.invoice.paid"


def test_the_cloudevents_sdk_reads_time_subject_and_content_type() -> None:
    event = read_with_sdk(EVENT)
    assert event.get_time() == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert event.get_subject() == "inv_7Hq2Xk9Lm"
    assert event.get_datacontenttype() == "application/json"


def test_the_cloudevents_sdk_reads_the_data() -> None:
    assert read_with_sdk(EVENT).get_data() == EVENT.data


def test_the_cloudevents_sdk_reads_the_record_key_as_partitionkey() -> None:
    event = read_with_sdk(replace(EVENT, partitionkey="job-7"))
    assert event.get_extension("partitionkey") == "job-7"


# --- the published schema ----------------------------------------------------------------------


def test_the_schema_file_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_structured_form_of_an_event_with_string_data_validates() -> None:
    validate(replace(EVENT, data="plain text").to_structured())


def test_the_structured_form_without_time_subject_or_partitionkey_validates() -> None:
    event = replace(EVENT, data="plain text", time=None, subject=None, partitionkey="")
    validate(event.to_structured())


def test_without_a_partition_key_the_structured_form_uses_the_event_id() -> None:
    assert replace(EVENT, partitionkey="").to_structured()["partitionkey"] == EVENT.id


def test_the_structured_form_of_an_event_with_object_data_validates() -> None:
    validate(EVENT.to_structured())


def test_the_structured_form_of_an_event_with_array_data_validates() -> None:
    validate(replace(EVENT, data=[1, 2]).to_structured())


def test_the_schema_refuses_an_extension_that_is_not_a_string() -> None:
    document = replace(EVENT, data="plain text").to_structured()
    document["traceparent"] = 7
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def test_the_structured_form_keeps_the_time_in_rfc3339() -> None:
    assert RFC3339_MS.match(EVENT.to_structured()["time"])


def test_the_schema_refuses_null_data() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(replace(EVENT, data=None).to_structured())


# --- jsoncodec: integers stay exact ------------------------------------------------------------


@pytest.mark.parametrize(
    "number", [196619188014358660, 2**63, 2**64 - 1, 2**64, 2**70, -(2**63) - 1, -(2**80)]
)
def test_a_large_integer_survives_value_and_decode_exactly(number: int) -> None:
    event = replace(EVENT, data={"seed": number, "nested": [number, {"n": number}]})
    value = event.value()
    assert str(number).encode() in value
    assert canonical.decode(event.key(), value, event.headers()).data == event.data


def test_jsoncodec_keeps_an_integer_beyond_64_bits_as_an_integer() -> None:
    decoded = jsoncodec.loads(b'{"n": 1180591620717411303424}')
    assert decoded == {"n": 2**70}
    assert isinstance(decoded["n"], int)


def test_jsoncodec_writes_unicode_as_utf8_also_beyond_64_bits() -> None:
    assert (
        jsoncodec.dumps({"n": 2**70, "s": "é"}) == '{"n":1180591620717411303424,"s":"é"}'.encode()
    )


@pytest.mark.parametrize("text", [b"NaN", b'{"x": NaN}', b"[Infinity]", b"-Infinity"])
def test_jsoncodec_refuses_nan_and_infinity(text: bytes) -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        jsoncodec.loads(text)


def test_jsoncodec_refuses_invalid_json() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        jsoncodec.loads(b"{")


def test_jsoncodec_refuses_a_number_too_large_for_a_float() -> None:
    with pytest.raises(ValueError, match="1e400"):
        jsoncodec.loads(b'{"x": 1e400}')


def test_a_data_schema_travels_as_ce_dataschema_and_the_sdk_reads_it() -> None:
    event = replace(EVENT, dataschema=published.JOB_EVENT_DATA)
    assert ("ce_dataschema", published.JOB_EVENT_DATA.encode()) in event.headers()
    assert read_with_sdk(event).get_dataschema() == published.JOB_EVENT_DATA


def test_a_data_schema_survives_decoding_and_the_structured_form() -> None:
    event = replace(EVENT, dataschema=published.JOB_EVENT_DATA)
    assert canonical.decode(event.key(), event.value(), event.headers()) == event
    validate(event.to_structured())


def test_without_a_data_schema_there_is_no_ce_dataschema_header() -> None:
    assert "ce_dataschema" not in dict(EVENT.headers())


def test_the_structured_schema_refuses_a_type_without_a_namespace() -> None:
    bare = replace(EVENT, type="standard-webhooks.invoice.paid").to_structured()
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        validate(bare)


# --- raw coordinates and the replay marker -----------------------------------------------------

ORIGIN = canonical.RawOrigin("webhooks.raw", 2, 1041)


def test_an_event_with_its_origin_carries_the_raw_coordinates_as_extension_headers() -> None:
    headers = dict(canonical.with_origin(EVENT, ORIGIN, replay=False).headers())
    assert (headers["ce_rawtopic"], headers["ce_rawpartition"], headers["ce_rawoffset"]) == (
        b"webhooks.raw",
        b"2",
        b"1041",
    )


def test_a_first_emission_has_no_replay_header() -> None:
    assert "ce_replay" not in dict(canonical.with_origin(EVENT, ORIGIN, replay=False).headers())


def test_a_re_emission_has_the_replay_header_true() -> None:
    assert dict(canonical.with_origin(EVENT, ORIGIN, replay=True).headers())["ce_replay"] == b"true"


def test_the_origin_and_the_marker_read_back_from_the_record() -> None:
    event = canonical.with_origin(EVENT, ORIGIN, replay=True)
    back = canonical.decode(event.key(), event.value(), event.headers())
    assert (canonical.origin_of(back), canonical.is_replay(back)) == (ORIGIN, True)


def test_an_event_without_coordinates_has_no_origin() -> None:
    assert canonical.origin_of(EVENT) is None


def test_the_cloudevents_sdk_reads_the_origin_and_the_marker_as_extensions() -> None:
    event = read_with_sdk(canonical.with_origin(EVENT, ORIGIN, replay=True))
    assert (event.get_extension("rawoffset"), event.get_extension("replay")) == ("1041", "true")


def test_the_structured_form_with_origin_and_marker_validates() -> None:
    validate(canonical.with_origin(EVENT, ORIGIN, replay=True).to_structured())


@pytest.mark.parametrize(
    "name", [canonical.RAW_TOPIC, canonical.RAW_PARTITION, canonical.RAW_OFFSET, canonical.REPLAY]
)
def test_extension_names_follow_the_cloudevents_naming_rule(name: str) -> None:
    assert re.fullmatch(r"[a-z0-9]{1,20}", name)


def test_an_extension_name_outside_the_cloudevents_rule_cannot_be_written() -> None:
    with pytest.raises(CanonicalRecordError):
        replace(EVENT, extensions={"raw_topic": "x"}).headers()


# --- trace context: the CloudEvents distributed-tracing extension ------------------------------

TRACE = tracecontext.TraceContext(
    "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, "rojo=00f067aa0ba902b7"
)


def test_a_traced_event_carries_traceparent_and_tracestate_headers() -> None:
    headers = dict(canonical.with_trace(EVENT, TRACE).headers())
    assert headers["ce_traceparent"] == b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert headers["ce_tracestate"] == b"rojo=00f067aa0ba902b7"


def test_a_trace_without_state_sends_no_tracestate() -> None:
    headers = dict(canonical.with_trace(EVENT, replace(TRACE, state="")).headers())
    assert "ce_tracestate" not in headers


def test_with_trace_replaces_an_earlier_trace() -> None:
    other = tracecontext.new()
    event = canonical.with_trace(canonical.with_trace(EVENT, TRACE), replace(other, state=""))
    assert canonical.trace_of(event) == replace(other, state="")
    assert "tracestate" not in event.extensions


def test_the_trace_is_read_back_from_the_record() -> None:
    event = canonical.with_trace(EVENT, TRACE)
    decoded = canonical.decode(event.key(), event.value(), event.headers())
    assert canonical.trace_of(decoded) == TRACE


def test_the_cloudevents_sdk_reads_the_tracing_extension() -> None:
    event = read_with_sdk(canonical.with_trace(EVENT, TRACE))
    assert event.get_extension("traceparent") == TRACE.traceparent
    assert event.get_extension("tracestate") == TRACE.state


def test_the_structured_form_of_a_traced_event_validates() -> None:
    validate(canonical.with_trace(EVENT, TRACE).to_structured())


def test_the_schema_refuses_a_traceparent_that_is_not_version_00() -> None:
    document = canonical.with_trace(EVENT, TRACE).to_structured()
    document["traceparent"] = "01-" + document["traceparent"][3:]
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def test_with_provenance_is_with_origin_then_with_trace() -> None:
    for replay in (False, True):
        for trace in (TRACE, None):
            both = canonical.with_trace(canonical.with_origin(EVENT, ORIGIN, replay=replay), trace)
            assert canonical.with_provenance(EVENT, ORIGIN, replay=replay, trace=trace) == both


def test_encode_writes_the_event_with_the_prefix_and_its_provenance() -> None:
    unprefixed = replace(EVENT, type="standard-webhooks.invoice.paid", extensions={"x": "1"})
    for replay in (False, True):
        for trace in (TRACE, None):
            built = canonical.with_provenance(
                replace(unprefixed, type="dev.hookgate." + unprefixed.type),
                ORIGIN,
                replay=replay,
                trace=trace,
            )
            encoded = canonical.encode(
                unprefixed, type_prefix="dev.hookgate.", origin=ORIGIN, replay=replay, trace=trace
            )
            assert encoded == (built.key(), built.value(), built.headers())
