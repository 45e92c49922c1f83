"""Luma Dream Machine callbacks -> canonical job events (:mod:`streams.normalizers.jobs`).

Luma POSTs the generation object to the ``callback_url`` on each state change: ``{"id", "state",
"failure_reason", "created_at", "assets": {"video", "image", "progress_video"}, "model",
"generation_type", "request", ...}``. The states are those of Luma's API reference and SDK
(``Generation.state``); PROVIDERS.md had confirmed only ``completed`` and ``failed``.

| ``state`` | ``ce_type`` |
|---|---|
| ``queued`` | ``job.started`` |
| ``dreaming`` | ``job.progressed`` |
| ``completed`` | ``job.succeeded`` |
| ``failed`` | ``job.failed`` |

| canonical | from |
|---|---|
| ``subject``, ``job_id`` | ``id`` |
| ``outputs`` | ``assets.video``, ``assets.image`` |
| ``error`` | ``failure_reason``; ``code``: ``failure_code`` when present |
| ``model`` | ``model`` |
| ``timings`` | ``created_at`` |
| ``time`` | ``created_at`` for ``queued``; else receive time |

- ``assets.progress_video`` is a preview, not a result: it stays in ``payload`` only.
- Only a ``queued`` event happens at ``created_at``; for later states the body holds no time of
  the change, and Luma signs nothing, so the receive time is the closest to the event.
"""

from __future__ import annotations

from schemas.canonical import CanonicalEvent
from schemas.raw import RawDelivery
from streams.normalizers import jobs
from streams.normalizers.common import at, iso_time, json_object

STATUS = {
    "queued": "started",
    "dreaming": "progressed",
    "completed": "succeeded",
    "failed": "failed",
}
_ASSETS = ("video", "image")


def normalize(raw: RawDelivery) -> CanonicalEvent:
    body = json_object(raw.body)
    status, provider_status = jobs.status(STATUS, body.get("state"), "Luma state")
    created_at = iso_time(body.get("created_at"))
    model = body.get("model")
    outputs = [jobs.output(at(body, "assets", name)) for name in _ASSETS]
    return jobs.job_event(
        raw,
        jobs.Job(
            provider="luma",
            job_id=jobs.job_id(body.get("id"), "id"),
            status=status,
            provider_status=provider_status,
            payload=body,
            time=created_at if status == "started" else None,
            outputs=[file for file in outputs if file is not None],
            error=jobs.error(body.get("failure_reason"), body.get("failure_code")),
            model=model if isinstance(model, str) and model else None,
            timings={"created_at": created_at} if created_at is not None else {},
        ),
    )
