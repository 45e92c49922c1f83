"""Canonical job events: one vocabulary for every generative-media provider (fal, Replicate,
OpenAI, Luma), so a consumer follows a job without knowing who ran it.

``ce_type`` is ``job.{status}`` in the installation's namespace (``dev.hookgate.job.succeeded``
by default; no provider in it: the provider is ``data.provider`` and the source); ``ce_subject``
and the record key are the provider's job id, so every event of one job is ordered on one
partition; ``ce_dataschema`` names the data's published schema
(:data:`schemas.published.JOB_EVENT_DATA`).

| ``ce_type`` | meaning |
|---|---|
| ``job.started`` | accepted or queued, not yet running |
| ``job.progressed`` | running; may carry partial outputs |
| ``job.succeeded`` | finished with a result (terminal) |
| ``job.failed`` | finished without the requested result: error, timeout, expiry, truncation |
| ``job.canceled`` | stopped on request or by a deadline before finishing (terminal) |

Each provider module maps every status it documents onto this table; a status missing from its
table fails normalization (the record goes to the dead-letter topic) instead of being guessed.

``data`` (``schemas/json/job-event-data.v1.schema.json``)::

    {"provider": "fal", "job_id": "...", "status": "succeeded", "provider_status": "OK",
     "outputs": [{"url": "...", "content_type"?: "image/png", "size"?: 1824075,
                  "width"?: 1024, "height"?: 1024}],
     "error": {"message": "...", "code"?: "..."} | null,
     "model"?: "...",
     "timings": {"created_at"?: RFC 3339, "started_at"?: ..., "completed_at"?: ...,
                 "{name}"?: seconds},
     "payload": {the provider's body, unchanged}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from schemas.canonical import CanonicalEvent
from schemas.published import JOB_EVENT_DATA
from schemas.raw import RawDelivery
from streams.errors import NormalizationFailed
from streams.normalizers.common import canonical_event, entity_id

STATUSES: Final = ("started", "progressed", "succeeded", "failed", "canceled")
#: The ``ce_type`` vocabulary of job events (before the installation's prefix).
TYPES: Final = tuple(f"job.{status}" for status in STATUSES)
#: Keys of ``timings`` that hold a moment (RFC 3339); every other key is a duration in seconds.
MOMENTS: Final = ("created_at", "started_at", "completed_at")


@dataclass(frozen=True, slots=True)
class Job:
    """What a provider module reads out of its body; :func:`job_event` builds the event."""

    provider: str
    job_id: str
    #: One of :data:`STATUSES`.
    status: str
    provider_status: str
    #: The provider's full body, unchanged.
    payload: dict[str, Any]
    #: The provider's time for this event (RFC 3339); None: signed time, else receive time.
    time: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None
    model: str | None = None
    timings: dict[str, Any] = field(default_factory=dict)


def job_event(raw: RawDelivery, job: Job) -> CanonicalEvent:
    if job.status not in STATUSES:
        raise ValueError(f"{job.status!r} is not a job status")  # a bug in a provider table
    data: dict[str, Any] = {
        "provider": job.provider,
        "job_id": job.job_id,
        "status": job.status,
        "provider_status": job.provider_status,
        "outputs": job.outputs,
        "error": job.error,
    }
    if job.model is not None:
        data["model"] = job.model
    data["timings"] = job.timings
    data["payload"] = job.payload
    return canonical_event(
        raw,
        type=f"job.{job.status}",
        data=data,
        subject=job.job_id,
        time=job.time,
        dataschema=JOB_EVENT_DATA,
    )


def job_id(value: Any, where: str) -> str:
    found = entity_id(value)
    if found is None:
        raise NormalizationFailed(f"job id {where} is missing or not a string")
    return found


def status(table: Mapping[str, str], value: Any, where: str) -> tuple[str, str]:
    """(canonical status, provider status) of a provider status; an unknown one fails, never a
    guess."""
    if not isinstance(value, str) or value not in table:
        known = ", ".join(sorted(table))
        raise NormalizationFailed(f"unknown {where} {str(value)[:80]!r} (known: {known})")
    return table[value], value


def output(
    url: Any,
    *,
    content_type: Any = None,
    size: Any = None,
    width: Any = None,
    height: Any = None,
) -> dict[str, Any] | None:
    """One output file; None unless ``url`` is a non-empty string. Optional facts that are not
    of the documented type (a string, a non-negative integer) are left out."""
    if not isinstance(url, str) or not url:
        return None
    found: dict[str, Any] = {"url": url}
    if isinstance(content_type, str) and content_type:
        found["content_type"] = content_type
    for name, value in (("size", size), ("width", width), ("height", height)):
        if _count(value):
            found[name] = value
    return found


def error(message: Any, code: Any = None) -> dict[str, str] | None:
    """The error object; None unless ``message`` is a non-empty string."""
    if not isinstance(message, str) or not message:
        return None
    found = {"message": message}
    if isinstance(code, str) and code:
        found["code"] = code
    return found


def seconds(value: Any) -> bool:
    """Whether ``value`` can be a duration in ``timings``: a non-negative number."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
