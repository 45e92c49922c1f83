"""The raw-delivery record: what the ingress writes and the worker reads back."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from schemas import published, raw, tracecontext
from schemas.raw import DEDUP_FORMAT_VERSION, FORMAT_VERSION, Header, RawDelivery, RawRecordError

SCHEMA = published.load(published.RAW_DELIVERY)
SCHEMA_V2 = published.load(published.RAW_DELIVERY_V2)

DELIVERY = RawDelivery(
    source="demo",
    provider="standard-webhooks",
    scheme="standard-webhooks",
    event_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
    received_at_ms=1_795_000_000_123,
    content_type="application/json",
    body=b'{"type": "invoice.paid", "data": {"id": "inv_1"}}',
    sender_headers=(
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1795000000"),
        ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ),
    signed_at_ms=1_795_000_000_000,
    key_index=1,
)


def round_trip(delivery: RawDelivery) -> RawDelivery:
    return raw.decode(delivery.key, delivery.body, delivery.headers())


def headers_without(name: str) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in DELIVERY.headers() if k != name]


def headers_with(name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(k, value if k == name else v) for k, v in DELIVERY.headers()]


def json_form(delivery: RawDelivery) -> dict[str, Any]:
    """The record as the schema file shows it: key, UTF-8 headers and base64 value."""
    return {
        "key": delivery.key.decode(),
        "headers": {name: value.decode() for name, value in delivery.headers()},
        "value_base64": base64.b64encode(delivery.body).decode(),
    }


# --- key and headers ---------------------------------------------------------------------------


def test_the_key_is_source_and_event_id() -> None:
    assert DELIVERY.key == b"demo:msg_p5jXN8AQM9LWM0D4loKWxJek"


def test_the_headers_carry_format_source_provider_scheme_id_time_and_content_type() -> None:
    headers = dict(DELIVERY.headers())
    assert headers[Header.FORMAT] == FORMAT_VERSION.encode()
    assert headers[Header.SOURCE] == b"demo"
    assert headers[Header.PROVIDER] == b"standard-webhooks"
    assert headers[Header.SCHEME] == b"standard-webhooks"
    assert headers[Header.EVENT_ID] == b"msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert headers[Header.RECEIVED_AT] == b"1795000000123"
    assert headers[Header.CONTENT_TYPE] == b"application/json"


def test_sender_headers_are_kept_under_the_sender_prefix() -> None:
    headers = dict(DELIVERY.headers())
    assert headers["sender-webhook-id"] == b"msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert headers["sender-webhook-timestamp"] == b"1795000000"
    assert headers["sender-webhook-signature"].startswith(b"v1,")


def test_what_the_ingress_verified_is_carried_in_its_own_headers() -> None:
    headers = dict(DELIVERY.headers())
    assert headers[Header.SIGNED_AT] == b"1795000000000"
    assert headers[Header.KEY_INDEX] == b"1"


def test_a_scheme_that_signs_no_time_writes_no_signed_at_header() -> None:
    headers = dict(replace(DELIVERY, signed_at_ms=None).headers())
    assert Header.SIGNED_AT not in headers


def test_a_record_without_the_verified_headers_decodes_without_them() -> None:
    headers = [
        (k, v) for k, v in DELIVERY.headers() if k not in (Header.SIGNED_AT, Header.KEY_INDEX)
    ]
    delivery = raw.decode(DELIVERY.key, DELIVERY.body, headers)
    assert (delivery.signed_at_ms, delivery.key_index) == (None, None)


@pytest.mark.parametrize("name", [Header.SIGNED_AT, Header.KEY_INDEX])
@pytest.mark.parametrize("value", [b"", b"-5", b"+5", b"1_0", b"soon", "١٢٣".encode()])
def test_a_verified_header_that_is_not_a_plain_integer_is_refused(name: str, value: bytes) -> None:
    with pytest.raises(RawRecordError, match=name):
        raw.decode(DELIVERY.key, DELIVERY.body, headers_with(name, value))


def test_a_sender_header_is_found_by_its_own_name() -> None:
    assert DELIVERY.sender_header("webhook-timestamp") == "1795000000"
    assert DELIVERY.sender_header("webhook-absent") is None


# --- decode round trip -------------------------------------------------------------------------


def test_decode_rebuilds_the_delivery_exactly() -> None:
    assert round_trip(DELIVERY) == DELIVERY


def test_the_body_comes_back_byte_for_byte() -> None:
    body = b'{ "b" : 1,\n  "a":  1.50 }\r\n'
    assert round_trip(replace(DELIVERY, body=body)).body == body


def test_a_body_that_is_not_utf8_comes_back_unchanged() -> None:
    body = b"\xff\xfe\x00binary\x80\xc3("
    assert round_trip(replace(DELIVERY, body=body)).body == body


def test_an_empty_body_is_a_body() -> None:
    assert round_trip(replace(DELIVERY, body=b"")).body == b""


def test_sender_headers_come_back_without_the_prefix() -> None:
    assert round_trip(DELIVERY).sender_headers == DELIVERY.sender_headers


def test_decode_without_a_key_trusts_the_headers() -> None:
    assert raw.decode(None, DELIVERY.body, DELIVERY.headers()) == DELIVERY


def test_a_record_without_content_type_reads_as_octet_stream() -> None:
    delivery = raw.decode(DELIVERY.key, DELIVERY.body, headers_without(Header.CONTENT_TYPE))
    assert delivery.content_type == "application/octet-stream"


# --- decode errors -----------------------------------------------------------------------------


def test_a_null_value_is_refused() -> None:
    with pytest.raises(RawRecordError, match="null value"):
        raw.decode(DELIVERY.key, None, DELIVERY.headers())


def test_an_unknown_format_version_is_refused() -> None:
    with pytest.raises(RawRecordError, match="format"):
        raw.decode(DELIVERY.key, DELIVERY.body, headers_with(Header.FORMAT, b"3"))


def test_a_record_without_format_header_is_refused() -> None:
    with pytest.raises(RawRecordError, match="format"):
        raw.decode(DELIVERY.key, DELIVERY.body, headers_without(Header.FORMAT))


def test_a_record_without_headers_is_refused() -> None:
    with pytest.raises(RawRecordError):
        raw.decode(DELIVERY.key, DELIVERY.body, None)


@pytest.mark.parametrize(
    "name", [Header.SOURCE, Header.PROVIDER, Header.EVENT_ID, Header.RECEIVED_AT]
)
def test_a_missing_required_header_is_named(name: str) -> None:
    with pytest.raises(RawRecordError, match=f"missing header {name}"):
        raw.decode(None, DELIVERY.body, headers_without(name))


@pytest.mark.parametrize("value", [b"soon", b"1.5", b""])
def test_a_receive_time_that_is_not_an_integer_is_refused(value: bytes) -> None:
    with pytest.raises(RawRecordError, match=Header.RECEIVED_AT):
        raw.decode(DELIVERY.key, DELIVERY.body, headers_with(Header.RECEIVED_AT, value))


def test_a_receive_time_after_the_year_9999_is_refused() -> None:
    # Found by tests/streams/test_properties.py: the canonical event's time fell back to it and
    # raised ValueError, which is no StreamError.
    late = str(raw.LATEST_MS + 1).encode()
    with pytest.raises(RawRecordError, match=Header.RECEIVED_AT):
        raw.decode(DELIVERY.key, DELIVERY.body, headers_with(Header.RECEIVED_AT, late))


def test_the_latest_receive_time_decodes() -> None:
    assert round_trip(replace(DELIVERY, received_at_ms=raw.LATEST_MS)).received_at_ms == (
        raw.LATEST_MS
    )


def test_a_key_that_does_not_match_source_and_event_id_is_refused() -> None:
    with pytest.raises(RawRecordError, match="key"):
        raw.decode(b"demo:another-id", DELIVERY.body, DELIVERY.headers())


def test_a_header_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(RawRecordError, match="UTF-8"):
        raw.decode(DELIVERY.key, DELIVERY.body, headers_with(Header.SOURCE, b"\xffdemo"))


def test_a_sender_header_that_is_not_utf8_is_refused() -> None:
    headers = [*DELIVERY.headers(), ("sender-webhook-extra", b"\xc3(")]
    with pytest.raises(RawRecordError, match="UTF-8"):
        raw.decode(DELIVERY.key, DELIVERY.body, headers)


# --- the published schema ----------------------------------------------------------------------


def test_the_schema_file_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_a_record_validates_against_the_published_schema() -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(json_form(DELIVERY))


def test_a_record_with_a_non_utf8_body_validates_against_the_published_schema() -> None:
    document = json_form(replace(DELIVERY, body=b"\xff\x00\x80"))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert base64.b64decode(document["value_base64"]) == b"\xff\x00\x80"


def test_the_schema_refuses_a_header_the_format_does_not_define() -> None:
    document = json_form(DELIVERY)
    document["headers"]["x-forwarded-for"] = "10.0.0.1"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(document)


def test_the_raw_format_is_the_major_version_of_its_published_schema() -> None:
    assert SCHEMA["version"].split(".")[0] == FORMAT_VERSION
    assert SCHEMA["properties"]["headers"]["properties"]["hookgate-format"] == {
        "const": FORMAT_VERSION
    }


def test_a_redriven_record_validates_against_the_published_schema() -> None:
    document = json_form(DELIVERY)
    document["headers"]["hookgate-redrive-of"] = "webhooks.dlq:0:17"
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


def test_a_redriven_record_decodes_as_the_original() -> None:
    headers = [*DELIVERY.headers(), ("hookgate-redrive-of", b"webhooks.dlq:0:17")]
    assert raw.decode(DELIVERY.key, DELIVERY.body, headers) == DELIVERY


# --- format 2: keyed by what the signature covers ------------------------------------------------

#: A GitHub delivery: its id header is not signed, so the record is keyed by a digest of the body.
KEYED = replace(
    DELIVERY,
    provider="github",
    scheme="body-hmac",
    event_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
    dedup_id="sha256:" + "ab" * 32,
    signed_at_ms=None,
)


def test_a_delivery_keyed_by_its_dedup_id_has_it_as_the_key() -> None:
    assert KEYED.key == b"demo:sha256:" + b"ab" * 32


def test_a_delivery_keyed_by_its_dedup_id_is_format_2_and_carries_it() -> None:
    headers = dict(KEYED.headers())
    assert headers[Header.FORMAT] == DEDUP_FORMAT_VERSION.encode() == b"2"
    assert headers[Header.DEDUP_ID] == b"sha256:" + b"ab" * 32
    assert headers[Header.EVENT_ID] == b"72d3162e-cc78-11e3-81ab-4c9367dc0958"


def test_a_delivery_whose_event_id_is_signed_stays_format_1_without_a_dedup_id() -> None:
    headers = dict(DELIVERY.headers())
    assert headers[Header.FORMAT] == FORMAT_VERSION.encode() == b"1"
    assert Header.DEDUP_ID not in headers


def test_a_dedup_id_equal_to_the_event_id_is_no_dedup_id() -> None:
    same = replace(DELIVERY, dedup_id=DELIVERY.event_id)
    assert dict(same.headers())[Header.FORMAT] == b"1"
    assert round_trip(same).dedup_id is None


def test_a_format_2_record_decodes_exactly() -> None:
    assert round_trip(KEYED) == KEYED


def test_a_format_2_record_without_its_dedup_id_is_refused() -> None:
    headers = [(k, v) for k, v in KEYED.headers() if k != Header.DEDUP_ID]
    with pytest.raises(RawRecordError, match=f"missing header {Header.DEDUP_ID}"):
        raw.decode(KEYED.key, KEYED.body, headers)


def test_a_format_2_record_keyed_by_its_event_id_is_refused() -> None:
    with pytest.raises(RawRecordError, match="key"):
        raw.decode(b"demo:" + KEYED.event_id.encode(), KEYED.body, KEYED.headers())


def test_a_format_1_record_with_a_dedup_id_header_is_refused() -> None:
    # Format 1 is keyed by the event id: a dedup id there means a writer that does not know it.
    headers = [*DELIVERY.headers(), (Header.DEDUP_ID, b"sha256:00")]
    with pytest.raises(RawRecordError, match=Header.DEDUP_ID):
        raw.decode(DELIVERY.key, DELIVERY.body, headers)


def test_a_format_2_record_validates_against_its_published_schema() -> None:
    jsonschema.Draft202012Validator(SCHEMA_V2).validate(json_form(KEYED))


def test_a_format_2_record_is_not_a_format_1_record() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(json_form(KEYED))


def test_format_2_is_the_major_version_of_its_published_schema() -> None:
    assert SCHEMA_V2["version"].split(".")[0] == DEDUP_FORMAT_VERSION
    assert SCHEMA_V2["properties"]["headers"]["properties"]["hookgate-format"] == {
        "const": DEDUP_FORMAT_VERSION
    }


# --- trace context -----------------------------------------------------------------------------

TRACE = tracecontext.TraceContext(
    "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, "rojo=00f067aa0ba902b7"
)
TRACED = replace(DELIVERY, trace=TRACE)


def test_the_trace_context_is_carried_under_the_w3c_header_names() -> None:
    headers = dict(TRACED.headers())
    assert headers[Header.TRACEPARENT] == b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert headers[Header.TRACESTATE] == b"rojo=00f067aa0ba902b7"


def test_a_trace_without_state_writes_no_tracestate_header() -> None:
    delivery = replace(DELIVERY, trace=replace(TRACE, state=""))
    assert Header.TRACESTATE not in dict(delivery.headers())


def test_the_trace_context_comes_back_from_the_record() -> None:
    assert round_trip(TRACED) == TRACED


def test_a_record_without_trace_context_decodes_without_it() -> None:
    assert round_trip(DELIVERY).trace is None


@pytest.mark.parametrize("value", [b"00-not-a-trace", b"\xff\xfe", b""])
def test_an_invalid_traceparent_is_ignored_not_refused(value: bytes) -> None:
    headers = [*DELIVERY.headers(), (Header.TRACEPARENT, value)]
    assert raw.decode(DELIVERY.key, DELIVERY.body, headers) == DELIVERY


def test_a_traced_record_validates_against_the_published_schema() -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(json_form(TRACED))


# --- the exact bytes ----------------------------------------------------------------------------


def test_the_headers_are_written_in_this_order_with_these_bytes() -> None:
    # The format as the ingress wrote it before SourceRecords: its order and bytes must not move.
    trace = tracecontext.parse("00-" + "a" * 32 + "-" + "b" * 16 + "-01", "k=v")
    delivery = replace(KEYED, trace=trace, signed_at_ms=1_795_000_000_000, key_index=0)
    assert delivery.headers() == [
        ("hookgate-format", b"2"),
        ("hookgate-source", b"demo"),
        ("hookgate-provider", b"github"),
        ("hookgate-scheme", b"body-hmac"),
        ("hookgate-event-id", b"72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("hookgate-received-at", b"1795000000123"),
        ("content-type", b"application/json"),
        ("hookgate-dedup-id", b"sha256:" + b"ab" * 32),
        ("hookgate-signed-at", b"1795000000000"),
        ("hookgate-key-index", b"0"),
        ("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"),
        ("tracestate", b"k=v"),
        ("sender-webhook-id", b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("sender-webhook-timestamp", b"1795000000"),
        ("sender-webhook-signature", b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ]


def test_a_source_s_records_have_the_key_and_headers_of_its_raw_delivery() -> None:
    for delivery in (DELIVERY, KEYED, replace(DELIVERY, dedup_id=DELIVERY.event_id)):
        records = raw.SourceRecords(delivery.source, delivery.provider, delivery.scheme)
        assert records.key(delivery.event_id, delivery.dedup_id) == delivery.key
        headers = records.headers(
            delivery.event_id,
            delivery.received_at_ms,
            delivery.content_type,
            delivery.sender_headers,
            signed_at_ms=delivery.signed_at_ms,
            key_index=delivery.key_index,
            dedup_id=delivery.dedup_id,
            trace=delivery.trace,
        )
        assert headers == delivery.headers()
