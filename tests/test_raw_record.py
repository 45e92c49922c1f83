"""The raw-delivery record: what the ingress writes and the worker reads back."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from schemas import published, raw
from schemas.raw import FORMAT_VERSION, Header, RawDelivery, RawRecordError

SCHEMA = published.load(published.RAW_DELIVERY)

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
        raw.decode(DELIVERY.key, DELIVERY.body, headers_with(Header.FORMAT, b"2"))


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
    # Found by tests/test_properties.py: the canonical event's time fell back to it and raised
    # ValueError, which is no StreamError.
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
