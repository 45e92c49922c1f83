"""The worker's error hierarchy. Every class ends a record in the dead-letter topic, never the
stream; ``reason`` is the stable code written to the ``hookgate-dlq-reason`` header."""

from __future__ import annotations


class StreamError(Exception):
    """Base: a raw record the worker cannot turn into a canonical event."""

    reason = "error"


class UndecodableRecord(StreamError):
    """The raw record does not follow the raw-delivery format (headers missing, bad version)."""

    reason = "undecodable_record"


class UnknownProvider(StreamError):
    """No normalizer exists for the record's ``hookgate-provider``."""

    reason = "unknown_provider"


class NormalizationFailed(StreamError):
    """The body is not the provider's documented shape (not JSON, a required field missing)."""

    reason = "normalization_failed"


class RecordRefused(StreamError):
    """The broker refused the canonical event for good (e.g. larger than the topic accepts):
    retrying cannot help, so the raw record is dead-lettered instead of stopping the worker."""

    reason = "record_refused"
