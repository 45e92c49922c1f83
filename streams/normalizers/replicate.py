"""Replicate prediction webhooks -> canonical job events (:mod:`streams.normalizers.jobs`).

The body is the prediction: ``{"id", "model", "version", "status", "input", "output", "error",
"logs", "metrics", "created_at", "started_at", "completed_at", "urls", ...}``, sent on the
webhook's ``start``, ``output``, ``logs`` and ``completed`` events.

| ``status`` | ``ce_type`` | Replicate's meaning |
|---|---|---|
| ``starting`` | ``job.started`` | created; waiting for or booting a worker |
| ``processing`` | ``job.progressed`` | ``predict()`` runs (output and log updates) |
| ``succeeded`` | ``job.succeeded`` | |
| ``failed`` | ``job.failed`` | an error during processing |
| ``canceled`` | ``job.canceled`` | canceled, or the deadline passed while running |
| ``aborted`` | ``job.canceled`` | the deadline passed before it started |

| canonical | from |
|---|---|
| ``subject``, ``job_id`` | ``id`` |
| ``outputs`` | the URLs in ``output`` (see below) |
| ``error.message`` | ``error`` |
| ``model`` | ``model`` (``owner/name``), else ``version`` |
| ``timings`` | ``created_at``, ``started_at``, ``completed_at``; ``metrics.*_time`` (seconds) |
| ``time`` | the moment of the status (see below), else signed ``webhook-timestamp``, else receive |

- ``output`` is a URL, a list of them, or an object whose values are URLs or lists of URLs. Only
  ``https://``, ``http://`` and ``data:`` strings are outputs: a language model's output is a
  list of text tokens, not files. Replicate states no content type or size.
- The time is ``completed_at`` for a terminal status, ``started_at`` for ``processing`` and
  ``created_at`` for ``starting``.
"""

from __future__ import annotations

from typing import Any

from schemas.canonical import CanonicalEvent
from schemas.raw import RawDelivery
from streams.normalizers import jobs
from streams.normalizers.common import iso_time, json_object

STATUS = {
    "starting": "started",
    "processing": "progressed",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
    "aborted": "canceled",
}
#: Which timestamp is the time of an event with this canonical status.
_MOMENT = {"started": "created_at", "progressed": "started_at"}
_URL_PREFIXES = ("https://", "http://", "data:")


def normalize(raw: RawDelivery) -> CanonicalEvent:
    body = json_object(raw.body)
    status, provider_status = jobs.status(STATUS, body.get("status"), "Replicate status")
    timings = _timings(body)
    names = (body.get("model"), body.get("version"))
    model = next((name for name in names if isinstance(name, str) and name), None)
    return jobs.job_event(
        raw,
        jobs.Job(
            provider="replicate",
            job_id=jobs.job_id(body.get("id"), "id"),
            status=status,
            provider_status=provider_status,
            payload=body,
            time=timings.get(_MOMENT.get(status, "completed_at")),
            outputs=[file for url in _urls(body.get("output")) if (file := jobs.output(url))],
            error=jobs.error(body.get("error")),
            model=model,
            timings=timings,
        ),
    )


def _urls(output: Any) -> list[str]:
    values = list(output.values()) if isinstance(output, dict) else [output]
    flat = [item for value in values for item in (value if isinstance(value, list) else [value])]
    return [item for item in flat if isinstance(item, str) and item.startswith(_URL_PREFIXES)]


def _timings(body: dict[str, Any]) -> dict[str, Any]:
    timings: dict[str, Any] = {}
    for name in jobs.MOMENTS:
        moment = iso_time(body.get(name))
        if moment is not None:
            timings[name] = moment
    metrics = body.get("metrics")
    if isinstance(metrics, dict):
        for name, value in metrics.items():
            if name.endswith("_time") and name not in jobs.MOMENTS and jobs.seconds(value):
                timings[name] = value
    return timings
