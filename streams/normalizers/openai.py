"""OpenAI webhooks -> canonical job events (:mod:`streams.normalizers.jobs`).

OpenAI sends thin events ``{"id", "object": "event", "type", "created_at", "data": {"id"}}``; the
resource is fetched by id, so OpenAI job events have no outputs and no error. ``provider_status``
is the whole ``type``.

| ``type`` | ``ce_type`` |
|---|---|
| ``response.completed`` | ``job.succeeded`` |
| ``response.failed`` | ``job.failed`` |
| ``response.cancelled`` | ``job.canceled`` |
| ``response.incomplete`` | ``job.failed`` (1) |
| ``batch.completed`` | ``job.succeeded`` |
| ``batch.failed`` | ``job.failed`` |
| ``batch.cancelled`` | ``job.canceled`` |
| ``batch.expired`` | ``job.failed`` (2) |
| ``fine_tuning.job.succeeded`` | ``job.succeeded`` |
| ``fine_tuning.job.failed`` | ``job.failed`` |
| ``fine_tuning.job.cancelled`` | ``job.canceled`` |
| ``eval.run.succeeded`` | ``job.succeeded`` |
| ``eval.run.failed`` | ``job.failed`` |
| ``eval.run.canceled`` | ``job.canceled`` (one ``l``: OpenAI spells it so here) |

(1) Ended early (``max_output_tokens`` or a content filter): not the requested result, though
partial output exists. (2) Not finished within its completion window; partial results exist.

| canonical | from |
|---|---|
| ``subject``, ``job_id`` | ``data.id`` |
| ``timings.completed_at`` | ``created_at`` (epoch s; per OpenAI, when the job reached this state) |
| ``time`` | ``created_at``, else the signed ``webhook-timestamp``, else receive time |

Another status of these four job families (``response``, ``batch``, ``fine_tuning.job``,
``eval.run``) fails normalization. Events of other families are not jobs
(``realtime.call.incoming``, ``live.*``, ``agent.*``, ``safety.*``): they pass through as
``openai.{type}`` with the whole body as data; subject ``data.id``, else ``data.call_id``,
``data.session_id``, ``data.safety_identifier``.
"""

from __future__ import annotations

from schemas.canonical import CanonicalEvent
from schemas.raw import RawDelivery
from streams.normalizers import jobs
from streams.normalizers.common import (
    at,
    canonical_event,
    epoch_time,
    event_type,
    first_entity,
    json_object,
)

STATUS = {
    "response.completed": "succeeded",
    "response.failed": "failed",
    "response.cancelled": "canceled",
    "response.incomplete": "failed",
    "batch.completed": "succeeded",
    "batch.failed": "failed",
    "batch.cancelled": "canceled",
    "batch.expired": "failed",
    "fine_tuning.job.succeeded": "succeeded",
    "fine_tuning.job.failed": "failed",
    "fine_tuning.job.cancelled": "canceled",
    "eval.run.succeeded": "succeeded",
    "eval.run.failed": "failed",
    "eval.run.canceled": "canceled",
}
JOB_FAMILIES = frozenset(kind.rsplit(".", 1)[0] for kind in STATUS)
_OTHER_SUBJECTS = (
    ("data", "id"),
    ("data", "call_id"),
    ("data", "session_id"),
    ("data", "safety_identifier"),
)


def normalize(raw: RawDelivery) -> CanonicalEvent:
    body = json_object(raw.body)
    kind = body.get("type")
    time = epoch_time(body.get("created_at"))
    ce_type = event_type("openai", kind)  # a plain name from here on
    if ce_type.removeprefix("openai.").rsplit(".", 1)[0] not in JOB_FAMILIES:
        subject = first_entity(body, _OTHER_SUBJECTS)
        return canonical_event(raw, type=ce_type, data=body, subject=subject, time=time)
    status, provider_status = jobs.status(STATUS, kind, "OpenAI event type")
    return jobs.job_event(
        raw,
        jobs.Job(
            provider="openai",
            job_id=jobs.job_id(at(body, "data", "id"), "data.id"),
            status=status,
            provider_status=provider_status,
            payload=body,
            time=time,
            timings={"completed_at": time} if time is not None else {},
        ),
    )
