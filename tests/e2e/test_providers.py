"""Providers end to end on the real broker: each delivery signed the way its sender signs (with
the provider's own library where one exists), over HTTP, out as the right canonical event."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
import stripe
import svix.webhooks
from cloudevents.v1.kafka import KafkaMessage, from_binary
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from schemas import published
from schemas.canonical import rfc3339
from tests.support import (
    Stack,
    canonical_ids,
    header_pairs,
    read_canonical,
    serving,
    value_of,
    wait_until,
)

pytestmark = pytest.mark.kafka

STRIPE_SECRET = "whsec_stripe_e2e_0123456789abcdef"
GITHUB_SECRET = "github e2e secret"
REPLICATE_SECRET = "whsec_" + base64.b64encode(b"replicate e2e secret key 32 byte").decode()
SVIX_SECRET = "whsec_" + base64.b64encode(b"svix e2e secret key, 32 bytes!!").decode()
PREFIX = "com.example.hooks."
FAL_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fal e2e key").digest())
FAL_PUBLIC = base64.urlsafe_b64encode(
    FAL_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        kafka_bootstrap,
        tmp_path_factory.mktemp("providers"),
        type_prefix=PREFIX,  # an installation's own namespace
        extra_sources=[
            {"name": "stripe", "provider": "stripe", "secrets": [STRIPE_SECRET]},
            {"name": "github", "provider": "github", "secrets": [GITHUB_SECRET]},
            {"name": "replicate", "provider": "replicate", "secrets": [REPLICATE_SECRET]},
            {"name": "fal", "provider": "fal", "public_keys": [FAL_PUBLIC]},
            {"name": "svix", "provider": "svix", "secrets": [SVIX_SECRET]},
        ],
    )
    with serving(stack, "ingress", "worker"):
        yield stack


def canonical_event(stack: Stack, event_id: str) -> Any:
    def find() -> Any:
        for record in read_canonical(stack):
            headers = dict(header_pairs(record))
            if headers["ce_id"].decode() == event_id:
                return from_binary(KafkaMessage(headers, record.key(), value_of(record)))
        return None

    return wait_until(find, 90, f"canonical event {event_id}")


def test_a_stripe_event_signed_by_stripes_library_comes_out_canonical(stack: Stack) -> None:
    body = json.dumps(
        {
            "id": "evt_e2e_1",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": 1795000000,
            "livemode": False,
            "api_version": "2024-06-20",
            "data": {"object": {"id": "pi_e2e_1", "object": "payment_intent", "amount": 2400}},
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)
    response = stack.post_signed(
        "stripe", body.encode(), {"stripe-signature": header, "content-type": "application/json"}
    )
    assert response.status_code == 200, response.text

    event = canonical_event(stack, "evt_e2e_1")
    assert event["type"] == f"{PREFIX}stripe.payment_intent.succeeded"
    assert event["source"] == "/hookgate/stripe"
    assert event["subject"] == "pi_e2e_1"
    assert event["time"] == "2026-11-18T11:06:40.000Z"
    assert event.get_data()["data"]["object"]["amount"] == 2400


def test_a_github_push_signed_as_github_does_comes_out_canonical(stack: Stack) -> None:
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "after": "abc123",
            "repository": {"full_name": "hookgate/hookgate", "id": 1},
            "sender": {"login": "octocat"},
        }
    ).encode()
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = stack.post_signed(
        "github",
        body,
        {
            "x-hub-signature-256": signature,
            "x-github-event": "push",
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "x-github-hook-id": "1",
            "content-type": "application/json",
        },
    )
    assert response.status_code == 200, response.text

    event = canonical_event(stack, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert event["type"] == f"{PREFIX}github.push"
    assert event["subject"] == "hookgate/hookgate"
    assert event["partitionkey"] == b"hookgate/hookgate"


def test_a_replicate_prediction_signed_by_standard_webhooks_comes_out_as_a_job_event(
    stack: Stack,
) -> None:
    body = json.dumps(
        {
            "id": "pred_e2e_1",
            "model": "black-forest-labs/flux-schnell",
            "version": "v1",
            "status": "succeeded",
            "input": {"prompt": "a lighthouse"},
            "output": ["https://replicate.delivery/e2e/out-0.webp"],
            "error": None,
            "created_at": "2026-11-27T10:00:00.000Z",
            "started_at": "2026-11-27T10:00:01.000Z",
            "completed_at": "2026-11-27T10:00:05.000Z",
            "metrics": {"predict_time": 4.0},
        }
    )
    timestamp = int(time.time())
    signer = standardwebhooks.Webhook(REPLICATE_SECRET)
    signature = signer.sign("msg_replicate_e2e", datetime.fromtimestamp(timestamp, tz=UTC), body)
    response = stack.post_signed(
        "replicate",
        body.encode(),
        {
            "webhook-id": "msg_replicate_e2e",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
            "content-type": "application/json",
        },
    )
    assert response.status_code == 200, response.text

    event = canonical_event(stack, "msg_replicate_e2e")
    assert event["type"] == f"{PREFIX}job.succeeded"
    assert event["dataschema"] == published.JOB_EVENT_DATA
    assert event["subject"] == "pred_e2e_1"
    data = event.get_data()
    assert data["provider"] == "replicate"
    assert data["status"] == "succeeded"
    assert [o["url"] for o in data["outputs"]] == ["https://replicate.delivery/e2e/out-0.webp"]


def test_a_fal_result_signed_with_ed25519_comes_out_as_a_job_event_with_its_exact_seed(
    stack: Stack,
) -> None:
    seed = 196619188014358660123  # beyond 64 bits: must survive byte-exact
    body = (
        b'{"request_id": "req_fal_e2e", "gateway_request_id": "gw_1", "status": "OK", '
        b'"payload": {"images": [{"url": "https://v3.fal.media/files/e2e.png", '
        b'"content_type": "image/png", "width": 1024, "height": 768}], "seed": '
        + str(seed).encode()
        + b"}}"
    )
    timestamp = str(int(time.time()))
    message = "\n".join(
        ["req_fal_e2e", "user_e2e", timestamp, hashlib.sha256(body).hexdigest()]
    ).encode()
    response = stack.post_signed(
        "fal",
        body,
        {
            "x-fal-webhook-request-id": "req_fal_e2e",
            "x-fal-webhook-user-id": "user_e2e",
            "x-fal-webhook-timestamp": timestamp,
            "x-fal-webhook-signature": FAL_KEY.sign(message).hex(),
            "content-type": "application/json",
        },
    )
    assert response.status_code == 200, response.text

    event = canonical_event(stack, "req_fal_e2e")
    assert event["type"] == f"{PREFIX}job.succeeded"
    assert event["dataschema"] == published.JOB_EVENT_DATA
    assert event["subject"] == "req_fal_e2e"
    output = event.get_data()["outputs"][0]
    assert output["url"] == "https://v3.fal.media/files/e2e.png"
    assert output["content_type"] == "image/png"
    # The SDK decodes with the standard library, which keeps integers exact.
    assert event.get_data()["payload"]["payload"]["seed"] == seed


def github_signed(body: bytes, delivery: str) -> dict[str, str]:
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "x-hub-signature-256": signature,
        "x-github-event": "issues",
        "x-github-delivery": delivery,
        "content-type": "application/json",
    }


def test_a_github_delivery_replayed_with_a_fresh_delivery_id_comes_out_once(stack: Stack) -> None:
    body = json.dumps(
        {"action": "opened", "issue": {"number": 7}, "repository": {"full_name": "hookgate/r"}}
    ).encode()
    before = stack.worker_metric("hookgate_worker_duplicates_dropped_total", source="github")
    # The captured delivery, then a replay of it under a delivery id GitHub never sent.
    for delivery in ("d6a1e2f0-0000-4000-8000-000000000001", "replayed-with-a-fresh-id"):
        response = stack.post_signed("github", body, github_signed(body, delivery))
        assert response.status_code == 200, response.text

    wait_until(
        lambda: (
            stack.worker_metric("hookgate_worker_duplicates_dropped_total", source="github")
            >= before + 1
        ),
        90,
        "the worker to drop the replay",
    )
    canonical_event(stack, "d6a1e2f0-0000-4000-8000-000000000001")
    ids = canonical_ids(read_canonical(stack))
    assert "replayed-with-a-fresh-id" not in ids


def test_a_svix_delivery_with_an_unsigned_webhook_timestamp_comes_out_at_its_signed_time(
    stack: Stack,
) -> None:
    body = json.dumps({"type": "user.created", "data": {"id": "user_e2e_1"}})
    signed_at = int(time.time())
    signature = svix.webhooks.Webhook(SVIX_SECRET).sign(
        "msg_svix_e2e_1", datetime.fromtimestamp(signed_at, UTC), body
    )
    headers = {
        "svix-id": "msg_svix_e2e_1",
        "svix-timestamp": str(signed_at),
        "svix-signature": signature,
        # The other header family, unsigned: 2100-01-01.
        "webhook-timestamp": "4102444800",
        "content-type": "application/json",
    }
    response = stack.post_signed("svix", body.encode(), headers)
    assert response.status_code == 200, response.text

    event = canonical_event(stack, "msg_svix_e2e_1")
    assert event["time"] == rfc3339(signed_at)
