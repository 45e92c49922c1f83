"""The job-event normalizers (fal, Replicate, OpenAI, Luma): body -> canonical job event."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from schemas import canonical
from schemas.raw import RawDelivery
from streams.errors import NormalizationFailed
from streams.normalizers import fal, jobs, luma, openai, replicate
from tests.streams.normalizers.checks import (
    MALFORMED,
    PREFIX,
    RECEIVED_AT_MS,
    RECEIVED_TIME,
    SAMPLES,
    SIGNED_AT,
    SIGNED_TIME,
    check_schemas,
    mutated,
    mutations,
    normalize,
)

JOB_PROVIDERS = ("fal", "replicate", "openai", "luma")


def delivery(provider: str, body: Any, *, signed_at: int | None = None) -> RawDelivery:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawDelivery(
        source="media",
        provider=provider,
        scheme="test",
        event_id="evt_1",
        received_at_ms=RECEIVED_AT_MS,
        content_type="application/json",
        body=content,
        signed_at_ms=None if signed_at is None else signed_at * 1000,
    )


# --- fixtures: realistic bodies, as each provider documents them --------------------------------

FAL_OK = {
    "request_id": "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d",
    "gateway_request_id": "8f1c9c2e-77aa-4b5e-9f5d-1a2b3c4d5e6f",
    "status": "OK",
    "payload": {
        "images": [
            {
                "url": "https://v3.fal.media/files/rabbit/a1.png",
                "content_type": "image/png",
                "file_name": "a1.png",
                "file_size": 1824075,
                "width": 1024,
                "height": 1024,
            },
            {"url": "https://v3.fal.media/files/rabbit/a2.png", "content_type": "image/png"},
        ],
        "timings": {"inference": 1.52},
        "seed": 196619188014358660,
        "has_nsfw_concepts": [False, False],
        "prompt": "Photo of a cute dog",
    },
    "error": None,
}
FAL_ERROR = {
    "request_id": "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d",
    "gateway_request_id": "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d",
    "status": "ERROR",
    "error": "Invalid status code: 422",
    "payload": {
        "detail": [
            {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}
        ]
    },
}
FAL_PAYLOAD_ERROR = {
    "request_id": "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d",
    "gateway_request_id": "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d",
    "status": "OK",
    "payload": None,
    "payload_error": "Response payload is not JSON serializable.",
}
REPLICATE_SUCCEEDED = {
    "id": "ufawqhfynnddngldkgtslldrkq",
    "model": "black-forest-labs/flux-schnell",
    "version": "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637",
    "input": {"prompt": "an astronaut riding a horse"},
    "logs": "Using seed: 1234\n",
    "output": ["https://replicate.delivery/xezq/out-0.webp"],
    "data_removed": False,
    "error": None,
    "status": "succeeded",
    "created_at": "2026-11-27T10:00:00.123456Z",
    "started_at": "2026-11-27T10:00:01.5Z",
    "completed_at": "2026-11-27T10:00:03.250Z",
    "urls": {
        "get": "https://api.replicate.com/v1/predictions/ufawqhfynnddngldkgtslldrkq",
        "cancel": "https://api.replicate.com/v1/predictions/ufawqhfynnddngldkgtslldrkq/cancel",
    },
    "metrics": {"image_count": 1, "predict_time": 1.75, "total_time": 3.13},
}
OPENAI_RESPONSE_COMPLETED = {
    "id": "evt_685343a1381c819085d44c354e1b330e",
    "object": "event",
    "created_at": 1795000100,
    "type": "response.completed",
    "data": {"id": "resp_abc123"},
}
LUMA_COMPLETED = {
    "id": "d1968551-6113-4b46-b567-09210c2e79b0",
    "generation_type": "video",
    "state": "completed",
    "failure_reason": None,
    "created_at": "2026-11-27T09:58:00.000Z",
    "assets": {
        "video": "https://storage.cdn-luma.com/dream_machine/d1968551/watermarked.mp4",
        "image": "https://storage.cdn-luma.com/dream_machine/d1968551/thumb.jpg",
        "progress_video": "https://storage.cdn-luma.com/dream_machine/d1968551/progress.mp4",
    },
    "model": "ray-2",
    "request": {"prompt": "A teddy bear in sunglasses", "model": "ray-2", "aspect_ratio": "16:9"},
}
LUMA_FAILED = {
    **LUMA_COMPLETED,
    "state": "failed",
    "failure_reason": "400: prompt not allowed because advanced moderation failed",
    "assets": None,
}

#: (provider, fixture, status field) for the table-driven tests.
BASES: dict[str, tuple[dict[str, Any], str]] = {
    "fal": (FAL_OK, "status"),
    "replicate": (REPLICATE_SUCCEEDED, "status"),
    "openai": (OPENAI_RESPONSE_COMPLETED, "type"),
    "luma": (LUMA_COMPLETED, "state"),
}

# --- the status tables, written out here so a change to a module's table is a visible decision --

MAPPING = [
    ("fal", "OK", "succeeded"),
    ("fal", "ERROR", "failed"),
    ("replicate", "starting", "started"),
    ("replicate", "processing", "progressed"),
    ("replicate", "succeeded", "succeeded"),
    ("replicate", "failed", "failed"),
    ("replicate", "canceled", "canceled"),
    ("replicate", "aborted", "canceled"),
    ("openai", "response.completed", "succeeded"),
    ("openai", "response.failed", "failed"),
    ("openai", "response.cancelled", "canceled"),
    ("openai", "response.incomplete", "failed"),
    ("openai", "batch.completed", "succeeded"),
    ("openai", "batch.failed", "failed"),
    ("openai", "batch.cancelled", "canceled"),
    ("openai", "batch.expired", "failed"),
    ("openai", "fine_tuning.job.succeeded", "succeeded"),
    ("openai", "fine_tuning.job.failed", "failed"),
    ("openai", "fine_tuning.job.cancelled", "canceled"),
    ("openai", "eval.run.succeeded", "succeeded"),
    ("openai", "eval.run.failed", "failed"),
    ("openai", "eval.run.canceled", "canceled"),
    ("luma", "queued", "started"),
    ("luma", "dreaming", "progressed"),
    ("luma", "completed", "succeeded"),
    ("luma", "failed", "failed"),
]
TABLES = {"fal": fal.STATUS, "replicate": replicate.STATUS, "openai": openai.STATUS}
TABLES["luma"] = luma.STATUS


def with_status(provider: str, value: Any) -> dict[str, Any]:
    base, field = BASES[provider]
    return {**copy.deepcopy(base), field: value}


# --- the status mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "provider_status", "status"), MAPPING)
def test_each_provider_status_maps_to_its_canonical_job_type(
    provider: str, provider_status: str, status: str
) -> None:
    event = normalize(delivery(provider, with_status(provider, provider_status)))
    assert (event.type, event.data["status"], event.data["provider_status"]) == (
        f"{PREFIX}job.{status}",
        status,
        provider_status,
    )


def test_the_tested_mapping_is_every_modules_whole_table() -> None:
    tables = {(p, s, c) for p, table in TABLES.items() for s, c in table.items()}
    assert tables == set(MAPPING)


def test_every_job_type_is_in_the_vocabulary() -> None:
    assert {f"job.{status}" for _, _, status in MAPPING} == set(jobs.TYPES)


@pytest.mark.parametrize("provider", JOB_PROVIDERS)
@pytest.mark.parametrize("value", ["exploded", "", "ok", "Succeeded", None, 1, ["OK"], {"s": 1}])
def test_an_unknown_status_fails_normalization(provider: str, value: Any) -> None:
    if provider == "openai" and value in ("exploded", "ok", "Succeeded", ""):
        value = f"response.{value}"  # a job family's unknown status
    with pytest.raises(NormalizationFailed):
        normalize(delivery(provider, with_status(provider, value)))


@pytest.mark.parametrize("provider", JOB_PROVIDERS)
def test_a_missing_status_fails_normalization(provider: str) -> None:
    base, field = BASES[provider]
    body = {k: v for k, v in base.items() if k != field}
    with pytest.raises(NormalizationFailed):
        normalize(delivery(provider, body))


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("fal", ("request_id",)),
        ("replicate", ("id",)),
        ("openai", ("data", "id")),
        ("luma", ("id",)),
    ],
)
@pytest.mark.parametrize("value", [None, "", True, 1.5, {"id": "x"}, "<missing>"])
def test_a_missing_or_unusable_job_id_fails_normalization(
    provider: str, path: tuple[str, ...], value: Any
) -> None:
    body = copy.deepcopy(BASES[provider][0])
    holder = body
    for name in path[:-1]:
        holder = holder[name]
    if value == "<missing>":
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    with pytest.raises(NormalizationFailed, match="job id"):
        normalize(delivery(provider, body))


# --- the envelope: subject, key, id, source, time ----------------------------------------------


@pytest.mark.parametrize(
    ("provider", "job_id"),
    [
        ("fal", "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d"),
        ("replicate", "ufawqhfynnddngldkgtslldrkq"),
        ("openai", "resp_abc123"),
        ("luma", "d1968551-6113-4b46-b567-09210c2e79b0"),
    ],
)
def test_the_subject_key_and_job_id_are_the_providers_job_id(provider: str, job_id: str) -> None:
    event = normalize(delivery(provider, BASES[provider][0]))
    assert (event.subject, event.partitionkey, event.key(), event.data["job_id"]) == (
        job_id,
        job_id,
        job_id.encode(),
        job_id,
    )


@pytest.mark.parametrize("provider", JOB_PROVIDERS)
def test_the_event_id_and_source_come_from_the_raw_record(provider: str) -> None:
    event = normalize(delivery(provider, BASES[provider][0]))
    assert (event.id, event.source, event.data["provider"]) == (
        "evt_1",
        "/hookgate/media",
        provider,
    )


@pytest.mark.parametrize("provider", JOB_PROVIDERS)
def test_the_payload_is_the_whole_body_unchanged(provider: str) -> None:
    assert normalize(delivery(provider, BASES[provider][0])).data["payload"] == BASES[provider][0]


def test_fal_time_is_the_signed_fal_timestamp() -> None:
    assert normalize(delivery("fal", FAL_OK, signed_at=SIGNED_AT)).time == SIGNED_TIME


def test_fal_time_without_a_signed_timestamp_is_the_receive_time() -> None:
    assert normalize(delivery("fal", FAL_OK)).time == RECEIVED_TIME


@pytest.mark.parametrize(
    ("status", "time"),
    [
        ("starting", "2026-11-27T10:00:00.123Z"),
        ("processing", "2026-11-27T10:00:01.500Z"),
        ("succeeded", "2026-11-27T10:00:03.250Z"),
        ("failed", "2026-11-27T10:00:03.250Z"),
        ("canceled", "2026-11-27T10:00:03.250Z"),
        ("aborted", "2026-11-27T10:00:03.250Z"),
    ],
)
def test_replicate_time_is_the_moment_of_its_status(status: str, time: str) -> None:
    assert normalize(delivery("replicate", with_status("replicate", status))).time == time


def test_replicate_time_without_that_moment_is_the_signed_webhook_timestamp() -> None:
    body = {**REPLICATE_SUCCEEDED, "completed_at": None}
    assert normalize(delivery("replicate", body, signed_at=SIGNED_AT)).time == SIGNED_TIME


def test_openai_time_is_the_event_created_at() -> None:
    assert normalize(delivery("openai", OPENAI_RESPONSE_COMPLETED)).time == (
        "2026-11-18T11:08:20.000Z"
    )


def test_openai_time_without_created_at_is_the_signed_webhook_timestamp() -> None:
    body = {k: v for k, v in OPENAI_RESPONSE_COMPLETED.items() if k != "created_at"}
    assert normalize(delivery("openai", body, signed_at=SIGNED_AT)).time == SIGNED_TIME


def test_luma_queued_time_is_created_at() -> None:
    event = normalize(delivery("luma", with_status("luma", "queued")))
    assert event.time == "2026-11-27T09:58:00.000Z"


@pytest.mark.parametrize("state", ["dreaming", "completed", "failed"])
def test_luma_time_after_queued_is_the_receive_time(state: str) -> None:
    assert normalize(delivery("luma", with_status("luma", state))).time == RECEIVED_TIME


@pytest.mark.parametrize("created", [10**30, -(10**30), 1e300, True, "1795000100"])
def test_an_unusable_epoch_falls_back_to_the_receive_time(created: Any) -> None:
    body = {**OPENAI_RESPONSE_COMPLETED, "created_at": created}
    assert normalize(delivery("openai", body)).time == RECEIVED_TIME


# --- fal: outputs, errors, timings -------------------------------------------------------------


def test_fal_outputs_are_the_payload_images_with_their_facts() -> None:
    assert normalize(delivery("fal", FAL_OK)).data["outputs"] == [
        {
            "url": "https://v3.fal.media/files/rabbit/a1.png",
            "content_type": "image/png",
            "size": 1824075,
            "width": 1024,
            "height": 1024,
        },
        {"url": "https://v3.fal.media/files/rabbit/a2.png", "content_type": "image/png"},
    ]


def test_fal_video_and_audio_files_are_outputs_in_body_order() -> None:
    payload = {
        "video": {"url": "https://fal.media/v.mp4", "content_type": "video/mp4", "file_size": 9},
        "seed": 7,
        "audio": {"url": "https://fal.media/a.wav", "content_type": "audio/wav"},
        "thumbnail": {"file_name": "no url here"},
    }
    event = normalize(delivery("fal", {**FAL_OK, "payload": payload}))
    assert event.data["outputs"] == [
        {"url": "https://fal.media/v.mp4", "content_type": "video/mp4", "size": 9},
        {"url": "https://fal.media/a.wav", "content_type": "audio/wav"},
    ]


@pytest.mark.parametrize("bad", [None, "1024", -1, 1.5, True])
def test_fal_output_facts_of_the_wrong_type_are_left_out(bad: Any) -> None:
    image = {"url": "https://fal.media/i.png", "width": bad, "height": bad, "file_size": bad}
    event = normalize(delivery("fal", {**FAL_OK, "payload": {"images": [image]}}))
    assert event.data["outputs"] == [{"url": "https://fal.media/i.png"}]


def test_a_successful_fal_job_has_no_error() -> None:
    assert normalize(delivery("fal", FAL_OK)).data["error"] is None


def test_a_failed_fal_job_has_the_error_message_and_no_outputs() -> None:
    event = normalize(delivery("fal", FAL_ERROR))
    assert (event.data["error"], event.data["outputs"]) == (
        {"message": "Invalid status code: 422"},
        [],
    )


def test_without_an_error_field_fals_payload_detail_is_the_message() -> None:
    body = {k: v for k, v in FAL_ERROR.items() if k != "error"}
    assert normalize(delivery("fal", body)).data["error"] == {"message": "field required"}


def test_a_string_payload_detail_is_the_message() -> None:
    body = {"request_id": "r1", "status": "ERROR", "payload": {"detail": "GPU out of memory"}}
    assert normalize(delivery("fal", body)).data["error"] == {"message": "GPU out of memory"}


def test_a_fal_payload_error_keeps_the_job_succeeded_with_that_error() -> None:
    event = normalize(delivery("fal", FAL_PAYLOAD_ERROR))
    assert (event.type, event.data["error"], event.data["outputs"]) == (
        f"{PREFIX}job.succeeded",
        {"message": "Response payload is not JSON serializable."},
        [],
    )


def test_fal_timings_are_the_payload_timings_in_seconds() -> None:
    assert normalize(delivery("fal", FAL_OK)).data["timings"] == {"inference": 1.52}


def test_fal_names_no_model() -> None:
    assert "model" not in normalize(delivery("fal", FAL_OK)).data


# --- Replicate: outputs, error, model, timings -------------------------------------------------


@pytest.mark.parametrize(
    ("output", "urls"),
    [
        pytest.param(
            "https://replicate.delivery/a.png", ["https://replicate.delivery/a.png"], id="string"
        ),
        pytest.param(
            ["https://replicate.delivery/a.png", "https://replicate.delivery/b.png"],
            ["https://replicate.delivery/a.png", "https://replicate.delivery/b.png"],
            id="list",
        ),
        pytest.param(
            {
                "video": "https://replicate.delivery/v.mp4",
                "frames": ["https://replicate.delivery/f.png"],
            },
            ["https://replicate.delivery/v.mp4", "https://replicate.delivery/f.png"],
            id="object",
        ),
        pytest.param(["Hello", ",", " world"], [], id="text-tokens"),
        pytest.param("A poem about the sea.", [], id="text"),
        pytest.param(None, [], id="none-yet"),
        pytest.param(42, [], id="number"),
    ],
)
def test_replicate_outputs_are_the_urls_in_output(output: Any, urls: list[str]) -> None:
    event = normalize(delivery("replicate", {**REPLICATE_SUCCEEDED, "output": output}))
    assert event.data["outputs"] == [{"url": url} for url in urls]


def test_a_failed_replicate_prediction_has_its_error_message() -> None:
    body = {**REPLICATE_SUCCEEDED, "status": "failed", "output": None, "error": "CUDA OOM"}
    assert normalize(delivery("replicate", body)).data["error"] == {"message": "CUDA OOM"}


def test_replicate_model_is_owner_and_name() -> None:
    event = normalize(delivery("replicate", REPLICATE_SUCCEEDED))
    assert event.data["model"] == "black-forest-labs/flux-schnell"


def test_without_a_model_replicates_version_is_the_model() -> None:
    body = {k: v for k, v in REPLICATE_SUCCEEDED.items() if k != "model"}
    assert normalize(delivery("replicate", body)).data["model"] == REPLICATE_SUCCEEDED["version"]


def test_replicate_timings_are_its_moments_and_metrics_durations() -> None:
    assert normalize(delivery("replicate", REPLICATE_SUCCEEDED)).data["timings"] == {
        "created_at": "2026-11-27T10:00:00.123Z",
        "started_at": "2026-11-27T10:00:01.500Z",
        "completed_at": "2026-11-27T10:00:03.250Z",
        "predict_time": 1.75,
        "total_time": 3.13,
    }


# --- OpenAI: thin events, and the families that are not jobs -----------------------------------


def test_an_openai_job_event_has_no_outputs_error_or_model() -> None:
    data = normalize(delivery("openai", OPENAI_RESPONSE_COMPLETED)).data
    assert (data["outputs"], data["error"], "model" in data) == ([], None, False)


def test_openai_completed_at_is_the_event_created_at() -> None:
    data = normalize(delivery("openai", OPENAI_RESPONSE_COMPLETED)).data
    assert data["timings"] == {"completed_at": "2026-11-18T11:08:20.000Z"}


@pytest.mark.parametrize(
    ("body", "subject"),
    [
        pytest.param(
            {
                "id": "evt_1",
                "object": "event",
                "created_at": 1795000100,
                "type": "realtime.call.incoming",
                "data": {"call_id": "rtc_42", "sip_headers": [{"name": "From", "value": "x"}]},
            },
            "rtc_42",
            id="realtime-call",
        ),
        pytest.param(
            {
                "id": "evt_2",
                "created_at": 1795000100,
                "type": "safety.alert.created",
                "data": {"id": "sa_1"},
            },
            "sa_1",
            id="safety-alert",
        ),
        pytest.param(
            {
                "id": "evt_3",
                "object": "event",
                "created_at": 1795000100,
                "type": "live.transport.connected",
                "data": {"session_id": "sess_9", "type": "webrtc"},
            },
            "sess_9",
            id="live-transport",
        ),
    ],
)
def test_openai_events_that_are_not_jobs_pass_through(body: dict[str, Any], subject: str) -> None:
    event = normalize(delivery("openai", body))
    assert (event.type, event.subject, event.data, event.time) == (
        f"{PREFIX}openai.{body['type']}",
        subject,
        body,
        "2026-11-18T11:08:20.000Z",
    )
    check_schemas(event)


@pytest.mark.parametrize("kind", [None, "", "response completed", 7])
def test_an_openai_event_without_a_usable_type_fails(kind: Any) -> None:
    with pytest.raises(NormalizationFailed, match="event type"):
        normalize(delivery("openai", {**OPENAI_RESPONSE_COMPLETED, "type": kind}))


# --- Luma --------------------------------------------------------------------------------------


def test_luma_outputs_are_the_video_and_image_assets_not_the_progress_video() -> None:
    assert normalize(delivery("luma", LUMA_COMPLETED)).data["outputs"] == [
        {"url": "https://storage.cdn-luma.com/dream_machine/d1968551/watermarked.mp4"},
        {"url": "https://storage.cdn-luma.com/dream_machine/d1968551/thumb.jpg"},
    ]


def test_a_failed_luma_generation_has_its_failure_reason_and_no_outputs() -> None:
    data = normalize(delivery("luma", LUMA_FAILED)).data
    assert (data["error"], data["outputs"]) == (
        {"message": "400: prompt not allowed because advanced moderation failed"},
        [],
    )


def test_a_luma_failure_code_is_the_error_code() -> None:
    body = {**LUMA_FAILED, "failure_code": "content_moderated"}
    assert normalize(delivery("luma", body)).data["error"]["code"] == "content_moderated"


def test_luma_model_and_created_at_are_kept() -> None:
    data = normalize(delivery("luma", LUMA_COMPLETED)).data
    assert (data["model"], data["timings"]) == ("ray-2", {"created_at": "2026-11-27T09:58:00.000Z"})


# --- the published schemas ---------------------------------------------------------------------

EVERY_FIXTURE = [
    pytest.param("fal", FAL_OK, id="fal-ok"),
    pytest.param("fal", FAL_ERROR, id="fal-error"),
    pytest.param("fal", FAL_PAYLOAD_ERROR, id="fal-payload-error"),
    pytest.param("replicate", REPLICATE_SUCCEEDED, id="replicate-succeeded"),
    pytest.param("replicate", with_status("replicate", "starting"), id="replicate-starting"),
    pytest.param("openai", OPENAI_RESPONSE_COMPLETED, id="openai-response-completed"),
    pytest.param("luma", LUMA_COMPLETED, id="luma-completed"),
    pytest.param("luma", LUMA_FAILED, id="luma-failed"),
]


@pytest.mark.parametrize(("provider", "body"), EVERY_FIXTURE)
def test_every_output_validates_against_the_canonical_and_job_data_schemas(
    provider: str, body: dict[str, Any]
) -> None:
    check_schemas(normalize(delivery(provider, body)))


@pytest.mark.parametrize(("provider", "provider_status", "status"), MAPPING)
def test_every_status_gives_a_schema_valid_event(
    provider: str, provider_status: str, status: str
) -> None:
    check_schemas(normalize(delivery(provider, with_status(provider, provider_status))))


# --- integers stay exact -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [196619188014358660, 2**53 + 1, 2**64, 2**64 + 1, 2**70, -(2**70)])
def test_a_fal_seed_survives_normalization_byte_for_byte(seed: int) -> None:
    body = b'{"request_id":"r1","status":"OK","payload":{"images":[],"seed":%d}}' % seed
    event = normalize(delivery("fal", body))
    assert event.data["payload"]["payload"]["seed"] == seed
    assert b'"seed":%d}' % seed in event.value()
    assert canonical.decode(event.key(), event.value(), event.headers()).data == event.data


def test_a_huge_file_size_survives_byte_for_byte() -> None:
    size = 2**65 + 3
    body = (
        b'{"request_id":"r1","status":"OK","payload":{"video":{"url":"u","file_size":%d}}}' % size
    )
    event = normalize(delivery("fal", body))
    assert event.data["outputs"] == [{"url": "u", "size": size}]
    assert event.value().count(b"%d" % size) == 2  # in outputs and in the payload


# --- malformed bodies: NormalizationFailed, never another exception ----------------------------


@pytest.mark.parametrize("provider", JOB_PROVIDERS)
@pytest.mark.parametrize("body", MALFORMED)
def test_a_malformed_body_fails_normalization(provider: str, body: bytes) -> None:
    with pytest.raises(NormalizationFailed):
        normalize(delivery(provider, body))


@pytest.mark.parametrize(("provider", "body"), EVERY_FIXTURE)
def test_a_field_of_an_unexpected_type_gives_a_valid_event_or_normalization_failed(
    provider: str, body: dict[str, Any]
) -> None:
    for path, value in mutations(body):
        try:
            event = normalize(delivery(provider, mutated(body, path, value)))
        except NormalizationFailed:
            continue
        check_schemas(event)


# --- the bundled samples (hookgate/samples/) ---------------------------------------------------


@pytest.mark.parametrize("provider", JOB_PROVIDERS)
def test_the_bundled_sample_normalizes_to_a_valid_job_event(provider: str) -> None:
    sample = SAMPLES / f"{provider}.json"
    if not sample.is_file():
        pytest.skip(f"no bundled sample {sample.name} yet")
    event = normalize(delivery(provider, sample.read_bytes()))
    check_schemas(event)
    assert event.type.removeprefix(PREFIX) in jobs.TYPES or provider == "openai"  # maybe no job
    assert canonical.decode(event.key(), event.value(), event.headers()) == event
