"""Event pairing: the status of an image follows from the set of its events."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from image_pipeline.catalogue import JOB_OUTCOMES, JOBS, PAIRINGS, ImageStatus
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.pairing import derive_state, trace

IMAGE = "0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
TIMEOUT = timedelta(seconds=300)
UPLOAD_ID = f"{IMAGE}@0001"


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


def requested(expires_in: float = 600) -> PipelineEvent:
    expires = (T0 + timedelta(seconds=expires_in - 2)).isoformat()
    return event(EventType.UPLOAD_REQUESTED, -2, causation=None, expiresAt=expires)


def uploaded(upload_id: str = UPLOAD_ID, at: float = 0) -> PipelineEvent:
    sequencer = upload_id.rsplit("@", 1)[-1]
    return event(EventType.IMAGE_UPLOADED, at, causation=None, event_id=upload_id, sequencer=sequencer)


def responses(upload_id: str = UPLOAD_ID, start: float = 1) -> list[PipelineEvent]:
    kinds = sorted(PAIRINGS[EventType.IMAGE_UPLOADED])
    return [event(kind, start + i, causation=upload_id) for i, kind in enumerate(kinds)]


def test_the_pairing_map_declares_what_an_upload_expects() -> None:
    # one answer per job of the catalogue; a rejection or a failure closes the upload instead
    assert PAIRINGS[EventType.IMAGE_UPLOADED] == {job.response for job in JOBS}
    assert not PAIRINGS[EventType.IMAGE_UPLOADED] & JOB_OUTCOMES


def test_an_image_with_only_an_upload_request_is_pending_until_the_window_and_grace_pass() -> None:
    state = derive_state([requested(expires_in=600)], TIMEOUT)
    assert state.status is ImageStatus.PENDING
    assert state.deadline == T0 + timedelta(seconds=598) + TIMEOUT


def test_an_upload_window_nobody_used_ends_expired_and_a_late_upload_still_counts() -> None:
    expired = event(EventType.UPLOAD_EXPIRED, 900, causation=requested().event_id)
    state = derive_state([requested(), expired], TIMEOUT)
    assert (state.status, state.reason_code, state.deadline) == (ImageStatus.EXPIRED, "upload_expired", None)
    assert derive_state([requested(), expired, uploaded(at=901)], TIMEOUT).status is ImageStatus.PROCESSING


def test_an_uploaded_image_is_processing_until_every_response_arrives() -> None:
    # Given an upload and all of its responses but one
    events = [requested(), uploaded(), *responses()[:-1]]
    # When its state is derived
    state = derive_state(events, TIMEOUT)
    # Then it is still processing, names what is missing and when it is due
    assert state.status is ImageStatus.PROCESSING
    assert state.missing == (sorted(PAIRINGS[EventType.IMAGE_UPLOADED])[-1],)
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
    assert len(state.missing) == len(PAIRINGS[EventType.IMAGE_UPLOADED]) - 1


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
    second = f"{IMAGE}@0002"
    events = [uploaded(), *responses(), uploaded(second, at=10)]
    state = derive_state(events, TIMEOUT)
    assert state.status is ImageStatus.PROCESSING
    assert state.current is not None
    assert state.current.request_id == second


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(4))))
def test_the_latest_upload_by_s3_sequencer_is_described_whatever_the_arrival_order(arrival: tuple[int, ...]) -> None:
    # Two uploads within the same second (EventBridge times have second precision on AWS)
    first, second = f"{IMAGE}@00000660DE05D48F03", f"{IMAGE}@00000660DE05D48F0A"
    pool = [uploaded(first, at=0.2), uploaded(second, at=0.1), *responses(first)[:1], *responses(second)]
    state = derive_state([pool[i] for i in arrival] + pool[4:], TIMEOUT)
    assert state.current is not None
    assert state.current.request_id == second
    assert state.status is ImageStatus.COMPLETE
    assert {e.causation_id for e in state.responses().values()} == {second}


def test_responses_to_an_upload_never_announced_do_not_hide_the_announced_one() -> None:
    # e.g. a sample event invoked by hand with a made-up sequencer
    stray = responses(f"{IMAGE}@FFFF", start=50)[:1]
    state = derive_state([uploaded(), *responses(), *stray], TIMEOUT)
    assert (state.status, state.current.request_id if state.current else None) == (ImageStatus.COMPLETE, UPLOAD_ID)


def test_a_superseded_upload_waits_for_the_newer_one_then_steps_aside() -> None:
    superseded = event(EventType.UPLOAD_SUPERSEDED, 1, message="replaced")
    alone = derive_state([uploaded(), superseded, *responses()[:2]], TIMEOUT)
    assert (alone.status, alone.reason_code) == (ImageStatus.PROCESSING, "superseded")
    newer = f"{IMAGE}@0002"
    state = derive_state([uploaded(), superseded, uploaded(newer, at=1), *responses(newer, start=2)], TIMEOUT)
    assert state.status is ImageStatus.COMPLETE


def test_the_trace_orders_events_and_ties_each_response_to_its_request() -> None:
    events = [*responses(), uploaded(), requested()]  # stored in any order
    timeline = [entry.to_dict() for entry in trace(events)]
    assert [e["type"] for e in timeline[:2]] == ["UploadRequested", "ImageUploaded"]
    assert [e["offsetMs"] for e in timeline] == sorted(e["offsetMs"] for e in timeline)
    assert timeline[0]["latencyMs"] is None  # before the upload
    assert timeline[1]["latencyMs"] == 0
    for entry, seconds in zip(timeline[2:], range(1, len(responses()) + 1), strict=True):
        assert entry["answers"] == {"type": "ImageUploaded", "eventId": UPLOAD_ID}
        assert entry["latencyMs"] == seconds * 1000


@pytest.mark.parametrize("kind", list(EventType))
def test_every_event_type_round_trips_through_the_envelope(kind: EventType) -> None:
    original = event(kind, 1.5, note="x")
    copy = PipelineEvent.from_detail(kind.value, original.detail())
    assert copy == original
