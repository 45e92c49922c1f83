"""Spans from the real processes: `hookgate ingress` and `hookgate worker` with
``tracing.exporter: console`` on the real broker, one delivery followed from the HTTP request to
the canonical topic by the spans each process printed (one JSON line per span on stdout, which
the test reads from the process's log)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import Stack, canonical_ids, header_pairs, read_canonical, serving, wait_until

pytestmark = pytest.mark.kafka

SENDER_TRACE_ID = secrets.token_hex(16)
SENDER_SPAN_ID = secrets.token_hex(8)
TRACEPARENT = f"00-{SENDER_TRACE_ID}-{SENDER_SPAN_ID}-01"
BODY = b'{"type": "invoice.paid", "timestamp": "2026-11-27T10:00:00Z", "data": {"id": "inv_t"}}'


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:

    stack = Stack(
        kafka_bootstrap, tmp_path_factory.mktemp("spans"), tracing={"exporter": "console"}
    )
    with serving(stack, "ingress", "worker"):
        response = stack.post(
            BODY, event_id="msg_spans", extra_headers={"traceparent": TRACEPARENT}
        )
        assert response.status_code == 200, response.text
        wait_until(
            lambda: "msg_spans" in canonical_ids(read_canonical(stack)),
            90,
            "the traced event on the canonical topic",
        )
        yield stack


def span(stack: Stack, role: str, kind: str) -> dict[str, Any]:
    """The span of ``kind`` in the delivery's trace that the ``role`` process printed."""

    def printed() -> dict[str, Any] | None:
        for line in stack.log(role).splitlines():
            if line.startswith('{"name"') and SENDER_TRACE_ID in line:
                document: dict[str, Any] = json.loads(line)
                if document["kind"] == kind:
                    return document
        return None

    # Spans are exported in batches, every few seconds.
    found: dict[str, Any] = wait_until(printed, 60, f"the {role}'s {kind} span")
    return found


def test_the_ingress_span_continues_the_senders_trace(stack: Stack) -> None:
    ingress = span(stack, "ingress", "SpanKind.SERVER")
    assert ingress["context"]["trace_id"] == f"0x{SENDER_TRACE_ID}"
    assert ingress["parent_id"] == f"0x{SENDER_SPAN_ID}"
    assert ingress["resource"]["attributes"]["service.name"] == "hookgate-ingress"


def test_the_worker_span_is_a_child_of_the_ingress_span(stack: Stack) -> None:
    ingress = span(stack, "ingress", "SpanKind.SERVER")
    worker = span(stack, "worker", "SpanKind.CONSUMER")
    assert worker["context"]["trace_id"] == f"0x{SENDER_TRACE_ID}"
    assert worker["parent_id"] == ingress["context"]["span_id"]


def test_the_canonical_event_is_a_child_of_the_worker_span(stack: Stack) -> None:
    worker = span(stack, "worker", "SpanKind.CONSUMER")
    (event,) = [
        dict(header_pairs(m)) for m in read_canonical(stack) if canonical_ids([m]) == ["msg_spans"]
    ]
    assert event["ce_traceparent"].decode() == (
        f"00-{SENDER_TRACE_ID}-{worker['context']['span_id'].removeprefix('0x')}-01"
    )
