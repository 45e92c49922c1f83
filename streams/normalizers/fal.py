"""fal.ai queue webhooks -> canonical job events (:mod:`streams.normalizers.jobs`).

fal calls the webhook once, when a queued request is done:
``{"request_id", "gateway_request_id", "status", "payload", "error"?, "payload_error"?}``.

| ``status`` | ``ce_type`` |
|---|---|
| ``OK`` | ``job.succeeded`` (also with ``payload_error``, see below) |
| ``ERROR`` | ``job.failed`` |

| canonical | from |
|---|---|
| ``subject``, ``job_id`` | ``request_id`` (the queue's id) |
| ``outputs`` | file objects in ``payload`` (see below) |
| ``error.message`` | ``error``, else ``payload_error``, else ``payload.detail`` |
| ``model`` | none: the body does not name the endpoint |
| ``timings`` | numeric values of ``payload.timings`` (seconds, e.g. ``inference``) |
| ``time`` | signed ``x-fal-webhook-timestamp``, else receive time (no time in the body) |

- ``gateway_request_id`` names fal's last internal attempt; it stays in ``payload``.
- Outputs: every JSON object with a string ``url`` that is a top-level value of ``payload`` or an
  item of a top-level list, in body order (``images[]``, ``image``, ``video``, ``audio``, ...);
  ``content_type``, ``file_size`` (as ``size``), ``width``, ``height`` when present.
- ``payload.detail`` is a string, or a list of ``{"loc", "msg", "type"}``: the ``msg`` values
  joined by ``; ``.
- ``payload_error``: the result was not JSON-serializable and ``payload`` is null. The job still
  succeeded (``status`` says so): ``job.succeeded`` with that ``error``; fetch the result from the
  queue by ``request_id``.
- Seeds beyond 2^53 (and 2^64) stay exact: bodies are decoded with :mod:`schemas.jsoncodec`.
"""

from __future__ import annotations

from typing import Any

from schemas.canonical import CanonicalEvent
from schemas.raw import RawDelivery
from streams.normalizers import jobs
from streams.normalizers.common import json_object

STATUS = {"OK": "succeeded", "ERROR": "failed"}


def normalize(raw: RawDelivery) -> CanonicalEvent:
    body = json_object(raw.body)
    status, provider_status = jobs.status(STATUS, body.get("status"), "fal status")
    payload = body.get("payload")
    return jobs.job_event(
        raw,
        jobs.Job(
            provider="fal",
            job_id=jobs.job_id(body.get("request_id"), "request_id"),
            status=status,
            provider_status=provider_status,
            payload=body,
            outputs=_outputs(payload),
            error=jobs.error(body.get("error"))
            or jobs.error(body.get("payload_error"))
            or jobs.error(_detail(payload)),
            timings=_timings(payload),
        ),
    )


def _outputs(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        return []
    found = []
    for value in payload.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                file = jobs.output(
                    item.get("url"),
                    content_type=item.get("content_type"),
                    size=item.get("file_size"),
                    width=item.get("width"),
                    height=item.get("height"),
                )
                if file is not None:
                    found.append(file)
    return found


def _detail(payload: Any) -> str | None:
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        messages = [item.get("msg") for item in detail if isinstance(item, dict)]
        return "; ".join(m for m in messages if isinstance(m, str) and m) or None
    return None


def _timings(payload: Any) -> dict[str, Any]:
    timings = payload.get("timings") if isinstance(payload, dict) else None
    if not isinstance(timings, dict):
        return {}
    return {
        name: value
        for name, value in timings.items()
        if name not in jobs.MOMENTS and jobs.seconds(value)
    }
