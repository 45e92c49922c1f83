"""verify-raw's decision and the dead-letter bookkeeping, without Kafka.

Signatures come from the ``standardwebhooks`` library, an independent implementation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from hookgate.dlq import Letter, _raw_partition, summary
from hookgate.verify_raw import Verdict, VerifyRawError, check, parse_coordinates
from schemas import deadletter
from schemas.canonical import RawOrigin
from schemas.config import Settings, parse
from schemas.raw import RawDelivery

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROTATED = "whsec_dGhlIG5ldyBzZWNyZXQgYWZ0ZXIgdGhlIHJvdGF0aW9uIQ=="
#: A year ago: verify-raw checks the window at the receive time, not today.
RECEIVED_S = 1_764_000_000
BODY = b'{"type":"invoice.paid","data":{"id":"inv_1"}}'


def settings(*sources: dict[str, Any]) -> Settings:
    return parse({"sources": list(sources)}, env={})


def demo(secrets: list[str]) -> dict[str, Any]:
    return {"name": "demo", "provider": "standard-webhooks", "secrets": secrets}


def delivery(event_id: str = "msg_1", received_s: int = RECEIVED_S) -> RawDelivery:
    signature = Webhook(SECRET).sign(
        event_id, datetime.fromtimestamp(received_s, tz=UTC), BODY.decode()
    )
    return RawDelivery(
        source="demo",
        provider="standard-webhooks",
        scheme="standard-webhooks",
        event_id=event_id,
        received_at_ms=received_s * 1000,
        content_type="application/json",
        body=BODY,
        sender_headers=(
            ("webhook-id", event_id),
            ("webhook-timestamp", str(received_s)),
            ("webhook-signature", signature),
        ),
    )


def test_a_genuine_record_verifies_long_after_it_was_received() -> None:
    assert check(settings(demo([SECRET])), delivery()).verdict is Verdict.VERIFIES


def test_it_still_verifies_while_the_old_secret_is_configured_next_to_the_new() -> None:
    outcome = check(settings(demo([ROTATED, SECRET])), delivery())
    assert (outcome.verdict, "#1" in outcome.detail) == (Verdict.VERIFIES, True)


def test_it_fails_once_the_secret_was_rotated_away() -> None:
    outcome = check(settings(demo([ROTATED])), delivery())
    assert outcome.verdict is Verdict.FAILS
    assert outcome.detail.startswith("signature_mismatch")


def test_a_changed_body_fails() -> None:
    tampered = RawDelivery(**{**_fields(delivery()), "body": BODY.replace(b"inv_1", b"inv_2")})
    assert check(settings(demo([SECRET])), tampered).verdict is Verdict.FAILS


def test_a_source_no_longer_configured_fails_and_says_so() -> None:
    outcome = check(settings({**demo([SECRET]), "name": "other"}), delivery())
    assert (outcome.verdict, "no longer configured" in outcome.detail) == (Verdict.FAILS, True)


def test_a_url_token_source_cannot_be_checked_from_kafka() -> None:
    luma = {"name": "demo", "provider": "luma", "secrets": ["luma-callback-token-0123456789"]}
    record = RawDelivery(**{**_fields(delivery()), "provider": "luma", "scheme": "url-token"})
    assert check(settings(luma), record).verdict is Verdict.CANNOT_CHECK


GITHUB_SECRET = "github secret"


def github_record(dedup_id: str) -> RawDelivery:
    """A GitHub delivery as the ingress wrote it (format 2), signed with ``hmac`` as GitHub does."""
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    return RawDelivery(
        source="gh",
        provider="github",
        scheme="body-hmac",
        event_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
        received_at_ms=RECEIVED_S * 1000,
        content_type="application/json",
        body=BODY,
        sender_headers=(
            ("x-hub-signature-256", signature),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("x-github-event", "issues"),
        ),
        dedup_id=dedup_id,
    )


GITHUB = {"name": "gh", "provider": "github", "secrets": [GITHUB_SECRET]}


def test_a_record_keyed_by_the_digest_of_what_was_signed_verifies() -> None:
    dedup_id = "sha256:" + hashlib.sha256(b"issues\n" + BODY).hexdigest()
    assert check(settings(GITHUB), github_record(dedup_id)).verdict is Verdict.VERIFIES


def test_a_record_keyed_by_another_dedup_id_fails_and_says_so() -> None:
    outcome = check(settings(GITHUB), github_record("sha256:" + "0" * 64))
    assert outcome.verdict is Verdict.FAILS
    assert "dedup id" in outcome.detail


def test_coordinates_parse_as_topic_partition_offset() -> None:
    assert parse_coordinates("webhooks.raw:2:1041") == RawOrigin("webhooks.raw", 2, 1041)


@pytest.mark.parametrize("text", ["webhooks.raw:2", "webhooks.raw:x:1", ":1:2", "a:1:-2"])
def test_bad_coordinates_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(VerifyRawError, match="TOPIC:PARTITION:OFFSET"):
        parse_coordinates(text)


def _fields(record: RawDelivery) -> dict[str, Any]:
    return {field.name: getattr(record, field.name) for field in dataclasses.fields(RawDelivery)}


# --- dead letters -------------------------------------------------------------------------------


def letter(origin: str = "webhooks.raw:2:7", redriven_to: str | None = None) -> Letter:
    raw_headers = delivery().headers()
    return Letter(
        partition=0,
        offset=3,
        key=b"demo:msg_1",
        value=BODY,
        headers=(
            *raw_headers,
            (deadletter.Header.REASON, b"normalization_failed"),
            (deadletter.Header.ERROR, b"boom"),
            (deadletter.Header.TOPIC, b"webhooks.raw"),
        ),
        reason="normalization_failed",
        error="boom",
        at_ms=RECEIVED_S * 1000,
        origin=origin,
        redriven_to=redriven_to,
    )


def test_a_redriven_letter_gets_back_exactly_the_raw_records_headers() -> None:
    assert letter().raw_headers() == delivery().headers()


def test_a_letter_goes_back_to_the_raw_partition_it_came_from() -> None:
    assert _raw_partition(letter("webhooks.raw:2:7"), "webhooks.raw", 3) == 2


def test_a_letter_from_a_partition_that_no_longer_exists_is_placed_by_its_key() -> None:
    assert _raw_partition(letter("webhooks.raw:5:7"), "webhooks.raw", 3) is None


def test_a_letter_from_another_topic_is_placed_by_its_key() -> None:
    assert _raw_partition(letter("old.raw:2:7"), "webhooks.raw", 3) is None


def test_the_summary_counts_by_reason_and_by_source() -> None:
    lines = summary([letter(), letter()])
    assert lines[:5] == [
        "2 dead letter(s)",
        "by reason:",
        "       2  normalization_failed",
        "by source:",
        "       2  demo",
    ]


def test_the_summary_says_where_a_letter_was_redriven() -> None:
    assert "[redriven -> webhooks.raw:2:9]" in summary([letter(redriven_to="webhooks.raw:2:9")])[6]
