"""The Standard Webhooks normalizer: envelope ``{type, timestamp, data}`` -> canonical event."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from schemas.raw import RawDelivery
from streams import normalizers
from streams.errors import NormalizationFailed, UnknownProvider
from tests.streams.normalizers.checks import (
    CANONICAL_SCHEMA,
    RECEIVED_AT_MS,
    SIGNED_AT,
    normalize,
)


def delivery(body: Any, *, signed: bool = True) -> RawDelivery:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sender = (("webhook-id", "msg_1"), ("webhook-timestamp", str(SIGNED_AT))) if signed else ()
    return RawDelivery(
        source="demo",
        provider="standard-webhooks",
        scheme="standard-webhooks",
        event_id="msg_1",
        received_at_ms=RECEIVED_AT_MS,
        content_type="application/json",
        body=content,
        sender_headers=sender,
        signed_at_ms=SIGNED_AT * 1000 if signed else None,
    )


FULL = {
    "type": "invoice.paid",
    "timestamp": "2026-11-27T10:00:00Z",
    "data": {"id": "inv_7Hq2Xk9Lm", "customer": "cus_42", "amount": 2400},
}


# --- the full envelope -------------------------------------------------------------------------


def test_the_event_id_is_the_webhook_id() -> None:
    assert normalize(delivery(FULL)).id == "msg_1"


def test_the_source_is_the_configured_source_name() -> None:
    assert normalize(delivery(FULL)).source == "/hookgate/demo"


def test_the_type_is_the_provider_and_its_type_in_the_installations_namespace() -> None:
    assert normalize(delivery(FULL)).type == "dev.hookgate.standard-webhooks.invoice.paid"


def test_the_namespace_is_the_configured_prefix() -> None:
    event = normalizers.normalize(delivery(FULL), "com.example.hooks.")
    assert event.type == "com.example.hooks.standard-webhooks.invoice.paid"


def test_pass_through_events_name_no_data_schema() -> None:
    assert normalize(delivery(FULL)).dataschema is None


def test_the_time_is_the_envelope_timestamp_in_rfc3339_utc() -> None:
    assert normalize(delivery(FULL)).time == "2026-11-27T10:00:00.000Z"


def test_an_envelope_timestamp_with_an_offset_is_converted_to_utc() -> None:
    event = normalize(delivery({**FULL, "timestamp": "2026-11-27T12:00:00.5+02:00"}))
    assert event.time == "2026-11-27T10:00:00.500Z"


def test_an_envelope_timestamp_without_a_zone_is_taken_as_utc() -> None:
    assert normalize(delivery({**FULL, "timestamp": "2026-11-27T10:00:00"})).time == (
        "2026-11-27T10:00:00.000Z"
    )


def test_the_data_is_the_envelope_data() -> None:
    assert normalize(delivery(FULL)).data == FULL["data"]


def test_the_subject_and_partition_key_are_the_data_id() -> None:
    event = normalize(delivery(FULL))
    assert (event.subject, event.partitionkey, event.key()) == (
        "inv_7Hq2Xk9Lm",
        "inv_7Hq2Xk9Lm",
        b"inv_7Hq2Xk9Lm",
    )


# --- fallbacks ---------------------------------------------------------------------------------


def test_without_a_timestamp_the_signed_webhook_timestamp_is_the_time() -> None:
    body = {k: v for k, v in FULL.items() if k != "timestamp"}
    assert normalize(delivery(body)).time == "2026-11-18T11:06:40.000Z"


def test_an_unparseable_timestamp_falls_back_to_the_signed_time() -> None:
    assert normalize(delivery({**FULL, "timestamp": "yesterday"})).time == (
        "2026-11-18T11:06:40.000Z"
    )


def test_without_any_timestamp_the_receive_time_is_the_time() -> None:
    body = {k: v for k, v in FULL.items() if k != "timestamp"}
    assert normalize(delivery(body, signed=False)).time == "2026-11-18T11:06:43.456Z"


def test_without_data_the_whole_body_is_the_data() -> None:
    body = {"type": "ping", "id": "evt_9", "note": "hello"}
    assert normalize(delivery(body)).data == body


def test_a_null_data_field_makes_the_whole_body_the_data() -> None:
    body = {"type": "ping", "data": None}
    assert normalize(delivery(body)).data == body


def test_an_integer_data_id_becomes_a_string_subject() -> None:
    event = normalize(delivery({"type": "job.done", "data": {"id": 12345}}))
    assert (event.subject, event.key()) == ("12345", b"12345")


@pytest.mark.parametrize("entity", [True, 1.5, "", None, {"nested": 1}])
def test_a_data_id_that_is_not_a_name_gives_no_subject(entity: Any) -> None:
    event = normalize(delivery({"type": "job.done", "data": {"id": entity}}))
    assert (event.subject, event.partitionkey) == (None, "msg_1")


@pytest.mark.parametrize("data", [[{"id": "a"}], "text", 42, False])
def test_data_that_is_not_an_object_gives_no_subject_and_the_event_id_as_key(data: Any) -> None:
    event = normalize(delivery({"type": "job.done", "data": data}))
    assert (event.subject, event.partitionkey, event.data) == (None, "msg_1", data)


# --- the published schema ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"type": "note.added", "data": "plain text"}, id="string-data"),
        pytest.param(FULL, id="full-envelope"),
        pytest.param(
            {"type": "ping", "id": "evt_9"},
            id="no-data",
        ),
        pytest.param(
            {"type": "job.done", "data": [1, 2]},
            id="array-data",
        ),
    ],
)
def test_the_output_validates_against_the_canonical_schema(body: dict[str, Any]) -> None:
    CANONICAL_SCHEMA.validate(normalize(delivery(body)).to_structured())


# --- integers stay exact -----------------------------------------------------------------------


@pytest.mark.parametrize("number", [196619188014358660, 2**64, 2**70, -(2**70)])
def test_a_large_integer_survives_normalization_byte_for_byte(number: int) -> None:
    data = b'{"seed":%d,"images":[{"width":1024,"seed":%d}]}' % (number, number)
    body = b'{"type":"job.succeeded","data":' + data + b"}"
    assert normalize(delivery(body)).value() == data


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"type": "a.b", "data": ', id="truncated"),
        pytest.param(b'\xff{"type": "a.b"}', id="not-utf8"),
        pytest.param(b'{"type": "a.b", "data": {"x": NaN}}', id="nan"),
        pytest.param(b'{"type": "a.b", "data": {"x": -Infinity}}', id="infinity"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="too-deep"),
    ],
)
def test_a_body_that_is_not_json_fails_normalization(body: bytes) -> None:
    with pytest.raises(NormalizationFailed, match="not valid JSON"):
        normalize(delivery(body))


@pytest.mark.parametrize("body", [b"[]", b'[{"type": "a.b"}]', b'"a.b"', b"null", b"7"])
def test_a_body_that_is_not_a_json_object_fails_normalization(body: bytes) -> None:
    with pytest.raises(NormalizationFailed, match="not an object"):
        normalize(delivery(body))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": {"id": "x"}}, id="missing"),
        pytest.param({"type": ""}, id="empty"),
        pytest.param({"type": 7}, id="number"),
        pytest.param({"type": "invoice paid"}, id="space"),
        pytest.param({"type": "invoice\npaid"}, id="newline"),
        pytest.param({"type": "é.paid"}, id="non-ascii"),
        pytest.param({"type": "a" * 201}, id="too-long"),
    ],
)
def test_a_missing_or_unusable_type_fails_normalization(body: dict[str, Any]) -> None:
    with pytest.raises(NormalizationFailed, match="event type"):
        normalize(delivery(body))


def test_a_delivery_of_an_unknown_provider_has_no_normalizer() -> None:
    with pytest.raises(UnknownProvider, match="acme"):
        normalize(replace(delivery(FULL), provider="acme"))


def test_normalization_does_not_depend_on_when_it_runs() -> None:
    body = {k: v for k, v in FULL.items() if k != "timestamp"}
    assert normalize(delivery(body, signed=False)) == normalize(delivery(body, signed=False))


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_timestamp_outside_the_utc_calendar_falls_back_to_the_signed_time(timestamp: str) -> None:
    assert normalize(delivery({**FULL, "timestamp": timestamp})).time == (
        "2026-11-18T11:06:40.000Z"
    )


def test_a_number_too_large_for_a_float_fails_normalization() -> None:
    with pytest.raises(NormalizationFailed):
        normalize(delivery(b'{"type": "a.b", "data": {"x": 1e400}}'))
