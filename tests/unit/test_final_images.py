"""A final image awaits nothing: once REJECTED, FAILED, COMPLETE or EXPIRED, its `missing` is empty
everywhere a client reads it (the state, GET /images/{id}, its trace, the tracker's summary), while
an open one (PROCESSING, STALLED) still names what it waits for."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from image_pipeline import contracts
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.catalogue import JOBS, ImageStatus
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.pairing import derive_state
from tests.conftest import load_event

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
UPLOAD = f"{IMAGE}@0A1B"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
TIMEOUT = timedelta(seconds=300)


def _event(kind: EventType, at: float, *, causation: str | None = UPLOAD, **data: object) -> PipelineEvent:
    return PipelineEvent.new(
        kind,
        image_id=IMAGE,
        producer=min(contracts.OWNERS[kind.value]),
        causation_id=causation,
        event_id=f"{kind}-{at}",
        occurred_at=T0 + timedelta(seconds=at),
        data=dict(data),
    )


def _uploaded() -> PipelineEvent:
    uploaded = _event(EventType.IMAGE_UPLOADED, 0, causation=None, sequencer="0A1B")
    return uploaded.model_copy(update={"metadata": uploaded.metadata.model_copy(update={"event_id": UPLOAD})})


def _requested() -> PipelineEvent:
    return _event(EventType.UPLOAD_REQUESTED, -1, causation=None, expiresAt=(T0 + timedelta(seconds=600)).isoformat())


THUMBNAIL = _event(EventType.THUMBNAIL_CREATED, 1)
# outcome -> the image's events: each one final with (at least) one response never given
HISTORIES: dict[str, list[PipelineEvent]] = {
    "REJECTED": [
        _uploaded(),
        THUMBNAIL,
        _event(EventType.IMAGE_REJECTED, 2, job="thumbnail", reason="truncated", message="cut"),
    ],
    "FAILED": [
        _uploaded(),
        _event(EventType.IMAGE_PROCESSING_FAILED, 2, job="thumbnail", reason="source_missing", message="gone"),
    ],
    "EXPIRED": [_requested(), _event(EventType.UPLOAD_EXPIRED, 900, causation=None)],
    "COMPLETE": [_uploaded(), *(_event(job.response, second) for second, job in enumerate(JOBS, start=1))],
}
OPEN: dict[str, list[PipelineEvent]] = {
    "PROCESSING": [_uploaded(), THUMBNAIL],
    "STALLED": [_uploaded(), THUMBNAIL, _event(EventType.IMAGE_PROCESSING_STALLED, 301)],
}
# every job's answer but the thumbnail's, the one given
STILL_DUE = sorted(job.response.value for job in JOBS if job.response is not EventType.THUMBNAIL_CREATED)


@pytest.mark.parametrize("status", HISTORIES)
def test_a_final_image_awaits_nothing(status: str) -> None:
    state = derive_state(HISTORIES[status], TIMEOUT)
    assert state.status is ImageStatus(status)
    assert state.missing == ()


@pytest.mark.parametrize("status", OPEN)
def test_an_open_image_names_the_responses_it_still_awaits(status: str) -> None:
    # a stalled image still waits: a late response completes it
    state = derive_state(OPEN[status], TIMEOUT)
    assert state.status is ImageStatus(status)
    assert [m.value for m in state.missing] == STILL_DUE


# ---------------------------------------------------------------- as a client reads it
@pytest.fixture
def api(aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object) -> Any:
    module = load_handler("ApiFunction")

    def get(path: str) -> dict[str, Any]:
        event = load_event("api-get-trace.json" if path.endswith("/trace") else "api-get-image.json")
        event["path"] = path
        response = module.lambda_handler(event, lambda_context)
        assert response["statusCode"] == 200, response
        return dict(json.loads(response["body"]))

    return get


def _recorded(aws: SimpleNamespace, events: list[PipelineEvent]) -> None:
    log = DynamoImageLog(aws.ImagesTable)
    for event in events:
        log.append(event)


@pytest.mark.parametrize("status", ["REJECTED", "FAILED"])
def test_get_image_and_its_trace_show_nothing_missing_once_final(api: Any, aws: SimpleNamespace, status: str) -> None:
    # Given an image closed before two of its three responses came
    _recorded(aws, HISTORIES[status])
    # When a client reads it and its trace
    image, trace = api(f"/images/{IMAGE}"), api(f"/images/{IMAGE}/trace")
    # Then it is final, and nothing is listed as missing in either
    assert (image["status"], image["missing"]) == (status, [])
    assert (trace["status"], trace["missing"]) == (status, [])
    # though the trace still shows which of the expected responses never came
    assert set(trace["expected"]["ImageUploaded"]) - {e["type"] for e in trace["events"]}


def test_get_image_still_names_what_a_stalled_image_waits_for(api: Any, aws: SimpleNamespace) -> None:
    _recorded(aws, OPEN["STALLED"])
    image, trace = api(f"/images/{IMAGE}"), api(f"/images/{IMAGE}/trace")
    assert (image["status"], image["missing"]) == ("STALLED", STILL_DUE)
    assert trace["missing"] == STILL_DUE


def test_the_tracker_reports_nothing_missing_for_the_event_that_closes_an_image(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    tracker = load_handler("TrackerFunction")
    *before, rejected = HISTORIES["REJECTED"]
    _recorded(aws, before)
    bus_event = {"detail-type": rejected.type.value, "source": "image-pipeline", "detail": rejected.detail()}
    summary = tracker.lambda_handler(bus_event, lambda_context)
    assert summary["recorded"], summary
    assert (summary["status"], summary["missing"]) == ("REJECTED", [])
