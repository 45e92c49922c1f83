"""The stage's whole output, byte for byte, for a fixed set of raw records: the fixture
``stage_outputs.json`` and what writes it.

Each case is a raw record (each provider's sample as the ingress writes it, the same with its
trace context, times or headers changed, and records the decoder or a normalizer refuses), the
de-duplication entry the stage finds for it, and what :meth:`streams.pipeline.Stage.handle`
returned when the fixture was written: outcome, reason, source, the entry to store and the
output's topic, key, value and every header in order (a dead letter's ``hookgate-dlq-at``, the
wall clock, as ``<ms>``). ``test_stage_outputs.py`` holds the stage to it, so a change meant to
leave the output alone (one for speed) shows every byte it moved. Rewrite it only for a change
of the output that is meant, and say so in the commit:

    .venv/bin/python -m tests.streams.stage_outputs --write
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import raw as raw_format
from schemas.deadletter import Header as DLQ
from streams.pipeline import RawRecord, Result, Stage
from tests.streams.records import BODY, delivery
from tests.streams.sample_records import NAMES, NOW, TRACE, sample_record

FIXTURE = Path(__file__).with_name("stage_outputs.json")
RAW_TOPIC = "t.raw"
CANONICAL_TOPIC = "t.canonical"
DLQ_TOPIC = "t.dlq"
HORIZON_S = 3600
TYPE_PREFIX = "com.example.hooks."
#: ``hookgate replay --to`` left these offsets of partition 7 out of the replay.
REPLAY_FENCE = {7: range(100, 200)}
RECEIVED_MS = NOW * 1000 + 250


def stage(seen: object) -> Stage:
    """The stage every case runs in, finding ``seen`` as the record's de-duplication entry."""
    return Stage(
        lookup=lambda key: seen,
        canonical_topic=CANONICAL_TOPIC,
        dead_letter_topic=DLQ_TOPIC,
        dedup_horizon_s=HORIZON_S,
        type_prefix=TYPE_PREFIX,
        replay_fence=REPLAY_FENCE,
    )


@dataclass(frozen=True)
class Case:
    name: str
    record: RawRecord
    #: What the de-duplication table holds for the record's key (JSON, as stored).
    seen: object = None


# --- the cases ---------------------------------------------------------------------------------

Headers = list[tuple[str, bytes]]


def _record(
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    *,
    partition: int = 0,
    offset: int = 10,
) -> RawRecord:
    return RawRecord(RAW_TOPIC, partition, offset, key, value, headers)


def _set(headers: Headers, name: str, value: bytes | None) -> Headers:
    """``headers`` with ``name``'s value replaced (appended when absent; None: removed)."""
    out = [(k, v) for k, v in headers if k != name]
    if value is None:
        return out
    if len(out) == len(headers):
        return [*out, (name, value)]
    return [(k, value if k == name else v) for k, v in headers]


def cases() -> Iterator[Case]:
    for provider in NAMES:
        key, value, headers = sample_record(provider)
        yield Case(f"{provider}: its sample", _record(key, value, headers))
    for provider in ("standard-webhooks", "fal"):
        key, value, headers = sample_record(provider)
        yield Case(f"{provider}: read again", _record(key, value, headers), [0, 10, RECEIVED_MS])
    yield from _dedup_cases()
    yield from _trace_cases()
    yield from _time_and_body_cases()
    yield from _refused_records()
    for provider in NAMES:
        key, _, headers = sample_record(provider)
        yield Case(f"{provider}: a body that is not JSON", _record(key, b"not json", headers))


def _dedup_cases() -> Iterator[Case]:
    key, value, headers = sample_record("standard-webhooks")
    yield Case("a retry within the horizon", _record(key, value, headers), [1, 5, RECEIVED_MS])
    yield Case(
        "a retry beyond the horizon",
        _record(key, value, headers),
        [1, 5, RECEIVED_MS - HORIZON_S * 1000 - 1],
    )
    yield Case("unreadable state", _record(key, value, headers), "garbage")
    fenced = _record(key, value, headers, partition=7, offset=150)
    yield Case("read again past the replay's end", fenced, [7, 150, RECEIVED_MS])
    after = _record(key, value, headers, partition=7, offset=200)
    yield Case("read again after the replay's fence", after, [7, 200, RECEIVED_MS])


def _trace_cases() -> Iterator[Case]:
    key, value, headers = sample_record("standard-webhooks", trace=None)
    parent = TRACE.traceparent.encode()
    variants: dict[str, Headers] = {
        "no trace context": headers,
        "trace context with state": [
            *headers,
            ("traceparent", parent),
            ("tracestate", b"rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"),
        ],
        "an invalid tracestate": [*headers, ("traceparent", parent), ("tracestate", b"a=,=b")],
        "an invalid traceparent": [*headers, ("traceparent", b"00-xyz"), ("tracestate", b"a=b")],
        "a traceparent of a later version": [
            *headers,
            ("traceparent", b"01" + parent[2:] + b"-more"),
        ],
        "a traceparent with spaces around it": [*headers, ("traceparent", b" \t" + parent + b" ")],
        "an all-zero trace id": [*headers, ("traceparent", b"00-" + b"0" * 32 + parent[35:])],
        "a traceparent that is not UTF-8": [*headers, ("traceparent", b"\xff" + parent[1:])],
        "a tracestate that is not UTF-8": [
            *headers,
            ("traceparent", parent),
            ("tracestate", b"a=\xff"),
        ],
        "two traceparents, the second invalid": [
            *headers,
            ("traceparent", parent),
            ("traceparent", b"junk"),
        ],
        "two traceparents, the second not UTF-8": [
            *headers,
            ("traceparent", parent),
            ("traceparent", b"\xff"),
        ],
    }
    for name, changed in variants.items():
        yield Case(name, _record(key, value, changed))


def _time_and_body_cases() -> Iterator[Case]:
    bodies = {
        "no time in the body": b'{"type":"invoice.paid","data":{"id":"inv_1"}}',
        "an ISO time with an offset": (
            b'{"type":"a.b","timestamp":"2026-11-27T12:00:00.123456+02:00","data":{"id":7}}'
        ),
        "an ISO time without a zone": (
            b'{"type":"a.b","timestamp":"2026-11-27T10:00:00","data":{"id":"x"}}'
        ),
        "a time that is not one": b'{"type":"a.b","timestamp":"yesterday","data":{"id":"x"}}',
        "an integer beyond 64 bits": (
            b'{"type":"a.b","data":{"id":"x","seed":123456789012345678901234567890}}'
        ),
        "a float beyond 2^63": b'{"type":"a.b","data":{"id":"x","big":1e30,"small":-0.5}}',
        "unicode text": '{"type":"a.b","data":{"id":"ü-1","text":"ß ☃ 😀"}}'.encode(),
        "a lone surrogate in the data": b'{"type":"a.b","data":{"id":"m","text":"cut \\ud83d"}}',
        "a lone surrogate in the subject": b'{"type":"a.b","data":{"id":"m_\\ud83d"}}',
        "no data": b'{"type":"a.b","id":"top"}',
        "a type that is not a plain name": b'{"type":"a b","data":{}}',
        "no type": b'{"data":{"id":"x"}}',
        "a JSON array": b"[1, 2]",
        "JSON null": b"null",
        "NaN": b'{"type":"a.b","data":{"x":NaN}}',
        "a number that overflows": b'{"type":"a.b","data":{"x":1e400}}',
        "not UTF-8": b'{"type":"a.b","data":{"x":"\xff"}}',
        "an empty body": b"",
    }
    for name, body in bodies.items():
        raw = delivery(body, at_ms=RECEIVED_MS)
        yield Case(f"standard-webhooks: {name}", _record(raw.key, raw.body, raw.headers()))
    signed = delivery(bodies["no time in the body"], at_ms=RECEIVED_MS)
    signed_headers = _set(signed.headers(), raw_format.Header.SIGNED_AT, b"1795000000123")
    yield Case("the signed time", _record(signed.key, signed.body, signed_headers))
    for at_ms in (0, raw_format.LATEST_MS):
        raw = delivery(bodies["no time in the body"], at_ms=at_ms)
        yield Case(f"received at {at_ms}", _record(raw.key, raw.body, raw.headers()))


def _refused_records() -> Iterator[Case]:
    # The tests' small body: a refused record's dead letter carries it whole.
    key, _, headers = sample_record("standard-webhooks")
    value = BODY
    h = raw_format.Header
    changed: dict[str, Headers] = {
        "an unknown format": _set(headers, h.FORMAT, b"9"),
        "no format": _set(headers, h.FORMAT, None),
        "format 2 without a dedup id": _set(headers, h.FORMAT, b"2"),
        "a dedup id on format 1": _set(headers, h.DEDUP_ID, b"sha256:abc"),
        "format 2 whose dedup id is its event id": _set(
            _set(headers, h.FORMAT, b"2"), h.DEDUP_ID, b"evt_sample"
        ),
        "no source": _set(headers, h.SOURCE, None),
        "an empty source": _set(headers, h.SOURCE, b""),
        "no provider": _set(headers, h.PROVIDER, None),
        "no event id": _set(headers, h.EVENT_ID, None),
        "no receive time": _set(headers, h.RECEIVED_AT, None),
        "no scheme and no content type": _set(_set(headers, h.SCHEME, None), h.CONTENT_TYPE, None),
        "a receive time with a sign": _set(headers, h.RECEIVED_AT, b"+5"),
        "a receive time with a space": _set(headers, h.RECEIVED_AT, b" 5"),
        "a receive time with an underscore": _set(headers, h.RECEIVED_AT, b"1_0"),
        "a receive time in other digits": _set(headers, h.RECEIVED_AT, "١٢".encode()),
        "a receive time of 19 digits": _set(headers, h.RECEIVED_AT, b"1" * 19),
        "a receive time after the year 9999": _set(
            headers, h.RECEIVED_AT, b"%d" % (raw_format.LATEST_MS + 1)
        ),
        "a signed time that is not a number": _set(headers, h.SIGNED_AT, b"soon"),
        "a key index that is not a number": _set(headers, h.KEY_INDEX, b"-1"),
        "a bad signed time and key index": _set(
            _set(headers, h.SIGNED_AT, b"x"), h.KEY_INDEX, b"y"
        ),
        "an empty signed time": _set(headers, h.SIGNED_AT, b""),
        "a header that is not UTF-8": _set(headers, h.SOURCE, b"\xff"),
        "a sender header that is not UTF-8": [*headers, ("sender-x-extra", b"\xc3")],
        "an unknown header that is not UTF-8, then an unknown format": [
            ("x-other", b"\xff"),
            *_set(headers, h.FORMAT, b"9"),
        ],
        # Kafka headers may have no value (confluent-kafka gives None).
        "a header whose value is None": [*_set(headers, h.SCHEME, None), (h.SCHEME, None)],  # type: ignore[list-item]
        "a header twice, the last one wins": [*headers, (h.PROVIDER, b"acme")],
        "a sender header twice": [*headers, ("sender-webhook-id", b"again")],
        "unknown headers": [("x-a", b"1"), *headers, ("X-Upper", b"2")],
        "a key that does not match": headers,
        "a provider no normalizer knows": _set(headers, h.PROVIDER, b"acme"),
        "a provider name of 1500 characters": _set(headers, h.PROVIDER, b"a" * 1500),
        "no headers": [],
    }
    for name, record_headers in changed.items():
        record_key = b"p-standard-webhooks:other" if name == "a key that does not match" else key
        yield Case(name, _record(record_key, value, record_headers))
    yield Case("no key", _record(None, value, headers))
    yield Case("a null value", _record(key, None, headers))
    yield Case("no key and a null value", _record(None, None, headers))
    fal_key, _, fal_headers = sample_record("fal")
    yield Case(
        "fal: an unknown status",
        _record(fal_key, b'{"request_id":"r1","status":"MAYBE","payload":{}}', fal_headers),
    )


# --- the fixture's form ------------------------------------------------------------------------


def _bytes(value: bytes | None) -> Any:
    """Text when it is UTF-8 (most is), else its hex; None stays None."""
    if value is None:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return {"hex": value.hex()}


def _from_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return bytes.fromhex(value["hex"])
    return str(value).encode()


def _headers(headers: Any) -> list[list[Any]]:
    return [[name, _bytes(value)] for name, value in headers]


def record_doc(record: RawRecord) -> dict[str, Any]:
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": _bytes(record.key),
        "value": _bytes(record.value),
        "headers": _headers(record.headers),
    }


def record_of(doc: dict[str, Any]) -> RawRecord:
    return RawRecord(
        doc["topic"],
        doc["partition"],
        doc["offset"],
        _from_bytes(doc["key"]),
        _from_bytes(doc["value"]),
        [(name, _from_bytes(value)) for name, value in doc["headers"]],  # type: ignore[misc]
    )


def result_doc(result: Result) -> dict[str, Any]:
    """``result`` as the fixture holds it; the wall clock of a dead letter as ``<ms>``."""
    doc: dict[str, Any] = {
        "outcome": result.outcome,
        "reason": result.reason,
        "source": result.source,
        "state": None,
        "output": None,
    }
    if result.state is not None:
        key, entry = result.state
        doc["state"] = [_bytes(key), entry.to_json()]
    if result.output is not None:
        headers = _headers(result.output.headers)
        for pair in headers:
            if pair[0] == DLQ.AT and result.output.dead_letter:
                assert str(pair[1]).isdigit(), pair
                pair[1] = "<ms>"
        doc["output"] = {
            "topic": result.output.topic,
            "key": _bytes(result.output.key),
            "value": _bytes(result.output.value),
            "headers": headers,
            "dead_letter": result.output.dead_letter,
        }
    return doc


def run(record: RawRecord, seen: object) -> dict[str, Any]:
    return result_doc(stage(seen).handle(record))


def write() -> int:
    docs = []
    for case in cases():
        docs.append(
            {
                "name": case.name,
                "record": record_doc(case.record),
                "seen": case.seen,
                "result": run(case.record, case.seen),
            }
        )
    names = [doc["name"] for doc in docs]
    assert len(names) == len(set(names)), "case names must be unique"
    text = json.dumps({"cases": docs}, indent=1, ensure_ascii=False) + "\n"
    FIXTURE.write_text(text, encoding="utf-8")
    print(f"wrote {len(docs)} cases to {FIXTURE}")
    return 0


def load() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help=f"(re)write {FIXTURE.name}")
    args = parser.parse_args(argv)
    if not args.write:
        parser.print_help()
        return 2
    return write()


if __name__ == "__main__":
    sys.exit(main())
