"""A reprocess is a request of its own: the tracker pairs its answer, the trace ties the answer to
it, a stall of it is reported like an edit's, the image's status never moves for it, and
``GET /images/{id}`` shows the newest complete set of outputs and whether it is current."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from image_pipeline import contracts
from image_pipeline.catalogue import JOBS, PAIRINGS, EventType, ImageStatus
from image_pipeline.events import PipelineEvent
from image_pipeline.image_api import Downloads, describe_image, image_trace
from image_pipeline.pairing import derive_state, next_deadline
from image_pipeline.reprocessing import request_id
from image_pipeline.tracker import record_event, sweep_overdue
from tests import samples
from tests.fakes import InMemoryImageLog, InMemoryObjectStore, RecordingPublisher

IMAGE = samples.IMAGE
VERSION = "0A1B2C3D4E5F678901"
UPLOAD = f"{IMAGE}@{VERSION}"
OLD, NEW = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
SPECS = {"thumbnail": "cccccccccccc", "renditions": NEW}
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
STALL = timedelta(seconds=300)
REQUEST = request_id(UPLOAD, NEW)


def _output(name: str, spec: str) -> dict[str, Any]:
    return {
        "name": name,
        "key": f"outputs/{IMAGE}/{VERSION}/{spec}/{name}.jpg",
        "format": "JPEG",
        "mediaType": "image/jpeg",
        "width": 100,
        "height": 100,
        "bytes": 10,
    }


def renditions(cause: str, spec: str, at: datetime, *names: str, **data: Any) -> PipelineEvent:
    outputs = [_output(n, spec) for n in names or ("w1024-jpeg",)]
    return samples.event(
        EventType.RENDITIONS_CREATED, causation_id=cause, at=at, outputs=outputs, specVersion=spec, **data
    )


def complete_image(spec: str = OLD) -> list[PipelineEvent]:
    """An uploaded image that every job of the catalogue answered, its renditions made to ``spec``."""
    upload = samples.event(EventType.IMAGE_UPLOADED, event_id=UPLOAD, at=T0)
    answers = [
        samples.event(job.response, causation_id=UPLOAD, at=T0 + timedelta(seconds=1))
        for job in JOBS
        if job.name not in ("renditions", "thumbnail")
    ]
    thumbnail = samples.event(
        EventType.THUMBNAIL_CREATED,
        causation_id=UPLOAD,
        at=T0 + timedelta(seconds=1),
        outputs=[_output("thumbnail", SPECS["thumbnail"])],
        specVersion=SPECS["thumbnail"],
    )
    made = renditions(UPLOAD, spec, T0 + timedelta(seconds=2), "w1024-jpeg", "w2048-jpeg")
    return [upload, *answers, thumbnail, made]


def reprocess_requested(at: datetime = T0 + timedelta(hours=1)) -> PipelineEvent:
    return samples.event(EventType.REPROCESS_REQUESTED, event_id=REQUEST, causation_id=UPLOAD, at=at, specVersion=NEW)


def log_of(*events: PipelineEvent) -> InMemoryImageLog:
    images = InMemoryImageLog()
    for event in events:
        images.append(event)
    return images


def describe(images: InMemoryImageLog) -> Any:
    downloads = Downloads(InMemoryObjectStore(), "images", 60)
    return describe_image(IMAGE, images=images, downloads=downloads, stall_timeout=STALL, spec_versions=SPECS)


# ---------------------------------------------------------------- pairing
def test_a_reprocess_expects_the_renditions_jobs_answer() -> None:
    assert PAIRINGS[EventType.REPROCESS_REQUESTED] == {EventType.RENDITIONS_CREATED}


@pytest.mark.parametrize("answered", [False, True])
def test_the_images_status_never_moves_for_a_reprocess(answered: bool) -> None:
    events = [*complete_image(), reprocess_requested()]
    if answered:
        events.append(renditions(REQUEST, NEW, T0 + timedelta(hours=1, seconds=3), reprocess=True))
    state = derive_state(events, STALL)
    assert state.status is ImageStatus.COMPLETE
    assert state.current is not None
    assert state.current.request_id == UPLOAD


def test_the_tracker_records_a_reprocess_and_its_answer_and_announces_no_status_change() -> None:
    images, publisher = log_of(*complete_image()), RecordingPublisher()
    asked = reprocess_requested()
    answer = renditions(REQUEST, NEW, asked.occurred_at + timedelta(seconds=3), reprocess=True)
    for event in (asked, answer):
        contracts.validate(event.type.value, event.detail())
        recorded = record_event(event, images, STALL, publisher, now=event.occurred_at)
        assert recorded.state.status is ImageStatus.COMPLETE
    # COMPLETE was announced for the upload; nothing since
    assert [e.data["status"] for e in publisher.published] == ["COMPLETE"]
    assert images.deadlines == {}


def test_a_reprocess_nobody_answers_is_reported_stalled_like_an_edit_and_the_image_stays_complete() -> None:
    # Given a reprocess request the job never answered
    asked = reprocess_requested()
    images, publisher = log_of(*complete_image(), asked), RecordingPublisher()
    deadline = next_deadline(images.events(IMAGE), STALL)
    assert deadline == asked.occurred_at + STALL
    images.set_deadline(IMAGE, deadline, seen=len(images.events(IMAGE)))
    # When the sweeper runs a moment before its deadline, then at it
    assert (
        sweep_overdue(images, publisher, now=deadline - timedelta(seconds=1), stall_timeout=STALL, producer="S").stalled
        == []
    )
    (stall,) = sweep_overdue(images, publisher, now=deadline, stall_timeout=STALL, producer="StallSweeper").stalled
    # Then the stall names the request and what it misses, and keeps its contract
    assert (stall.causation_id, stall.data["request"], stall.data["missing"]) == (
        REQUEST,
        "ReprocessRequested",
        ["RenditionsCreated"],
    )
    contracts.validate(stall.type.value, stall.detail())
    images.append(stall)
    assert derive_state(images.events(IMAGE), STALL).status is ImageStatus.COMPLETE


def test_the_trace_ties_the_answer_to_the_reprocess_request() -> None:
    asked = reprocess_requested()
    answer = renditions(REQUEST, NEW, asked.occurred_at + timedelta(seconds=3), reprocess=True)
    images = log_of(*complete_image(), asked, answer)
    trace = image_trace(IMAGE, images=images, stall_timeout=STALL)
    assert trace is not None
    (entry,) = [e for e in trace.events if e["eventId"] == answer.event_id]
    assert entry["answers"] == {"type": "ReprocessRequested", "eventId": REQUEST}
    assert entry["latencyMs"] == 3000  # from the request it answers
    assert trace.expected["ReprocessRequested"] == ["RenditionsCreated"]


# ---------------------------------------------------------------- what the API shows
def test_outputs_made_to_older_specs_are_shown_and_said_to_be_out_of_date() -> None:
    image = describe(log_of(*complete_image(OLD)))
    assert image.status == "COMPLETE"
    assert image.outputs["w1024-jpeg"].key == f"outputs/{IMAGE}/{VERSION}/{OLD}/w1024-jpeg.jpg"
    assert image.specs["renditions"].model_dump(by_alias=True) == {"madeTo": OLD, "latest": NEW, "current": False}
    assert image.specs["thumbnail"].current is True
    assert image.outputs_current is False


def test_a_reprocessed_image_shows_the_new_set_whole_and_is_current() -> None:
    # Given the reprocess's answer: a new set at the new specs, with one more width
    asked = reprocess_requested()
    answer = renditions(
        REQUEST, NEW, asked.occurred_at + timedelta(seconds=3), "w1024-jpeg", "w1600-jpeg", "w2048-jpeg"
    )
    image = describe(log_of(*complete_image(OLD), asked, answer))
    # Then every rendition shown is of the new set, none of the old one
    assert {name: o.key.split("/")[3] for name, o in image.outputs.items() if name != "thumbnail"} == {
        "w1024-jpeg": NEW,
        "w1600-jpeg": NEW,
        "w2048-jpeg": NEW,
    }
    assert image.specs["renditions"].made_to == NEW
    assert image.outputs_current is True
    assert image.status == "COMPLETE"


def test_a_late_answer_at_older_specs_never_hides_the_current_set() -> None:
    asked = reprocess_requested()
    current = renditions(REQUEST, NEW, asked.occurred_at + timedelta(seconds=3))
    late_old = renditions(UPLOAD, OLD, asked.occurred_at + timedelta(seconds=9))  # a redelivered live answer
    image = describe(log_of(*complete_image(OLD), asked, current, late_old))
    assert image.specs["renditions"].made_to == NEW
    assert image.outputs["w1024-jpeg"].key.split("/")[3] == NEW


def test_a_reprocess_of_an_older_upload_never_shows_on_the_current_one() -> None:
    asked = reprocess_requested()
    answer = renditions(REQUEST, NEW, asked.occurred_at + timedelta(seconds=3))
    newer = samples.event(
        EventType.IMAGE_UPLOADED,
        event_id=f"{IMAGE}@0B0000000000000001",
        at=asked.occurred_at + timedelta(minutes=1),
        version="0B0000000000000001",
        sequencer="0B0000000000000001",
    )
    image = describe(log_of(*complete_image(OLD), asked, answer, newer))
    assert image.status == "PROCESSING"
    assert image.outputs == {}
    assert image.specs == {}
    assert image.outputs_current is None


def test_an_image_without_outputs_says_nothing_about_their_specs() -> None:
    upload = samples.event(EventType.IMAGE_UPLOADED, event_id=UPLOAD, at=T0)
    rejected = samples.event(EventType.IMAGE_REJECTED, causation_id=UPLOAD, at=T0 + timedelta(seconds=1))
    image = describe(log_of(upload, rejected))
    assert (image.status, image.specs, image.outputs_current) == ("REJECTED", {}, None)
