"""The raw record the ingress writes for each provider's bundled sample (``hookgate/samples/``).

Built as the ingress builds it, in process and without Kafka: the sample signed as ``hookgate
send`` signs it, verified by the source's own verifier, the key and headers from
:class:`schemas.raw.SourceRecords` with the sender headers the verification kept, at a fixed time
and with a fixed trace context, so the same provider always gives the same bytes. For the
stage's whole-output fixtures (``test_stage_outputs.py``) and ``bench/stage.py``.
"""

from __future__ import annotations

from hookgate.send import sample_payload
from ingress.providers import PROVIDERS, configure_sources
from schemas import config
from schemas.raw import SourceRecords
from schemas.tracecontext import TraceContext
from tests.support import PROVIDER_SIGNING_KEYS, PROVIDER_SOURCES

#: Every provider the ingress knows, in name order.
NAMES = tuple(sorted(PROVIDERS))
#: When the samples are signed and received (2026-11-18T11:06:40Z).
NOW = 1_795_000_000
TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def sample_record(
    provider: str, *, event_id: str = "evt_sample", trace: TraceContext | None = TRACE
) -> Record:
    """(key, value, headers) of the raw record for ``provider``'s sample, from source
    ``p-{provider}``."""
    name = f"p-{provider}"
    settings = config.parse(
        {"sources": [{"name": name, "provider": provider, **PROVIDER_SOURCES[provider]}]}, env={}
    )
    source = configure_sources(settings)[name]
    adapter = PROVIDERS[provider]
    body = sample_payload(provider)
    url = f"http://127.0.0.1:8000/webhooks/{name}"
    if adapter.sign_with_key is not None:
        key = PROVIDER_SIGNING_KEYS[provider]
        outgoing = adapter.sign_with_key(source.settings, body, event_id, NOW, url, key)
    else:
        assert adapter.sign is not None, provider
        outgoing = adapter.sign(source.settings, body, event_id, NOW, url)
    headers = {k.lower(): v for k, v in outgoing.headers.items()}
    verified = source.verifier.verify(headers, outgoing.body, float(NOW), outgoing.url)
    kept = verified.kept_headers
    if kept is None:
        kept = source.verifier.kept_headers
    records = SourceRecords(name, adapter.name, adapter.scheme)
    record_headers = records.headers(
        verified.event_id,
        NOW * 1000 + 250,
        headers.get("content-type", "application/octet-stream"),
        [(h, headers[h]) for h in kept if h in headers],
        signed_at_ms=None if verified.timestamp is None else verified.timestamp * 1000,
        key_index=verified.key_index,
        dedup_id=verified.dedup_id,
        trace=trace,
    )
    return records.key(verified.event_id, verified.dedup_id), outgoing.body, record_headers
