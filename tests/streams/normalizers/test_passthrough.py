"""The pass-through normalizers: each provider's own event -> ``{provider}.{event type}``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from schemas import canonical
from schemas.raw import RawDelivery
from streams.errors import NormalizationFailed
from streams.normalizers import NORMALIZERS
from tests.streams.normalizers.checks import (
    MALFORMED,
    PREFIX,
    RECEIVED_AT_MS,
    RECEIVED_TIME,
    SAMPLES,
    SIGNED_AT,
    SIGNED_TIME,
    check_schemas,
    mutated,
    mutations,
    normalize,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
GENERIC = ("generic-hmac", "basic-auth", "api-key")


def delivery(
    provider: str,
    body: Any,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    content_type: str = JSON,
    signed_at: int | None = None,
) -> RawDelivery:
    if isinstance(body, bytes):
        content = body
    elif content_type.startswith(FORM):
        content = urlencode(body).encode()
    else:
        content = json.dumps(body).encode()
    return RawDelivery(
        source="saas",
        provider=provider,
        scheme="test",
        event_id="evt_1",
        received_at_ms=RECEIVED_AT_MS,
        content_type=content_type,
        body=content,
        sender_headers=headers,
        signed_at_ms=None if signed_at is None else signed_at * 1000,
    )


# --- fixtures: realistic bodies, as each provider documents them --------------------------------

SVIX = {
    "type": "invoice.paid",
    "timestamp": "2026-11-27T10:00:00Z",
    "data": {"id": "inv_7Hq2Xk9Lm", "amount": 2400, "currency": "usd"},
}
CLERK = {
    "data": {
        "id": "user_29w83sxmDNGwOuEthce5gg56FcC",
        "object": "user",
        "first_name": "Example",
        "email_addresses": [{"email_address": "example@example.org", "id": "idn_29w83yL7CwV"}],
        "created_at": 1654012591514,
    },
    "event_attributes": {"http_request": {"client_ip": "192.0.2.1", "user_agent": "Mozilla/5.0"}},
    "instance_id": "ins_123",
    "object": "event",
    "timestamp": 1795000000123,
    "type": "user.created",
}
RESEND = {
    "type": "email.delivered",
    "created_at": "2026-11-27T10:00:01.500Z",
    "data": {
        "created_at": "2026-11-27 09:59:58.123+00:00",
        "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
        "from": "Acme <onboarding@resend.dev>",
        "to": ["delivered@resend.dev"],
        "subject": "Sending this example",
    },
}
ANTHROPIC = {
    "id": "wevt_011CZkZJ9ZBS4mQ9qdHkEBfE",
    "type": "event",
    "created_at": "2026-11-27T10:00:00.250Z",
    "data": {
        "type": "session.created",
        "id": "sesn_011CZkZAtmR3yMPDzynEDxu7",
        "organization_id": "org_01",
        "workspace_id": "wrkspc_01",
    },
}
STRIPE = {
    "id": "evt_3N9iS6LkdIwHu7ix0Lh1FhZi",
    "object": "event",
    "api_version": "2024-06-20",
    "created": 1795000000,
    "data": {
        "object": {
            "id": "pi_3N9iS6LkdIwHu7ix0nNj4Gmh",
            "object": "payment_intent",
            "amount": 2000,
            "currency": "usd",
            "status": "succeeded",
        },
        "previous_attributes": {"status": "processing"},
    },
    "livemode": False,
    "pending_webhooks": 1,
    "request": {"id": "req_1", "idempotency_key": "9f0d5ad8-7b4c"},
    "type": "payment_intent.succeeded",
}
MUX = {
    "type": "video.asset.ready",
    "object": {"type": "asset", "id": "Kx01aVRD02Ra8a00"},
    "id": "3a56ac3d-33da-4366-855b-f592d898409d",
    "environment": {"name": "Production", "id": "j0863n"},
    "data": {
        "id": "Kx01aVRD02Ra8a00",
        "status": "ready",
        "duration": 23.8,
        "playback_ids": [{"policy": "public", "id": "85g23ZcFHr9gR"}],
    },
    "created_at": "2026-11-27T10:00:00.000000Z",
    "accessor_source": None,
    "accessor": None,
    "request_id": None,
}
ELEVENLABS = {
    "type": "post_call_transcription",
    "event_timestamp": 1795000000,
    "data": {
        "agent_id": "xyz",
        "conversation_id": "conv_01jx4y",
        "status": "done",
        "transcript": [{"role": "agent", "message": "Hello!", "time_in_call_secs": 0}],
        "metadata": {"call_duration_secs": 22},
    },
}
SLACK = {
    "token": "XXYYZZ",
    "team_id": "T061EG9R6",
    "api_app_id": "A0PNCHHK2",
    "event": {
        "type": "message",
        "channel": "C024BE91L",
        "user": "U2147483697",
        "text": "Live long and prospect.",
        "ts": "1355517523.000005",
        "event_ts": "1355517523.000005",
        "channel_type": "channel",
    },
    "type": "event_callback",
    "authorizations": [{"team_id": "T061EG9R6", "user_id": "U0", "is_bot": True}],
    "event_id": "Ev0PV52K21",
    "event_time": 1795000000,
}
GITHUB_PUSH = {
    "ref": "refs/heads/main",
    "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    "after": "0000000000000000000000000000000000000000",
    "repository": {"id": 1296269, "full_name": "octocat/Hello-World", "private": False},
    "pusher": {"name": "octocat", "email": "octocat@github.com"},
    "sender": {"login": "octocat", "id": 1},
    "head_commit": {"id": "0d1a26e6", "timestamp": "2026-11-27T09:00:00Z"},
}
GITHUB_ISSUES = {
    "action": "opened",
    "issue": {"number": 1347, "title": "Found a bug", "updated_at": "2026-11-27T09:00:00Z"},
    "repository": {"id": 1296269, "full_name": "octocat/Hello-World"},
    "organization": {"login": "octo-org"},
    "sender": {"login": "octocat", "id": 1},
}
PAGERDUTY = {
    "event": {
        "id": "01DEN1HRKD8G3D4XYU2M3JNV9B",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2026-11-27T10:00:00.123Z",
        "agent": {"id": "PLH1HKV", "type": "user_reference"},
        "client": None,
        "data": {
            "id": "PGR0VU2",
            "type": "incident",
            "number": 2,
            "status": "triggered",
            "title": "A little bump in the road",
        },
    }
}
SHOPIFY_ORDER = (
    b'{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508",'
    b'"email":"jon@example.com","created_at":"2026-11-27T05:00:00-05:00","total_price":"403.00",'
    b'"line_items":[{"id":866550311766439020,"quantity":1}]}'
)
SHOPIFY_HEADERS = (
    ("x-shopify-topic", "orders/create"),
    ("x-shopify-shop-domain", "example.myshopify.com"),
    ("x-shopify-triggered-at", "2026-11-27T10:00:00.123456789Z"),
)
TWILIO_MESSAGE = {
    "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+15017122661",
    "To": "+15558675310",
    "MessageStatus": "delivered",
    "SmsStatus": "delivered",
    "ApiVersion": "2010-04-01",
}
TWILIO_INCOMING = {
    "MessageSid": "SMa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
    "SmsSid": "SMa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+15558675310",
    "To": "+15017122661",
    "Body": "Hello & welcome = yes",
    "NumMedia": "0",
    "SmsStatus": "received",
}
TWILIO_CALL = {
    "CallSid": "CA42ed11f93dc08b952027ffbc406d0868",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "CallStatus": "completed",
    "CallDuration": "42",
    "Timestamp": "Wed, 18 Nov 2026 11:06:40 +0000",
    "Direction": "outbound-api",
}
TWILIO_RECORDING = {
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "CallSid": "CA42ed11f93dc08b952027ffbc406d0868",
    "RecordingSid": "RE557ce644e5ab84fa21cc21112e22c485",
    "RecordingStatus": "completed",
    "RecordingDuration": "13",
}


@dataclass(frozen=True)
class Case:
    provider: str
    body: Any
    type: str
    subject: str | None
    time: str
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON

    def raw(self) -> RawDelivery:
        return delivery(
            self.provider, self.body, headers=self.headers, content_type=self.content_type
        )


CASES = [
    Case("svix", SVIX, "svix.invoice.paid", "inv_7Hq2Xk9Lm", "2026-11-27T10:00:00.000Z"),
    Case(
        "clerk",
        CLERK,
        "clerk.user.created",
        "user_29w83sxmDNGwOuEthce5gg56FcC",
        "2026-11-18T11:06:40.123Z",
    ),
    Case(
        "resend",
        RESEND,
        "resend.email.delivered",
        "56761188-7520-42d8-8898-ff6fc54ce618",
        "2026-11-27T10:00:01.500Z",
    ),
    Case(
        "anthropic",
        ANTHROPIC,
        "anthropic.session.created",
        "sesn_011CZkZAtmR3yMPDzynEDxu7",
        "2026-11-27T10:00:00.250Z",
    ),
    Case(
        "stripe",
        STRIPE,
        "stripe.payment_intent.succeeded",
        "pi_3N9iS6LkdIwHu7ix0nNj4Gmh",
        SIGNED_TIME,
    ),
    Case("mux", MUX, "mux.video.asset.ready", "Kx01aVRD02Ra8a00", "2026-11-27T10:00:00.000Z"),
    Case(
        "elevenlabs", ELEVENLABS, "elevenlabs.post_call_transcription", "conv_01jx4y", SIGNED_TIME
    ),
    Case("slack", SLACK, "slack.message", "T061EG9R6", SIGNED_TIME),
    Case(
        "github",
        GITHUB_PUSH,
        "github.push",
        "octocat/Hello-World",
        RECEIVED_TIME,
        headers=(("x-github-event", "push"),),
    ),
    Case(
        "github",
        GITHUB_ISSUES,
        "github.issues.opened",
        "octocat/Hello-World",
        RECEIVED_TIME,
        headers=(("x-github-event", "issues"),),
    ),
    Case(
        "pagerduty",
        PAGERDUTY,
        "pagerduty.incident.triggered",
        "PGR0VU2",
        "2026-11-27T10:00:00.123Z",
    ),
    Case(
        "shopify",
        SHOPIFY_ORDER,
        "shopify.orders/create",
        "820982911946154508",
        "2026-11-27T10:00:00.123Z",
        headers=SHOPIFY_HEADERS,
    ),
    Case(
        "twilio",
        TWILIO_MESSAGE,
        "twilio.message.delivered",
        "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        RECEIVED_TIME,
        content_type=FORM,
    ),
    Case(
        "twilio",
        TWILIO_INCOMING,
        "twilio.message.received",
        "SMa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
        RECEIVED_TIME,
        content_type=FORM + "; charset=utf-8",
    ),
    Case(
        "twilio",
        TWILIO_CALL,
        "twilio.call.completed",
        "CA42ed11f93dc08b952027ffbc406d0868",
        SIGNED_TIME,
        content_type=FORM,
    ),
    Case(
        "twilio",
        TWILIO_RECORDING,
        "twilio.recording.completed",
        "RE557ce644e5ab84fa21cc21112e22c485",
        RECEIVED_TIME,
        content_type=FORM,
    ),
    Case(
        "generic-hmac",
        {"event": "order.shipped", "created_at": "2026-11-27T10:00:00Z", "data": {"id": "ord_1"}},
        "generic-hmac.order.shipped",
        "ord_1",
        "2026-11-27T10:00:00.000Z",
    ),
    Case(
        "basic-auth",
        {"type": "build.finished", "timestamp": "2026-11-27T11:00:00+01:00", "data": {"id": 9}},
        "basic-auth.build.finished",
        "9",
        "2026-11-27T10:00:00.000Z",
    ),
    Case(
        "api-key",
        {"event_type": "alert.fired", "time": "2026-11-27T10:00:00Z", "alert": "disk full"},
        "api-key.alert.fired",
        None,
        "2026-11-27T10:00:00.000Z",
    ),
    Case("api-key", {"hello": "world"}, "api-key.received", None, RECEIVED_TIME),
]
CASE_IDS = [f"{case.provider}-{case.type}" for case in CASES]


def expected_data(case: Case) -> Any:
    if case.content_type.startswith(FORM):
        return case.body
    return json.loads(case.body) if isinstance(case.body, bytes) else case.body


# --- every provider, table-driven --------------------------------------------------------------


def test_every_provider_has_a_normalizer() -> None:
    assert set(NORMALIZERS) == {
        "standard-webhooks",
        *("svix", "clerk", "resend", "replicate", "openai", "anthropic", "stripe", "mux"),
        *("elevenlabs", "slack", "github", "pagerduty", "shopify", "fal", "twilio", "luma"),
        *("generic-hmac", "basic-auth", "api-key"),
    }


def test_every_pass_through_provider_has_a_case() -> None:
    job_providers = {"fal", "replicate", "openai", "luma", "standard-webhooks"}
    assert {case.provider for case in CASES} == set(NORMALIZERS) - job_providers


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_type_is_the_provider_and_its_event_type(case: Case) -> None:
    assert normalize(case.raw()).type == PREFIX + case.type


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_subject_and_key_are_the_provider_entity_else_the_event_id(case: Case) -> None:
    event = normalize(case.raw())
    key = case.subject or "evt_1"
    assert (event.subject, event.partitionkey, event.key()) == (case.subject, key, key.encode())


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_time_is_the_providers_event_time_in_rfc3339_utc(case: Case) -> None:
    assert normalize(case.raw()).time == case.time


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_data_is_the_providers_whole_payload(case: Case) -> None:
    assert normalize(case.raw()).data == expected_data(case)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_event_id_and_source_come_from_the_raw_record(case: Case) -> None:
    event = normalize(case.raw())
    assert (event.id, event.source) == ("evt_1", "/hookgate/saas")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_output_validates_against_the_canonical_schema(case: Case) -> None:
    check_schemas(normalize(case.raw()))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_record_reads_back_as_the_same_event(case: Case) -> None:
    event = normalize(case.raw())
    assert canonical.decode(event.key(), event.value(), event.headers()) == event


# --- times: the provider's, else the signed send time, else the receive time --------------------


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        pytest.param("svix", {"type": "a.b", "data": {}}, id="svix"),
        pytest.param("clerk", {"type": "user.created"}, id="clerk"),
        pytest.param("resend", {"type": "email.sent"}, id="resend"),
        pytest.param("anthropic", {"data": {"type": "x.y"}}, id="anthropic"),
        pytest.param("stripe", {"type": "a.b"}, id="stripe"),
        pytest.param("mux", {"type": "a.b"}, id="mux"),
        pytest.param("elevenlabs", {"type": "a"}, id="elevenlabs"),
        pytest.param("slack", {"type": "app_rate_limited"}, id="slack"),
        pytest.param("generic-hmac", {"type": "a.b"}, id="generic-hmac"),
    ],
)
def test_without_an_event_time_the_verified_signed_time_is_the_time(
    provider: str, body: dict[str, Any]
) -> None:
    assert normalize(delivery(provider, body, signed_at=SIGNED_AT)).time == SIGNED_TIME


@pytest.mark.parametrize(
    "header",
    [
        ("stripe-signature", f"t={SIGNED_AT},v1=ab"),
        ("webhook-timestamp", str(SIGNED_AT)),
        ("svix-timestamp", str(SIGNED_AT)),
    ],
)
def test_a_time_in_sender_headers_is_not_read_without_the_verified_signed_time(
    header: tuple[str, str],
) -> None:
    # Only the ingress knows which headers its verification covered (hookgate-signed-at).
    assert normalize(delivery("stripe", {"type": "a.b"}, headers=(header,))).time == RECEIVED_TIME


@pytest.mark.parametrize("created", [None, "1795000000", True, 10**40, 1e300])
def test_an_unusable_provider_time_falls_back_to_the_receive_time(created: Any) -> None:
    assert normalize(delivery("stripe", {**STRIPE, "created": created})).time == RECEIVED_TIME


def test_github_time_is_the_receive_time_even_with_commit_times_in_the_body() -> None:
    event = normalize(delivery("github", GITHUB_PUSH, headers=(("x-github-event", "push"),)))
    assert event.time == RECEIVED_TIME


def test_without_a_triggered_at_header_shopify_time_is_the_receive_time() -> None:
    event = normalize(delivery("shopify", SHOPIFY_ORDER, headers=SHOPIFY_HEADERS[:2]))
    assert event.time == RECEIVED_TIME


@pytest.mark.parametrize("stamp", ["yesterday", "Wed, 18 Nov 99999 11:06:40 +0000", ""])
def test_an_unparseable_twilio_timestamp_falls_back_to_the_receive_time(stamp: str) -> None:
    event = normalize(delivery("twilio", {**TWILIO_CALL, "Timestamp": stamp}, content_type=FORM))
    assert event.time == RECEIVED_TIME


def test_a_twilio_timestamp_without_a_zone_is_utc() -> None:
    body = {**TWILIO_CALL, "Timestamp": "Wed, 18 Nov 2026 11:06:40 -0000"}
    assert normalize(delivery("twilio", body, content_type=FORM)).time == SIGNED_TIME


def test_generic_epoch_numbers_are_not_read_as_times() -> None:
    event = normalize(delivery("generic-hmac", {"type": "a.b", "timestamp": 1795000000}))
    assert event.time == RECEIVED_TIME


# --- provider specifics ------------------------------------------------------------------------


def test_a_github_delivery_without_the_event_header_fails() -> None:
    with pytest.raises(NormalizationFailed, match="x-github-event"):
        normalize(delivery("github", GITHUB_PUSH))


@pytest.mark.parametrize("action", [None, "", 7, {"a": 1}])
def test_a_github_action_that_is_not_a_name_is_not_appended(action: Any) -> None:
    body = {**GITHUB_ISSUES, "action": action}
    event = normalize(delivery("github", body, headers=(("x-github-event", "issues"),)))
    assert event.type == f"{PREFIX}github.issues"


@pytest.mark.parametrize(
    ("body", "subject"),
    [
        pytest.param(
            {"action": "added", "organization": {"login": "octo-org"}, "sender": {"login": "a"}},
            "octo-org",
            id="organization",
        ),
        pytest.param({"action": "revoked", "sender": {"login": "octocat"}}, "octocat", id="sender"),
        pytest.param({"zen": "Keep it logically awesome."}, None, id="none"),
    ],
)
def test_without_a_repository_the_github_subject_is_the_organization_else_the_sender(
    body: dict[str, Any], subject: str | None
) -> None:
    event = normalize(delivery("github", body, headers=(("x-github-event", "x"),)))
    assert event.subject == subject


def test_a_github_form_delivery_is_read_from_its_payload_field() -> None:
    form = {"payload": json.dumps(GITHUB_ISSUES)}
    raw = delivery("github", form, headers=(("x-github-event", "issues"),), content_type=FORM)
    event = normalize(raw)
    assert (event.type, event.subject, event.data) == (
        f"{PREFIX}github.issues.opened",
        "octocat/Hello-World",
        GITHUB_ISSUES,
    )


def test_a_slack_interaction_form_is_read_from_its_payload_field() -> None:
    interaction = {
        "type": "block_actions",
        "team": {"id": "T9TK3CUKW", "domain": "example"},
        "user": {"id": "UA8RXUSPL"},
        "actions": [{"action_id": "approve", "value": "yes"}],
    }
    raw = delivery(
        "slack",
        {"payload": json.dumps(interaction)},
        content_type=FORM,
        signed_at=SIGNED_AT,
    )
    event = normalize(raw)
    assert (event.type, event.subject, event.time, event.data) == (
        f"{PREFIX}slack.block_actions",
        "T9TK3CUKW",
        SIGNED_TIME,
        interaction,
    )


@pytest.mark.parametrize(
    "form", [{"command": "/weather", "text": "94070"}, {"payload": "not json"}, {"payload": "[]"}]
)
def test_a_slack_form_without_a_json_object_payload_fails(form: dict[str, str]) -> None:
    with pytest.raises(NormalizationFailed):
        normalize(delivery("slack", form, content_type=FORM))


def test_a_slack_url_verification_that_reaches_the_worker_is_a_plain_event() -> None:
    body = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    assert normalize(delivery("slack", body)).type == f"{PREFIX}slack.url_verification"


def test_without_a_team_the_slack_subject_is_the_channel() -> None:
    body = {k: v for k, v in SLACK.items() if k != "team_id"}
    assert normalize(delivery("slack", body)).subject == "C024BE91L"


def test_a_slack_event_callback_without_an_inner_type_fails() -> None:
    with pytest.raises(NormalizationFailed, match="event type"):
        normalize(delivery("slack", {**SLACK, "event": {"channel": "C1"}}))


def test_a_shopify_resource_id_beyond_2_53_stays_exact() -> None:
    event = normalize(delivery("shopify", SHOPIFY_ORDER, headers=SHOPIFY_HEADERS))
    assert event.data["id"] == 820982911946154508
    assert b'"id":820982911946154508' in event.value()
    assert b'"id":866550311766439020' in event.value()


def test_a_shopify_body_without_an_id_has_the_shop_domain_as_subject() -> None:
    headers = (
        ("x-shopify-topic", "shop/redact"),
        ("x-shopify-shop-domain", "example.myshopify.com"),
    )
    body = {"shop_id": 954889, "shop_domain": "example.myshopify.com"}
    event = normalize(delivery("shopify", body, headers=headers))
    assert (event.type, event.subject) == (f"{PREFIX}shopify.shop/redact", "example.myshopify.com")


def test_a_shopify_delivery_without_the_topic_header_fails() -> None:
    with pytest.raises(NormalizationFailed, match="event type"):
        normalize(delivery("shopify", SHOPIFY_ORDER, headers=SHOPIFY_HEADERS[1:]))


def test_an_anthropic_body_without_data_type_uses_the_body_type() -> None:
    body = {"id": "wevt_1", "type": "session.created", "data": {"id": "sesn_1"}}
    assert normalize(delivery("anthropic", body)).type == f"{PREFIX}anthropic.session.created"


def test_an_anthropic_event_without_data_type_fails() -> None:
    body = {**ANTHROPIC, "data": {"id": "sesn_1"}}
    with pytest.raises(NormalizationFailed, match="event type"):
        normalize(delivery("anthropic", body))


def test_a_resend_event_about_something_else_than_an_email_has_data_id_as_subject() -> None:
    body = {"type": "contact.created", "created_at": "2026-11-27T10:00:00Z", "data": {"id": "c_1"}}
    assert normalize(delivery("resend", body)).subject == "c_1"


def test_a_stripe_integer_beyond_64_bits_stays_exact() -> None:
    body = b'{"type":"invoice.paid","created":1,"data":{"object":{"id":"in_1","amount":%d}}}' % (
        2**70
    )
    assert b'"amount":%d}' % 2**70 in normalize(delivery("stripe", body)).value()


# --- Twilio forms ------------------------------------------------------------------------------


def test_twilio_data_is_the_form_as_strings_exactly_as_sent() -> None:
    event = normalize(delivery("twilio", TWILIO_INCOMING, content_type=FORM))
    assert event.data["Body"] == "Hello & welcome = yes"
    assert event.data["From"] == "+15558675310"


@pytest.mark.parametrize("content_type", [JSON, "text/plain", ""])
def test_a_twilio_body_that_is_not_a_form_fails(content_type: str) -> None:
    with pytest.raises(NormalizationFailed, match="not a form"):
        normalize(delivery("twilio", b'{"MessageStatus": "sent"}', content_type=content_type))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"AccountSid=AC1&To=%2B1555", id="no-status"),
        pytest.param(b"MessageStatus=sent&MessageStatus=delivered", id="repeated"),
        pytest.param(b"MessageStatus=sent&junk", id="not-a-pair"),
        pytest.param(b"MessageStatus=%ff", id="not-utf8-escape"),
        pytest.param(b"MessageStatus=sent&Body=\xff", id="not-utf8"),
        pytest.param(b"MessageStatus=in+transit", id="status-with-space"),
        pytest.param(b"CallStatus=", id="empty-status"),
    ],
)
def test_a_malformed_twilio_form_fails(body: bytes) -> None:
    with pytest.raises(NormalizationFailed):
        normalize(delivery("twilio", body, content_type=FORM))


def test_a_twilio_message_without_a_sid_has_the_event_id_as_key() -> None:
    body = {"MessageStatus": "sent", "AccountSid": "AC1"}
    event = normalize(delivery("twilio", body, content_type=FORM))
    assert (event.subject, event.key()) == (None, b"evt_1")


def test_a_twilio_recording_callback_is_a_recording_event_not_a_call_event() -> None:
    body = {**TWILIO_RECORDING, "CallStatus": "completed"}
    assert normalize(delivery("twilio", body, content_type=FORM)).type == (
        f"{PREFIX}twilio.recording.completed"
    )


# --- the generic providers ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", GENERIC)
@pytest.mark.parametrize("body", [[1, 2, {"id": "x"}], "text", 42, True])
def test_a_generic_json_body_that_is_not_an_object_is_received_as_is(
    provider: str, body: Any
) -> None:
    event = normalize(delivery(provider, body))
    assert (event.type, event.subject, event.data) == (f"{PREFIX}{provider}.received", None, body)
    check_schemas(event)


def test_a_generic_type_name_that_is_not_a_string_is_skipped() -> None:
    body = {"type": 7, "event": {"name": "signup"}, "event_type": "user.signup"}
    assert normalize(delivery("api-key", body)).type == f"{PREFIX}api-key.user.signup"


@pytest.mark.parametrize("kind", ["user signed up", "", "é.x"])
def test_a_generic_type_that_is_not_a_plain_name_fails(kind: str) -> None:
    with pytest.raises(NormalizationFailed, match="event type"):
        normalize(delivery("generic-hmac", {"event": kind}))


@pytest.mark.parametrize("provider", GENERIC)
@pytest.mark.parametrize("body", [b"user=1&x=2", b"null", b"", b"\xff"])
def test_a_generic_body_that_is_not_json_or_is_null_fails(provider: str, body: bytes) -> None:
    with pytest.raises(NormalizationFailed):
        normalize(delivery(provider, body))


# --- malformed bodies: NormalizationFailed, never another exception ----------------------------

#: Malformed for every JSON provider; a generic body may be any JSON value but null.
MALFORMED_CASES = [
    pytest.param(provider, *param.values, id=f"{provider}-{param.id}")
    for provider in sorted({case.provider for case in CASES} - {"twilio"})
    for param in MALFORMED
    if not (provider in GENERIC and param.id in ("array", "string"))
]


@pytest.mark.parametrize(("provider", "body"), MALFORMED_CASES)
def test_a_malformed_body_fails_normalization(provider: str, body: bytes) -> None:
    headers = (("x-github-event", "push"), *SHOPIFY_HEADERS)
    with pytest.raises(NormalizationFailed):
        normalize(delivery(provider, body, headers=headers))


JSON_CASES = [case for case in CASES if not case.content_type.startswith(FORM)]


@pytest.mark.parametrize("case", JSON_CASES, ids=[f"{c.provider}-{c.type}" for c in JSON_CASES])
def test_a_field_of_an_unexpected_type_gives_a_valid_event_or_normalization_failed(
    case: Case,
) -> None:
    body = expected_data(case)
    for path, value in mutations(body):
        raw = delivery(case.provider, mutated(body, path, value), headers=case.headers)
        try:
            event = normalize(raw)
        except NormalizationFailed:
            continue
        check_schemas(event)


# --- the bundled samples (hookgate/samples/) ---------------------------------------------------

#: Headers a sample needs that are not in its body: the event type of header-typed providers.
SAMPLE_HEADERS = {
    "github": (("x-github-event", "push"),),
    "shopify": SHOPIFY_HEADERS,
}
PASS_THROUGH = sorted(set(NORMALIZERS) - {"fal", "replicate", "openai", "luma"})


@pytest.mark.parametrize("provider", PASS_THROUGH)
def test_the_bundled_sample_normalizes_to_a_valid_event(provider: str) -> None:
    found = [SAMPLES / f"{provider}.{ext}" for ext in ("json", "form")]
    found = [path for path in found if path.is_file()]
    if not found:
        pytest.skip(f"no bundled sample {provider}.json or {provider}.form yet")
    sample = found[0]
    raw = delivery(
        provider,
        sample.read_bytes(),
        headers=SAMPLE_HEADERS.get(provider, ()),
        content_type=FORM if sample.suffix == ".form" else JSON,
    )
    event = normalize(raw)
    check_schemas(event)
    assert event.type.startswith(f"{PREFIX}{provider}.")
    assert canonical.decode(event.key(), event.value(), event.headers()) == event
