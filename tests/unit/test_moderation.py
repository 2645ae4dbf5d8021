"""What moderation lets out of an image's current upload (image_pipeline.moderation): links only
once recognition cleared it, never for a flagged one, and never because an older upload was cleared."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from image_pipeline.catalogue import JOBS, EventType
from image_pipeline.events import PipelineEvent
from image_pipeline.imaging import Reason
from image_pipeline.moderation import MODERATION, WITHHELD_FLAGGED, WITHHELD_PENDING, moderated
from image_pipeline.pairing import derive_state
from tests import samples

IMAGE = samples.IMAGE
FIRST, SECOND = f"{IMAGE}@0A1B", f"{IMAGE}@0A1C"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
TIMEOUT = timedelta(minutes=5)
FLAGGING: dict[str, Any] = {
    "reason": "moderation",
    "message": "onnx flagged the image at or above 0.001: NSFW 1%",
    "job": "recognition",
    "backend": "onnx",
    "labels": [{"name": "NSFW", "confidence": 0.0054, "parent": None, "level": None}],
    "score": 0.0054,
    "threshold": 0.001,
}


def _uploaded(upload: str, at: int = 0) -> PipelineEvent:
    sequencer = upload.rsplit("@", 1)[1]
    return samples.event(
        EventType.IMAGE_UPLOADED, event_id=upload, at=T0 + timedelta(seconds=at), sequencer=sequencer, version=sequencer
    )


def _answers(upload: str, *, recognized: bool = True, at: int = 1) -> list[PipelineEvent]:
    return [
        samples.event(job.response, causation_id=upload, at=T0 + timedelta(seconds=at))
        for job in JOBS
        if recognized or job.response is not EventType.IMAGE_RECOGNIZED
    ]


def _flagged(upload: str, at: int = 2) -> PipelineEvent:
    return samples.event(EventType.IMAGE_REJECTED, causation_id=upload, at=T0 + timedelta(seconds=at), **FLAGGING)


def _verdict(events: list[PipelineEvent]) -> tuple[str | None, object]:
    found = moderated(derive_state(events, TIMEOUT), events)
    return found.withheld, found.recognition()


def test_the_reason_code_is_the_one_recognition_rejects_with() -> None:
    assert Reason.MODERATION.value == MODERATION  # the API reads it without Pillow's package


def test_an_upload_recognition_cleared_is_served_and_shows_what_it_saw() -> None:
    withheld, recognition = _verdict([_uploaded(FIRST), *_answers(FIRST)])
    assert withheld is None
    assert recognition == samples.DATA[EventType.IMAGE_RECOGNIZED]["recognition"]


def test_an_upload_recognition_has_not_answered_is_withheld_until_it_does() -> None:
    # Given every other job's outputs, but no verdict yet: the thumbnail of a photo still to be flagged
    withheld, recognition = _verdict([_uploaded(FIRST), *_answers(FIRST, recognized=False)])
    assert (withheld, recognition) == (WITHHELD_PENDING, None)


def test_a_flagged_upload_is_withheld_and_shows_the_labels_that_flagged_it() -> None:
    withheld, recognition = _verdict([_uploaded(FIRST), *_answers(FIRST, recognized=False), _flagged(FIRST)])
    assert withheld == WITHHELD_FLAGGED
    assert recognition == {
        "backend": "onnx",
        "moderation": {"flagged": True, "score": 0.0054, "threshold": 0.001, "labels": FLAGGING["labels"]},
    }


def test_a_flag_is_found_even_when_another_jobs_rejection_closed_the_image_first() -> None:
    truncated = samples.event(EventType.IMAGE_REJECTED, causation_id=FIRST, at=T0 + timedelta(seconds=1))
    events = [_uploaded(FIRST), truncated, _flagged(FIRST, at=2)]
    assert derive_state(events, TIMEOUT).reason_code == "truncated"
    assert _verdict(events)[0] == WITHHELD_FLAGGED


def test_an_image_rejected_for_another_reason_but_cleared_by_moderation_serves_what_was_made() -> None:
    truncated = samples.event(EventType.IMAGE_REJECTED, causation_id=FIRST, at=T0 + timedelta(seconds=2))
    assert _verdict([_uploaded(FIRST), *_answers(FIRST), truncated])[0] is None


@pytest.mark.parametrize(
    ("history", "withheld"),
    [
        # a flagged upload replaced by one moderation cleared: the new one is served
        (lambda: [_uploaded(FIRST), _flagged(FIRST), _uploaded(SECOND, 10), *_answers(SECOND, at=11)], None),
        # a cleared upload replaced by one not yet cleared: the old verdict does not carry over
        (
            lambda: [_uploaded(FIRST), *_answers(FIRST), _uploaded(SECOND, 10), *_answers(SECOND, recognized=False)],
            WITHHELD_PENDING,
        ),
        # a cleared upload replaced by a flagged one
        (lambda: [_uploaded(FIRST), *_answers(FIRST), _uploaded(SECOND, 10), _flagged(SECOND, 11)], WITHHELD_FLAGGED),
    ],
    ids=["flagged-then-cleared", "cleared-then-pending", "cleared-then-flagged"],
)
def test_only_the_current_uploads_verdict_counts(
    history: Callable[[], list[PipelineEvent]], withheld: str | None
) -> None:
    assert _verdict(history())[0] == withheld


def test_before_any_upload_nothing_is_served_or_recognized() -> None:
    requested = samples.event(EventType.UPLOAD_REQUESTED, at=T0)
    assert _verdict([requested]) == (WITHHELD_PENDING, None)


def test_faces_come_from_the_cleared_uploads_recognition_and_never_from_a_flagged_one() -> None:
    cleared = [_uploaded(FIRST), *_answers(FIRST)]
    found = moderated(derive_state(cleared, TIMEOUT), cleared)
    assert found.faces() == samples.DATA[EventType.IMAGE_RECOGNIZED]["recognition"]["faces"]
    flagged = [_uploaded(FIRST), _flagged(FIRST)]
    assert moderated(derive_state(flagged, TIMEOUT), flagged).faces() is None
