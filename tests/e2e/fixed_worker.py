"""``hookgate worker`` after a normalizer fix: Standard Webhooks bodies that are a JSON array,
which the shipped normalizer dead-letters (the envelope must be an object), become events.

Run as ``python -m tests.e2e.fixed_worker worker --config F``, like ``hookgate``.
"""

from __future__ import annotations

import sys

from schemas import jsoncodec
from schemas.canonical import CanonicalEvent, source_uri
from schemas.raw import RawDelivery
from streams import normalizers
from streams.errors import NormalizationFailed
from streams.normalizers import standard_webhooks


def normalize(raw: RawDelivery) -> CanonicalEvent:
    try:
        return standard_webhooks.normalize(raw)
    except NormalizationFailed:
        data = jsoncodec.loads(raw.body)
        if not isinstance(data, list):
            raise
        return CanonicalEvent(
            id=raw.event_id,
            source=source_uri(raw.source),
            type="standard-webhooks.batch",
            data=data,
            partitionkey=raw.event_id,
        )


normalizers.NORMALIZERS = {**normalizers.NORMALIZERS, "standard-webhooks": normalize}

if __name__ == "__main__":
    from hookgate.cli import main

    sys.exit(main(sys.argv[1:]))
