"""Event pairing: the status of an image follows from the set of its events."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.tracking import PAIRINGS, ImageStatus, derive_state, trace

IMAGE = "0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
TIMEOUT = timedelta(seconds=300)
UPLOAD_ID = f"uploads/{IMAGE}.jpg#0001"


def event(
    kind: EventType,
    at: float,
    *,
    causation: str | None = UPLOAD_ID,
    event_id: str | None = None,
    **data: object,
) -> PipelineEvent:
    return PipelineEvent.new(
        kind,
        image_id=IMAGE,
        producer="test",
        causation_id=causation,
        event_id=event_id or f"{kind}-{at}",
        occurred_at=T0 + timedelta(seconds=at),
        data=dict(data),
    )


def requested() -> PipelineEvent:
    return event(EventType.UPLOAD_REQUESTED, -2, causation=None)


def uploaded(upload_id: str = UPLOAD_ID, at: float = 0) -> PipelineEvent:
    return event(EventType.IMAGE_UPLOADED, at, causation=None, event_id=upload_id)


def responses(upload_id: str = UPLOAD_ID, start: float = 1) -> list[PipelineEvent]:
    kinds = sorted(PAIRINGS[EventType.IMAGE_UPLOADED])
    return [event(kind, start + i, causation=upload_id) for i, kind in enumerate(kinds)]


def test_the_pairing_map_declares_what_an_upload_expects() -> None:
    assert PAIRINGS[EventType.IMAGE_UPLOADED] == {
        EventType.THUMBNAIL_CREATED,
        EventType.RENDITIONS_CREATED,
        EventType.IMAGE_ANALYZED,
    }


def test_an_image_with_only_an_upload_request_is_pending() -> None:
    state = derive_state([requested()], TIMEOUT)
    assert state.status is ImageStatus.PENDING
    assert state.deadline is None


def test_an_uploaded_image_is_processing_until_every_response_arrives() -> None:
    # Given an upload and two of its three responses
    events = [requested(), uploaded(), *responses()[:2]]
    # When its state is derived
    state = derive_state(events, TIMEOUT)
    # Then it is still processing, names what is missing and when it is due
    assert state.status is ImageStatus.PROCESSING
    assert state.missing == (sorted(PAIRINGS[EventType.IMAGE_UPLOADED])[2],)
    assert state.deadline == T0 + TIMEOUT


def test_every_expected_response_completes_the_image() -> None:
    state = derive_state([requested(), uploaded(), *responses()], TIMEOUT)
    assert state.status is ImageStatus.COMPLETE
    assert state.missing == ()
    assert state.deadline is None


def test_out_of_order_and_duplicate_delivery_give_the_same_state() -> None:
    events = [requested(), uploaded(), *responses()]
    expected = derive_state(events, TIMEOUT)
    for order in itertools.permutations(events):
        for duplicated in ([*order, order[0]], [order[-1], *order]):
            state = derive_state(duplicated, TIMEOUT)
            assert (state.status, state.missing) == (expected.status, expected.missing)


def test_responses_before_their_upload_keep_the_image_processing() -> None:
    state = derive_state(responses()[:1], TIMEOUT)
    assert state.status is ImageStatus.PROCESSING
    assert len(state.missing) == 2


def test_a_rejection_closes_the_image_with_its_reason() -> None:
    rejected = event(EventType.IMAGE_REJECTED, 1, reason="truncated", message="image file is truncated")
    state = derive_state([uploaded(), rejected], TIMEOUT)
    assert state.status is ImageStatus.REJECTED
    assert state.reason == "image file is truncated"
    assert state.reason_code == "truncated"
    assert state.deadline is None


def test_a_processing_failure_closes_the_image_as_failed() -> None:
    failed = event(EventType.IMAGE_PROCESSING_FAILED, 1, reason="source_missing", message="gone")
    assert derive_state([uploaded(), failed], TIMEOUT).status is ImageStatus.FAILED


def test_a_stall_names_the_missing_responses_and_a_late_response_still_completes() -> None:
    present = responses()[:2]
    stalled = event(EventType.IMAGE_PROCESSING_STALLED, 301, missing=["ImageAnalyzed"])
    state = derive_state([uploaded(), *present, stalled], TIMEOUT)
    assert state.status is ImageStatus.STALLED
    assert state.reason is not None
    assert state.missing[0] in state.reason
    late = responses()[2:]
    assert derive_state([uploaded(), *present, stalled, *late], TIMEOUT).status is ImageStatus.COMPLETE


def test_a_new_upload_of_the_same_image_is_tracked_as_a_new_request() -> None:
    second = "uploads/0123456789abcdef0123456789abcdef.jpg#0002"
    events = [uploaded(), *responses(), uploaded(second, at=10)]
    state = derive_state(events, TIMEOUT)
    assert state.status is ImageStatus.PROCESSING
    assert state.current is not None
    assert state.current.request_id == second


def test_the_trace_orders_events_and_ties_each_response_to_its_request() -> None:
    events = [*responses(), uploaded(), requested()]  # stored in any order
    timeline = [entry.to_dict() for entry in trace(events)]
    assert [e["type"] for e in timeline[:2]] == ["UploadRequested", "ImageUploaded"]
    assert [e["offsetMs"] for e in timeline] == sorted(e["offsetMs"] for e in timeline)
    assert timeline[0]["latencyMs"] is None  # before the upload
    assert timeline[1]["latencyMs"] == 0
    for entry, seconds in zip(timeline[2:], (1, 2, 3), strict=True):
        assert entry["answers"] == {"type": "ImageUploaded", "eventId": UPLOAD_ID}
        assert entry["latencyMs"] == seconds * 1000


@pytest.mark.parametrize("kind", list(EventType))
def test_every_event_type_round_trips_through_the_envelope(kind: EventType) -> None:
    original = event(kind, 1.5, note="x")
    copy = PipelineEvent.from_detail(kind.value, original.detail())
    assert copy == original
