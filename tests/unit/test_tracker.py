"""The tracker records every event once and follows each image to a final status; the sweeper
reports the images whose responses never came."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType, SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from image_pipeline import catalogue, contracts
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.catalogue import ImageStatus
from image_pipeline.edits import EditSource, edit_requested, outcome_event_id, parse_edit_request
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.tracker import record_event, sweep_overdue
from tests import samples
from tests.conftest import load_event
from tests.fakes import InMemoryImageLog, RecordingPublisher

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"


def _bus_event(event: PipelineEvent) -> dict[str, Any]:
    """A pipeline event as EventBridge delivers it to a rule target."""
    return {
        "version": "0",
        "id": "a1b2",
        "detail-type": event.type.value,
        "source": "image-pipeline",
        "account": "123456789012",
        "time": event.occurred_at.isoformat(),
        "region": "us-east-1",
        "resources": [],
        "detail": event.detail(),
    }


UPLOAD = f"{IMAGE}@0A1B2C3D4E5F678901"


def _uploaded_at(moment: datetime, sequencer: str = "0A1B2C3D4E5F678901") -> dict[str, Any]:
    """ImageUploaded as IntakeFunction announces it on the app bus."""
    uploaded = samples.event(
        EventType.IMAGE_UPLOADED, event_id=f"{IMAGE}@{sequencer}", at=moment, version=sequencer, sequencer=sequencer
    )
    return _bus_event(uploaded)


def _response(kind: EventType, at: datetime, upload: str = UPLOAD) -> dict[str, Any]:
    """An answer as its owner publishes it (the tracker takes each type only from its owner)."""
    return _bus_event(samples.event(kind, causation_id=upload, at=at))


@pytest.fixture
def tracker(aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object) -> Any:
    loaded: list[ModuleType] = []

    def call(event: dict[str, Any]) -> Any:
        if not loaded:  # a cold start on first use, inside the test (see load_handler)
            loaded.append(load_handler("TrackerFunction", STALL_TIMEOUT_SECONDS="2"))
        return loaded[0].lambda_handler(event, lambda_context)

    return call


def test_the_upload_and_its_responses_complete_the_image(tracker: Any) -> None:
    now = datetime.now(UTC)
    assert tracker(_uploaded_at(now))["status"] == "PROCESSING"
    awaited = sorted(job.response.value for job in catalogue.JOBS)
    for answered, job in enumerate(catalogue.JOBS, start=1):
        summary = tracker(_response(job.response, now + timedelta(milliseconds=answered)))
        assert summary["missing"] == sorted(set(awaited) - {j.response.value for j in catalogue.JOBS[:answered]})
    assert summary == {
        "recorded": True,
        "imageId": IMAGE,
        "event": catalogue.JOBS[-1].response.value,
        "status": "COMPLETE",
        "missing": [],
        "announced": 2,  # PROCESSING was version 1
        "editAnnounced": None,  # no edit
    }


def test_a_duplicate_delivery_is_recorded_once(tracker: Any, aws: SimpleNamespace) -> None:
    event = load_event("app-thumbnail-created.json")
    assert tracker(event)["recorded"] is True
    assert tracker(event)["recorded"] is False
    assert len(DynamoImageLog(aws.ImagesTable).events(IMAGE)) == 1


def test_unknown_events_are_logged_and_ignored(tracker: Any, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = load_event("app-thumbnail-created.json")
    unknown["detail-type"] = "SomethingNew"
    result = tracker(unknown)
    assert result["recorded"] is False
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line["level"] == "WARNING" and "SomethingNew" in line["why"] for line in logged)


def test_every_log_line_carries_the_image_id(tracker: Any, capsys: pytest.CaptureFixture[str]) -> None:
    tracker(load_event("app-thumbnail-created.json"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines
    assert {line.get("correlation_id") for line in lines} == {IMAGE}


def test_a_missing_response_ends_stalled_by_status_event_and_metric(
    tracker: Any,
    aws: SimpleNamespace,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an upload whose analysis never answers (every other job does), past its 2 s deadline
    uploaded = datetime.now(UTC) - timedelta(seconds=5)
    tracker(_uploaded_at(uploaded))
    for job in catalogue.JOBS:
        if job.response is not EventType.IMAGE_ANALYZED:
            tracker(_response(job.response, uploaded + timedelta(seconds=1)))
    # When the sweeper runs
    sweeper = load_handler("StallSweeperFunction", STALL_TIMEOUT_SECONDS="2")
    published = RecordingPublisher()
    log = DynamoImageLog(aws.ImagesTable)
    capsys.readouterr()
    result = sweeper.lambda_handler(load_event("schedule.json"), lambda_context, adapters=(log, published))
    # Then it publishes ImageProcessingStalled naming what is missing...
    assert result == {"stalled": [{"imageId": IMAGE, "missing": ["ImageAnalyzed"]}], "expired": [], "postponed": 0}
    (stall,) = published.published
    assert stall.type is EventType.IMAGE_PROCESSING_STALLED
    assert stall.data["missing"] == ["ImageAnalyzed"]
    # ...emits the StalledImages metric the alarm watches...
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["StalledImages"] for m in metrics if "StalledImages" in m] == [[1.0]]  # one record, one stall
    # ...and once the tracker records the stall, the image reads STALLED
    assert tracker(_bus_event(stall))["status"] == "STALLED"
    # A second sweep finds nothing new to report
    again = RecordingPublisher()
    assert sweeper.lambda_handler(load_event("schedule.json"), lambda_context, adapters=(log, again)) == {
        "stalled": [],
        "expired": [],
        "postponed": 0,
    }
    # and the answer arriving late still completes the image
    assert tracker(_response(EventType.IMAGE_ANALYZED, datetime.now(UTC)))["status"] == "COMPLETE"


def test_the_sweeper_ignores_images_that_completed_in_time(
    tracker: Any, aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    uploaded = datetime.now(UTC) - timedelta(seconds=5)
    tracker(_uploaded_at(uploaded))
    for job in catalogue.JOBS:
        tracker(_response(job.response, uploaded + timedelta(seconds=1)))
    sweeper = load_handler("StallSweeperFunction", STALL_TIMEOUT_SECONDS="2")
    published = RecordingPublisher()
    result = sweeper.lambda_handler(
        load_event("schedule.json"), lambda_context, adapters=(DynamoImageLog(aws.ImagesTable), published)
    )
    assert result == {"stalled": [], "expired": [], "postponed": 0}
    assert published.published == []


def test_overlapping_sweeps_report_and_count_a_stall_once(
    tracker: Any, aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given an overdue upload, and two sweeps that both run before the tracker hears of the stall
    tracker(_uploaded_at(datetime.now(UTC) - timedelta(seconds=5)))
    sweeper = load_handler("StallSweeperFunction", STALL_TIMEOUT_SECONDS="2")
    log, first, second = DynamoImageLog(aws.ImagesTable), RecordingPublisher(), RecordingPublisher()
    one = sweeper.lambda_handler(load_event("schedule.json"), lambda_context, adapters=(log, first))
    two = sweeper.lambda_handler(load_event("schedule.json"), lambda_context, adapters=(log, second))
    # Then both may publish the verdict (same event id: the tracker records it once)...
    assert [e.event_id for e in first.published] == [e.event_id for e in second.published] == [f"stalled:{UPLOAD}"]
    # ...but only one sweep counts it
    assert len(one["stalled"]) + len(two["stalled"]) == 1


def _overdue_upload(log: DynamoImageLog, image: str, uploaded: datetime) -> None:
    """An upload nothing answered, recorded with its deadline (a 2 s stall timeout)."""
    log.append(
        PipelineEvent.new(
            EventType.IMAGE_UPLOADED,
            image_id=image,
            producer="IntakeFunction",
            event_id=f"{image}@01",
            occurred_at=uploaded,
            data={"sequencer": "01"},
        )
    )
    log.set_deadline(image, uploaded + timedelta(seconds=2), seen=1)


def test_the_sweeper_reads_every_page_of_overdue_images(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    log = DynamoImageLog(aws.ImagesTable)
    uploaded = datetime.now(UTC) - timedelta(seconds=30)
    images = [f"{n:032x}" for n in range(130)]  # more than one 100-item page of the index
    for image in images:
        _overdue_upload(log, image, uploaded)
    sweeper = load_handler("StallSweeperFunction", STALL_TIMEOUT_SECONDS="2")
    published = RecordingPublisher()
    result = sweeper.lambda_handler(load_event("schedule.json"), lambda_context, adapters=(log, published))
    assert sorted(s["imageId"] for s in result["stalled"]) == images


def test_a_sweep_cut_short_keeps_what_it_published_and_the_next_goes_on_from_the_oldest(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given 25 overdue uploads, each a second older than the next, and a sweep that runs out of
    # time after looking at 12 of them (the store is slow: a burst on the engine, a throttled table)
    log = DynamoImageLog(aws.ImagesTable)
    now = datetime.now(UTC)
    images = [f"{n:032x}" for n in range(25)]
    for age, image in enumerate(reversed(images)):
        _overdue_upload(log, image, now - timedelta(seconds=30 + age))
    # When a sweep is killed while looking at the 13th (Lambda's timeout: nothing after it runs)
    killed = RecordingPublisher()
    reads = iter(range(100))

    class Slow(DynamoImageLog):
        def events(self, image_id: str) -> list[PipelineEvent]:
            if next(reads) == 12:
                raise TimeoutError("Task timed out after 60.00 seconds")
            return super().events(image_id)

    with pytest.raises(TimeoutError):
        sweep_overdue(Slow(aws.ImagesTable), killed, now=now, stall_timeout=timedelta(seconds=2), producer="S")
    # Then the verdicts of its first full batch are out, the oldest first
    assert [e.image_id for e in killed.published] == images[:10]
    # A sweep told it is out of time after 12 looks stops there and publishes what it found
    published = RecordingPublisher()
    looks = iter(range(100))
    swept = sweep_overdue(
        log,
        published,
        now=now,
        stall_timeout=timedelta(seconds=2),
        producer="StallSweeper",
        out_of_time=lambda: next(looks) >= 12,
    )
    assert [e.image_id for e in published.published] == images[:12]
    assert swept.postponed == 13
    # The handler stops like that when the Lambda's remaining time runs short
    sweeper = load_handler("StallSweeperFunction", STALL_TIMEOUT_SECONDS="2")
    hurried = SimpleNamespace(**vars(lambda_context), get_remaining_time_in_millis=lambda: sweeper.RESERVE_MS - 1)
    nothing = RecordingPublisher()
    result = sweeper.lambda_handler(load_event("schedule.json"), hurried, adapters=(log, nothing))
    assert (result["postponed"], nothing.published) == (25, [])
    # and a sweep with time reports the rest: the first ten again (no tracker recorded them yet)
    rest = RecordingPublisher()
    result = sweeper.lambda_handler(load_event("schedule.json"), lambda_context, adapters=(log, rest))
    assert [e.image_id for e in rest.published] == images
    assert sorted(s["imageId"] for s in result["stalled"]) == images[12:]  # each counted once
    assert result["postponed"] == 0


def test_a_tracker_that_dies_reading_the_log_leaves_the_upload_looked_at_by_its_deadline() -> None:
    # Given an image created long before its upload (its upload URL is valid for an hour)...
    class Dying(InMemoryImageLog):
        dying = True

        def events(self, image_id: str) -> list[PipelineEvent]:
            if self.dying:  # the slow part of every tracker, where an overloaded one times out
                raise TimeoutError("Task timed out after 10.00 seconds")
            return super().events(image_id)

    timeout = timedelta(seconds=30)
    uploaded = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    images = Dying()
    images.set_deadline(IMAGE, uploaded + timedelta(hours=1), seen=1)
    # ...whose upload, and every answer but one, reached trackers that died reading the log
    for event in (_uploaded_at(uploaded), _response(EventType.THUMBNAIL_CREATED, uploaded + timedelta(seconds=1))):
        with pytest.raises(TimeoutError):
            record_event(PipelineEvent.from_eventbridge(event), images, timeout, RecordingPublisher(), now=uploaded)
    images.dying = False
    # When the sweeper runs at the upload's deadline, not the upload URL's
    published = RecordingPublisher()
    swept = sweep_overdue(images, published, now=uploaded + timeout, stall_timeout=timeout, producer="StallSweeper")
    # Then the stall is reported, naming every answer that did not come
    (stall,) = swept.stalled
    assert set(stall.data["missing"]) == {j.response.value for j in catalogue.JOBS} - {"ThumbnailCreated"}


def test_an_upload_url_nobody_used_ends_expired(
    tracker: Any, aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given an image whose upload window closed 5 s ago (grace: the 2 s stall timeout)
    api = load_handler("ApiFunction", STALL_TIMEOUT_SECONDS="2", UPLOAD_URL_TTL_SECONDS="1")
    created = api.lambda_handler(load_event("api-post-images.json"), lambda_context)
    image_id = json.loads(created["body"])["imageId"]
    log = DynamoImageLog(aws.ImagesTable)
    assert log.overdue(datetime.now(UTC) + timedelta(seconds=5)) == [image_id]
    # When the sweeper runs after the window and the grace
    sweeper = load_handler("StallSweeperFunction", STALL_TIMEOUT_SECONDS="2")
    published = RecordingPublisher()

    later = datetime.now(UTC) + timedelta(seconds=5)
    with mock.patch.object(sweeper, "datetime", wraps=datetime) as clock:
        clock.now.return_value = later
        result = sweeper.lambda_handler(load_event("schedule.json"), lambda_context, adapters=(log, published))
    # Then it announces UploadExpired, and once recorded the image is EXPIRED and closed
    assert result["expired"] == [image_id]
    (expired,) = published.published
    assert expired.type is EventType.UPLOAD_EXPIRED
    summary = tracker(_bus_event(expired))
    assert summary["status"] == "EXPIRED"
    assert log.overdue(later + timedelta(days=1)) == []


def test_an_event_from_a_producer_that_does_not_own_its_type_is_refused(
    tracker: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a ThumbnailCreated that claims to come from the analyzer (a forgery or a bug)
    forged = _response(EventType.THUMBNAIL_CREATED, datetime.now(UTC))
    forged["detail"]["metadata"]["producer"] = "AnalyzeFunction"
    # When the tracker hears it, then it records nothing and says why
    result = tracker(forged)
    assert result["recorded"] is False
    assert "ThumbnailCreated comes only from ThumbnailFunction" in result["reason"]
    # while the same event from its owner is recorded
    assert tracker(_response(EventType.THUMBNAIL_CREATED, datetime.now(UTC)))["recorded"] is True


@pytest.mark.parametrize(
    ("after_deadline", "stalled"),
    [(-timedelta(milliseconds=1), False), (timedelta(0), True), (timedelta(milliseconds=1), True)],
    ids=["a-moment-before", "at-the-deadline", "a-moment-after"],
)
def test_an_upload_is_stalled_from_its_deadline_on_and_not_a_moment_before(
    after_deadline: timedelta, stalled: bool
) -> None:
    # Given an upload that only its thumbnail answered, with a 30 s stall timeout
    images, publisher, timeout = InMemoryImageLog(), RecordingPublisher(), timedelta(seconds=30)
    uploaded = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for event in (_uploaded_at(uploaded), _response(EventType.THUMBNAIL_CREATED, uploaded + timedelta(seconds=1))):
        record_event(PipelineEvent.from_eventbridge(event), images, timeout, RecordingPublisher(), now=uploaded)
    # When the sweeper looks around its deadline
    swept = sweep_overdue(
        images, publisher, now=uploaded + timeout + after_deadline, stall_timeout=timeout, producer="StallSweeper"
    )
    # Then it reports the stall from the deadline on, and nothing a moment before it
    assert bool(swept.stalled) is stalled
    assert len(publisher.published) == int(stalled)


# ---------------------------------------------------------------- the one verdict, announced
TIMEOUT = timedelta(seconds=30)


def _record(images: InMemoryImageLog, publisher: RecordingPublisher, *events: dict[str, Any]) -> None:
    for event in events:
        received = PipelineEvent.from_eventbridge(event)
        record_event(received, images, TIMEOUT, publisher, now=received.occurred_at + timedelta(milliseconds=5))


def _announced(publisher: RecordingPublisher) -> list[tuple[int, str, str | None]]:
    return [(e.data["version"], e.data["status"], e.data["previous"]) for e in publisher.published]


def test_every_status_change_is_announced_once_in_versions_that_only_grow() -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    uploaded = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    answers = [_response(job.response, uploaded + timedelta(seconds=2)) for job in catalogue.JOBS]
    # Given an upload and every answer, one of them delivered twice
    _record(images, publisher, _uploaded_at(uploaded), *answers, answers[0])
    # Then PROCESSING, then COMPLETE: two announcements, the duplicate changed nothing
    assert _announced(publisher) == [(1, "PROCESSING", None), (2, "COMPLETE", "PROCESSING")]
    complete = publisher.published[-1]
    assert complete.data["final"] is True
    assert complete.data["latencyMs"] == 2000  # the one latency: upload -> the answer that completed it
    assert complete.data["upload"]["version"] == "0A1B2C3D4E5F678901"
    assert complete.event_id == f"status:{IMAGE}:2"
    contracts.validate(complete.type.value, complete.detail())


def test_a_re_upload_after_a_rejection_moves_the_image_on_and_says_from_where() -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    first = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rejected = _response(EventType.IMAGE_REJECTED, first + timedelta(seconds=1))
    _record(images, publisher, _uploaded_at(first), rejected)
    later = first + timedelta(minutes=5)
    second = f"{IMAGE}@0B0000000000000001"
    _record(
        images,
        publisher,
        _uploaded_at(later, sequencer="0B0000000000000001"),
        *(_response(job.response, later + timedelta(seconds=3), upload=second) for job in catalogue.JOBS),
    )
    assert _announced(publisher) == [
        (1, "PROCESSING", None),
        (2, "REJECTED", "PROCESSING"),
        (3, "PROCESSING", "REJECTED"),
        (4, "COMPLETE", "PROCESSING"),
    ]
    assert publisher.published[1].data["reasonCode"] == "truncated"
    assert publisher.published[-1].data["latencyMs"] == 3000


class _Interrupted(InMemoryImageLog):
    """An image log where another tracker stores a status first, once: a lost race."""

    def __init__(self, rival: PipelineEvent) -> None:
        super().__init__()
        self.rival: PipelineEvent | None = rival

    def announce(self, change: PipelineEvent, *, replaces: int) -> bool:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            super().announce(rival, replaces=replaces)
            return False
        return super().announce(change, replaces=replaces)


def test_two_answers_racing_for_one_image_never_announce_the_same_version_twice() -> None:
    uploaded = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rival = samples.event(
        EventType.IMAGE_STATUS_CHANGED,
        event_id=f"status:{IMAGE}:1",
        status="PROCESSING",
        previous=None,
        version=1,
        final=False,
        latencyMs=None,
    )
    images, publisher = _Interrupted(rival), RecordingPublisher()
    _record(images, publisher, _uploaded_at(uploaded))
    # Then the loser re-reads, finds the rival's PROCESSING stored as version 1, and says nothing
    # new: it only sends that one on (unpublished as yet), under the version's own event id
    assert [e.event_id for e in publisher.published] == [f"status:{IMAGE}:1"]
    announcement = images.announcement(IMAGE)
    assert announcement is not None
    assert (announcement.version, announcement.published) == (1, True)


class _FailingOnce(RecordingPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def publish(self, events: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the bus did not answer")
        super().publish(events)


def test_a_status_stored_but_not_published_goes_out_when_the_event_is_retried() -> None:
    images, publisher = InMemoryImageLog(), _FailingOnce()
    upload = _uploaded_at(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    # Given the first delivery stored PROCESSING but could not publish it (Lambda then retries)
    with pytest.raises(ConnectionError):
        _record(images, publisher, upload)
    # When the event comes again, then the stored change goes out, once, under its own id
    _record(images, publisher, upload)
    assert _announced(publisher) == [(1, "PROCESSING", None)]
    _record(images, publisher, upload)
    assert len(publisher.published) == 1


def test_a_forged_answer_with_a_broken_body_is_refused_and_changes_nothing(tracker: Any) -> None:
    now = datetime.now(UTC)
    tracker(_uploaded_at(now))
    # Given every answer, from its rightful producer, but with empty data (anyone allowed to put
    # events on the app bus could send these)
    for job in catalogue.JOBS:
        forged = _response(job.response, now)
        forged["detail"]["data"] = {}
        result = tracker(forged)
        # Then each is refused, saying what broke, and the image is still processing
        assert result["recorded"] is False
        assert result["reason"].startswith("schema_mismatch")
    assert tracker(_uploaded_at(now))["status"] == "PROCESSING"


def test_a_new_upload_that_arrives_complete_is_announced_though_the_status_stays_complete() -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    first = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    _record(images, publisher, _uploaded_at(first), *(_response(j.response, first) for j in catalogue.JOBS))
    # Given a second upload to the same key whose answers all arrive before its announcement
    later, second = first + timedelta(minutes=1), f"{IMAGE}@0B0000000000000001"
    _record(images, publisher, *(_response(j.response, later, upload=second) for j in catalogue.JOBS))
    _record(images, publisher, _uploaded_at(later, sequencer="0B0000000000000001"))
    # Then the image is COMPLETE again, but for another upload: consumers must hear it
    assert _announced(publisher)[-1] == (3, "COMPLETE", "COMPLETE")
    assert publisher.published[-1].data["upload"]["version"] == "0B0000000000000001"


# ---------------------------------------------------------------- an edit's own verdicts
EDITED_AT = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)


def _completed_image(images: InMemoryImageLog, publisher: RecordingPublisher) -> datetime:
    uploaded = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    _record(images, publisher, _uploaded_at(uploaded), *(_response(j.response, uploaded) for j in catalogue.JOBS))
    return uploaded


def _edit_requested(operations: list[dict[str, Any]], at: datetime = EDITED_AT) -> PipelineEvent:
    source = EditSource(bucket="images", key=f"uploads/{IMAGE}.jpg", etag="e1")
    request = parse_edit_request({"operations": operations})
    return edit_requested(IMAGE, source, request, producer="ApiFunction", now=at, causation_id=UPLOAD)


def _outcome(requested: PipelineEvent, kind: EventType, at: datetime, **data: Any) -> dict[str, Any]:
    edit = str(requested.data["editId"])
    answer = samples.event(
        kind, event_id=outcome_event_id(edit, kind), causation_id=requested.event_id, at=at, editId=edit, **data
    )
    return _bus_event(answer)


def _edit_announced(publisher: RecordingPublisher) -> list[tuple[int, str, str | None, bool]]:
    return [
        (e.data["version"], e.data["status"], e.data["previous"], e.data["final"])
        for e in publisher.published
        if e.type is EventType.EDIT_STATUS_CHANGED
    ]


@pytest.mark.parametrize(
    ("outcome", "status", "reason_code"),
    [
        (EventType.EDIT_COMPLETED, "COMPLETE", None),
        (EventType.EDIT_REJECTED, "REJECTED", "unsupported_format"),
        (EventType.EDIT_FAILED, "FAILED", "step_failed"),
    ],
)
def test_an_edit_is_announced_running_then_final_in_versions_of_its_own(
    outcome: EventType, status: str, reason_code: str | None
) -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    _completed_image(images, publisher)
    image_versions = _announced(publisher)
    # Given an edit of the complete image, and its outcome 1.5 s later
    requested = _edit_requested([{"filter": "sepia"}])
    _record(images, publisher, _bus_event(requested))
    _record(images, publisher, _outcome(requested, outcome, EDITED_AT + timedelta(milliseconds=1500)))
    # Then the edit is RUNNING (version 1), then final (version 2), apart from the image's versions
    assert _edit_announced(publisher) == [(1, "RUNNING", None, False), (2, status, "RUNNING", True)]
    final = publisher.published[-1]
    edit = requested.data["editId"]
    assert (final.data["editId"], final.data["reasonCode"], final.data["latencyMs"]) == (edit, reason_code, 1500)
    assert final.event_id == f"edit-status:{edit}:2"
    assert final.data["requestedAt"] == EDITED_AT.isoformat()
    for announced in publisher.published:
        contracts.validate(announced.type.value, announced.detail())
    # and the image's own status never moved (an edit is not the image)
    assert [(v, s, p) for v, s, p in image_versions] == [
        (e.data["version"], e.data["status"], e.data["previous"])
        for e in publisher.published
        if e.type is EventType.IMAGE_STATUS_CHANGED
    ]


def test_an_edit_that_stalls_is_announced_stalled_not_final_and_a_late_answer_completes_it() -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    _completed_image(images, publisher)
    requested = _edit_requested([{"filter": "blur"}])
    _record(images, publisher, _bus_event(requested))
    # Given the sweeper finds the edit unanswered, just past its deadline (not a moment before)
    sweeps = RecordingPublisher()
    deadline = EDITED_AT + TIMEOUT
    early = sweep_overdue(images, sweeps, now=deadline - timedelta(milliseconds=1), stall_timeout=TIMEOUT, producer="x")
    assert early.stalled == []
    sweep_overdue(images, sweeps, now=deadline, stall_timeout=TIMEOUT, producer="StallSweeper")
    (stall,) = sweeps.published
    _record(images, publisher, _bus_event(stall))
    # When its answer arrives late, and again (at least once delivery)
    late = _outcome(requested, EventType.EDIT_COMPLETED, deadline + timedelta(seconds=10))
    _record(images, publisher, late, late)
    # Then: RUNNING, STALLED (not final: an answer may still come), COMPLETE, each once
    assert _edit_announced(publisher) == [
        (1, "RUNNING", None, False),
        (2, "STALLED", "RUNNING", False),
        (3, "COMPLETE", "STALLED", True),
    ]
    assert publisher.published[-1].data["latencyMs"] == (TIMEOUT + timedelta(seconds=10)).total_seconds() * 1000


def test_two_edits_of_one_image_count_their_versions_apart() -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    _completed_image(images, publisher)
    first, second = _edit_requested([{"filter": "sepia"}]), _edit_requested([{"filter": "blur"}])
    _record(images, publisher, _bus_event(first), _bus_event(second))
    _record(images, publisher, _outcome(second, EventType.EDIT_COMPLETED, EDITED_AT + timedelta(seconds=1)))
    by_edit = [
        (e.data["editId"], e.data["version"], e.data["status"]) for e in publisher.published if "editId" in e.data
    ]
    assert by_edit == [
        (first.data["editId"], 1, "RUNNING"),
        (second.data["editId"], 1, "RUNNING"),
        (second.data["editId"], 2, "COMPLETE"),
    ]


def test_an_edit_status_stored_but_not_published_goes_out_when_the_event_is_retried() -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    _completed_image(images, publisher)
    failing = _FailingOnce()
    requested = _bus_event(_edit_requested([{"filter": "sepia"}]))
    with pytest.raises(ConnectionError):
        _record(images, failing, requested)
    _record(images, failing, requested)
    assert _edit_announced(failing) == [(1, "RUNNING", None, False)]


@pytest.mark.parametrize("receipt", sorted(catalogue.RECEIPTS))
def test_a_receipt_is_recorded_and_traced_but_never_changes_or_announces_a_status(receipt: EventType) -> None:
    images, publisher = InMemoryImageLog(), RecordingPublisher()
    uploaded = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    # Given an image still processing (one answer missing), and an edit of it running
    _record(images, publisher, _uploaded_at(uploaded), _response(catalogue.JOBS[0].response, uploaded))
    processing = publisher.published[-1]
    requested = _edit_requested([{"filter": "sepia"}], at=uploaded + timedelta(seconds=1))
    _record(images, publisher, _bus_event(requested))
    running = publisher.published[-1]
    assert (processing.type, running.type) == (EventType.IMAGE_STATUS_CHANGED, EventType.EDIT_STATUS_CHANGED)
    before = len(publisher.published)
    # When the requester is told of a status (pushed, a webhook attempted): the image's, the edit's
    for cause in (processing, running, requested):
        told = samples.event(receipt, causation_id=cause.event_id, at=uploaded + timedelta(seconds=3))
        result = record_event(told, images, TIMEOUT, publisher, now=uploaded + timedelta(seconds=4))
        # Then it is recorded (the trace shows it), and nothing is announced, nothing moved
        assert not result.duplicate
        assert result.announced is None
        assert result.edit_announced is None
        assert result.state.status is ImageStatus.PROCESSING
        assert told.event_id in [e.event_id for e in images.events(IMAGE)]
    assert len(publisher.published) == before
    assert receipt not in catalogue.PAIRINGS
    assert all(receipt not in expected for expected in catalogue.PAIRINGS.values())
