"""make reprocess's item function: for each stored upload it asks the renditions job again exactly
when the image's outputs are older than the current specs, once per upload and spec version, and
follows the request until its answer (or its reason) has come."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from image_pipeline import contracts
from image_pipeline.aws.sqs import SendFailed, SqsJobFeed
from image_pipeline.catalogue import JOBS, EventType
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.events import PipelineEvent
from image_pipeline.ports import JobFeed
from image_pipeline.reprocessing import (
    FAILURES,
    Item,
    Outcome,
    Progress,
    Reprocessor,
    listed_key,
    request_id,
    step,
)
from image_pipeline.settings import Settings
from image_pipeline.uploads import parse_uploads
from tests import samples, template
from tests.fakes import InMemoryImageLog, RecordingFeed, RecordingPublisher

IMAGE = samples.IMAGE
KEY = f"uploads/{IMAGE}.jpg"
VERSION = "0A1B2C3D4E5F678901"
UPLOAD = f"{IMAGE}@{VERSION}"
OLD, NEW = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
STALL = timedelta(seconds=300)
ANSWER_TIMEOUT = timedelta(seconds=240)


def uploaded(version: str = VERSION, at: datetime = T0) -> PipelineEvent:
    return samples.event(
        EventType.IMAGE_UPLOADED,
        event_id=f"{IMAGE}@{version}",
        at=at,
        version=version,
        sequencer=version,
        etag="9b2cf535f27731c974343645a3985328",
        size=48213,
    )


def renditions(cause: str, spec: str | None, at: datetime, **data: Any) -> PipelineEvent:
    made = {"specVersion": spec} if spec else {}
    return samples.event(EventType.RENDITIONS_CREATED, causation_id=cause, at=at, **made, **data)


def stored_image(spec: str | None = OLD, version: str = VERSION) -> InMemoryImageLog:
    """An image whose one upload got every answer, its renditions made to ``spec``."""
    images = InMemoryImageLog()
    upload = uploaded(version)
    images.append(upload)
    images.append(renditions(upload.event_id, spec, T0 + timedelta(seconds=2)))
    for job in JOBS:
        if job.response is not EventType.RENDITIONS_CREATED:
            images.append(samples.event(job.response, causation_id=upload.event_id, at=T0 + timedelta(seconds=1)))
    return images


class Stage:
    """The item function's ports, in memory, at the current specs NEW."""

    def __init__(self, images: InMemoryImageLog | None = None) -> None:
        self.images = images or stored_image()
        self.publisher = RecordingPublisher()
        self.feed = RecordingFeed()
        self.reprocessor = Reprocessor(
            images=self.images,
            publisher=self.publisher,
            feed=self.feed,
            spec_version=NEW,
            stall_timeout=STALL,
            answer_timeout=ANSWER_TIMEOUT,
        )

    def request(self, *keys: str, at: datetime = T0 + timedelta(hours=1), run: str = "run-1") -> Progress:
        return self.reprocessor.request(list(keys) or [KEY], run=run, now=at)

    def check(self, progress: Progress, at: datetime) -> Progress:
        return self.reprocessor.check(progress, now=at)

    def answer(self, kind: EventType, at: datetime, **data: Any) -> PipelineEvent:
        """The job's answer to the reprocess request, recorded as the tracker would."""
        (request,) = self.publisher.published
        answer = samples.event(kind, causation_id=request.event_id, at=at, **data)
        self.images.append(answer)
        return answer


AFTER = T0 + timedelta(hours=1)


# ---------------------------------------------------------------- what it asks, and when
def test_outputs_older_than_the_specs_are_asked_for_again_through_the_jobs_own_queue() -> None:
    # Given an image whose renditions were made to older specs
    stage = Stage()
    # When the item function meets its upload in the listing
    progress = stage.request(KEY, at=AFTER)
    # Then it records and announces one request, named by upload and spec version
    (item,) = progress.items
    assert (item.outcome, item.request) == (Outcome.REQUESTED, f"reprocess:{UPLOAD}:{NEW}")
    (request,) = stage.publisher.published
    assert request.event_id == request_id(UPLOAD, NEW) == item.request
    assert (request.type, request.causation_id) == (EventType.REPROCESS_REQUESTED, UPLOAD)
    assert request.data["specVersion"] == NEW
    assert request.data["previousSpecVersion"] == OLD
    assert request.data["run"] == "run-1"
    assert str(contracts.validate("ReprocessRequested", request.detail())) == "ReprocessRequested v1"
    assert request in stage.images.events(IMAGE)
    # and hands the job the upload as the job reads any upload, marked with that request
    (message,) = stage.feed.sent()
    (upload,) = parse_uploads(message, function="RenditionWorker").uploads
    assert (upload.bucket, upload.key, upload.sequencer, upload.etag) == (
        "images",
        KEY,
        VERSION,
        "9b2cf535f27731c974343645a3985328",
    )
    assert (upload.upload_id, upload.request_id) == (UPLOAD, request.event_id)
    assert progress.to_dict()["pending"] == 1


def test_outputs_made_to_the_current_specs_are_left_alone() -> None:
    stage = Stage(stored_image(spec=NEW))
    (item,) = stage.request().items
    assert item.outcome is Outcome.CURRENT
    assert stage.publisher.published == []
    assert stage.feed.sent() == []
    assert Progress((item,)).to_dict() | {"items": []} == {
        "items": [],
        "pending": 0,
        "failed": 0,
        "outcomes": {"current": 1},
        "cause": None,
    }


def test_outputs_made_before_specs_had_versions_are_out_of_date() -> None:
    stage = Stage(stored_image(spec=None))
    stage.request()
    (request,) = stage.publisher.published
    assert request.data["previousSpecVersion"] is None


def test_the_images_latest_upload_is_the_one_asked_for() -> None:
    # Given an image uploaded twice to one key, the older upload's outputs current, the newer's not
    images = stored_image(spec=NEW)
    newer = uploaded("0A1B2C3D4E5F679000", at=T0 + timedelta(minutes=5))
    images.append(newer)
    images.append(renditions(newer.event_id, OLD, T0 + timedelta(minutes=6)))
    stage = Stage(images)
    # When the item function meets the key
    (item,) = stage.request().items
    # Then it asks for the newer upload's renditions
    assert item.request == request_id(newer.event_id, NEW)
    (message,) = stage.feed.sent()
    assert message["detail"]["object"]["sequencer"] == "0A1B2C3D4E5F679000"


def test_asking_twice_is_asking_once_while_the_first_request_is_open() -> None:
    stage = Stage()
    first = stage.request(at=AFTER)
    again = stage.request(at=AFTER + timedelta(seconds=30), run="run-2")
    assert [i.request for i in first.items] == [i.request for i in again.items]
    assert again.items[0].outcome is Outcome.REQUESTED
    assert len(stage.publisher.published) == 1
    assert len(stage.feed.sent()) == 1
    assert sum(e.type is EventType.REPROCESS_REQUESTED for e in stage.images.events(IMAGE)) == 1


def test_a_rerun_after_the_answer_does_nothing() -> None:
    stage = Stage()
    stage.request(at=AFTER)
    stage.answer(EventType.RENDITIONS_CREATED, AFTER + timedelta(seconds=3), specVersion=NEW, reprocess=True)
    (item,) = stage.request(at=AFTER + timedelta(minutes=1), run="run-2").items
    assert item.outcome is Outcome.CURRENT
    assert (len(stage.publisher.published), len(stage.feed.sent())) == (1, 1)


def test_a_stalled_request_is_sent_to_the_job_again_by_the_next_run_and_waited_for_afresh() -> None:
    # Given a request whose delivery was lost: the sweeper reported it stalled
    stage = Stage()
    (asked,) = stage.request(at=AFTER).items
    stage.images.append(
        samples.event(
            EventType.IMAGE_PROCESSING_STALLED,
            causation_id=asked.request,
            at=AFTER + STALL,
            request="ReprocessRequested",
        )
    )
    # When a later run meets the upload
    later = AFTER + STALL + timedelta(minutes=1)
    progress = stage.request(at=later, run="run-2")
    # Then the upload goes to the job again, under the same request (nothing new recorded)
    assert len(stage.feed.sent()) == 2
    assert len(stage.publisher.published) == 1
    (item,) = progress.items
    assert (item.outcome, item.request) == (Outcome.REQUESTED, asked.request)
    # and the old stall does not end the new wait
    assert stage.check(progress, later + timedelta(seconds=2)).items[0].outcome is Outcome.REQUESTED


# ---------------------------------------------------------------- what cannot be asked
def test_an_object_the_image_log_has_no_upload_of_fails_its_item_with_a_reason() -> None:
    stage = Stage(InMemoryImageLog())
    progress = stage.request()
    (item,) = progress.items
    assert item.outcome is Outcome.UNREGISTERED
    assert item.outcome in FAILURES
    assert item.reason == "unregistered"
    assert KEY in str(progress.to_dict()["cause"])
    assert (stage.publisher.published, stage.feed.sent()) == ([], [])


@pytest.mark.parametrize("key", ["uploads/", "outputs/x/1/thumbnail.jpg"])
def test_a_listed_object_that_is_no_upload_is_ignored_not_failed(key: str) -> None:
    (item,) = Stage().request(key).items
    assert item.outcome is Outcome.IGNORED
    assert item.outcome not in FAILURES


# ---------------------------------------------------------------- following the request
@pytest.mark.parametrize(
    ("kind", "data", "outcome", "reason"),
    [
        (EventType.RENDITIONS_CREATED, {"specVersion": NEW, "reprocess": True}, Outcome.RENDERED, None),
        (EventType.RENDITIONS_CREATED, {"specVersion": OLD, "reprocess": True}, Outcome.SPEC_MISMATCH, "spec_mismatch"),
        (EventType.IMAGE_REJECTED, {"reason": "truncated", "reprocess": True}, Outcome.REJECTED, "truncated"),
        (EventType.IMAGE_PROCESSING_FAILED, {"reason": "source_missing"}, Outcome.FAILED, "source_missing"),
        (EventType.UPLOAD_SUPERSEDED, {}, Outcome.SUPERSEDED, None),
    ],
)
def test_the_request_settles_by_its_answer(
    kind: EventType, data: dict[str, Any], outcome: Outcome, reason: str | None
) -> None:
    stage = Stage()
    asked = stage.request(at=AFTER)
    assert stage.check(asked, AFTER + timedelta(seconds=2)).items[0].outcome is Outcome.REQUESTED
    stage.answer(kind, AFTER + timedelta(seconds=3), **data)
    settled = stage.check(asked, AFTER + timedelta(seconds=4))
    (item,) = settled.items
    assert (item.outcome, item.reason) == (outcome, reason)
    assert settled.to_dict()["failed"] == (outcome in FAILURES)


def test_a_broken_image_fails_its_item_alone_with_the_jobs_reason() -> None:
    # Given two stored images, one of which the job refuses
    images = stored_image()
    other = "0123456789abcdef0123456789abcdef"
    upload = samples.event(EventType.IMAGE_UPLOADED, image_id=other, event_id=f"{other}@{VERSION}", at=T0)
    images.append(upload)
    stage = Stage(images)
    progress = stage.request(KEY, f"uploads/{other}.jpg", at=AFTER)
    good, broken = (e for e in stage.publisher.published)
    images.append(
        samples.event(
            EventType.RENDITIONS_CREATED, causation_id=good.event_id, at=AFTER, specVersion=NEW, reprocess=True
        )
    )
    images.append(
        samples.event(
            EventType.IMAGE_REJECTED,
            image_id=other,
            causation_id=broken.event_id,
            at=AFTER,
            reason="truncated",
            message="image data ends early",
            reprocess=True,
        )
    )
    # When the item function checks them
    settled = stage.check(progress, AFTER + timedelta(seconds=2)).to_dict()
    # Then one is rendered, and the other fails with the job's reason, naming its key
    assert settled["outcomes"] == {"rendered": 1, "rejected": 1}
    assert settled["failed"] == 1
    assert settled["cause"] == f"uploads/{other}.jpg: truncated (image data ends early)"


@pytest.mark.parametrize(
    ("waited", "outcome"), [(239, Outcome.REQUESTED), (240, Outcome.REQUESTED), (241, Outcome.STALLED)]
)
def test_an_item_waits_for_its_answer_up_to_the_answer_timeout(waited: int, outcome: Outcome) -> None:
    stage = Stage()
    asked = stage.request(at=AFTER)
    (item,) = stage.check(asked, AFTER + timedelta(seconds=waited)).items
    assert item.outcome is outcome


def test_a_stall_the_sweeper_reports_does_not_end_the_wait_a_late_answer_still_counts() -> None:
    stage = Stage()
    asked = stage.request(at=AFTER)
    stall = stage.answer(EventType.IMAGE_PROCESSING_STALLED, AFTER + STALL / 10, request="ReprocessRequested")
    assert stage.check(asked, stall.occurred_at).items[0].outcome is Outcome.REQUESTED
    stage.images.append(
        samples.event(
            EventType.RENDITIONS_CREATED,
            causation_id=asked.items[0].request,
            at=stall.occurred_at + timedelta(seconds=5),
            specVersion=NEW,
            reprocess=True,
        )
    )
    assert stage.check(asked, stall.occurred_at + timedelta(seconds=6)).items[0].outcome is Outcome.RENDERED


def test_items_travel_through_the_workflow_state_as_json_unchanged() -> None:
    stage = Stage()
    progress = stage.request(KEY, "uploads/", at=AFTER)
    carried = json.loads(json.dumps(progress.to_dict()))
    assert Progress.from_dict(carried) == progress
    assert Item.from_dict(carried["items"][0]) == progress.items[0]


# ---------------------------------------------------------------- the workflow's calls
LISTED = {"Etag": '"9b2cf535f27731c974343645a3985328"', "Key": KEY, "LastModified": 1, "Size": 48213}


@pytest.mark.parametrize(
    "batch",
    [
        {"item": LISTED, "run": "run-1"},  # one item (the local engine, or ItemsPerBatch=1)
        {"Items": [{"item": LISTED, "run": "run-1"}], "BatchInput": {}},  # ItemBatcher's batch
        {"item": {"Bucket": "images", "Key": KEY.replace("uploads/", "uploads%2F")}, "run": "run-1"},  # inventory row
    ],
    ids=["listed", "batched", "inventory"],
)
def test_every_shape_of_a_workflow_child_is_one_request_per_stored_object(batch: dict[str, Any]) -> None:
    stage = Stage()
    answer = step({"action": "request", "batch": batch}, stage.reprocessor, now=AFTER)
    assert [i["request"] for i in answer["items"]] == [request_id(UPLOAD, NEW)]
    checked = step({"action": "check", "progress": answer}, stage.reprocessor, now=AFTER)
    assert checked["pending"] == 1
    assert step({"action": "specs"}, stage.reprocessor, now=AFTER) == {"job": "renditions", "specVersion": NEW}


@pytest.mark.parametrize("key", ["uploads/my+photo.jpg", "uploads/caf%C3%A9.jpg"])
def test_an_inventory_key_is_decoded_and_a_listed_one_is_not(key: str) -> None:
    assert listed_key({"Key": key}) == key
    assert listed_key({"Bucket": "images", "Key": key}) != key


@pytest.mark.parametrize(
    "event",
    [{}, {"action": "request"}, {"action": "request", "batch": {"Items": [{}]}}, {"action": "drop"}, ["x"], None],
)
def test_anything_else_is_refused_with_one_sentence(event: Any) -> None:
    with pytest.raises(UnsupportedEvent, match="ReprocessItemFunction handles the ReprocessWorkflow's steps"):
        step(event, Stage().reprocessor, now=AFTER)


# ---------------------------------------------------------------- the function
@pytest.fixture
def item_function(load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("ReprocessItemFunction", template.REPROCESS)


def test_the_functions_environment_is_its_settings_model(item_function: ModuleType) -> None:
    settings = item_function.settings
    assert isinstance(settings, Settings)
    variables = set(template.function_environment("ReprocessItemFunction", template.REPROCESS))
    assert variables - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} == (
        type(settings).variable_names()
    )


def test_the_function_answers_a_step_and_refuses_anything_else_without_a_traceback(
    item_function: ModuleType, lambda_context: object
) -> None:
    stage = Stage()
    answer = item_function.lambda_handler(
        {"action": "request", "batch": {"item": LISTED, "run": "r"}}, lambda_context, stage.reprocessor
    )
    assert answer["pending"] == 1
    refused = item_function.lambda_handler({"action": "drop"}, lambda_context, stage.reprocessor)
    assert refused["unsupported"].startswith("ReprocessItemFunction handles ")


# ---------------------------------------------------------------- the feed: adapter and fake, one contract
def _queue() -> str:
    return str(boto3.client("sqs").create_queue(QueueName="renditions")["QueueUrl"])


@pytest.fixture(params=["sqs", "fake"])
def feed(request: pytest.FixtureRequest, aws: object) -> tuple[JobFeed, Callable[[], list[dict[str, Any]]]]:
    if request.param == "fake":
        fake = RecordingFeed()
        return fake, fake.sent
    url = _queue()

    def received() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while messages := boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            got += [json.loads(m["Body"]) for m in messages]
            for m in messages:
                boto3.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return got

    return SqsJobFeed(url), received


def test_the_feed_delivers_every_message_as_its_json_body(
    feed: tuple[JobFeed, Callable[[], list[dict[str, Any]]]],
) -> None:
    sender, received = feed
    messages = [{"n": n, "detail": {"object": {"key": f"uploads/{n}.jpg"}}} for n in range(23)]
    sender.send(messages)
    assert sorted(received(), key=lambda m: m["n"]) == messages


def test_the_sqs_feed_sends_in_batches_of_ten_and_raises_when_any_message_is_refused() -> None:
    client = boto3.client("sqs", region_name="us-east-1")
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/renditions"
    with Stubber(client) as stub:
        for size in (10, 10, 3):
            stub.add_response(
                "send_message_batch",
                {"Successful": [], "Failed": []},
                {
                    "QueueUrl": url,
                    "Entries": [
                        {"Id": str(i), "MessageBody": json.dumps({"n": 0}, separators=(",", ":"))} for i in range(size)
                    ],
                },
            )
        SqsJobFeed(url, client).send([{"n": 0}] * 23)
        stub.add_response(
            "send_message_batch",
            {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError", "Message": "x"}]},
        )
        with pytest.raises(SendFailed, match="1 of 1 messages not sent"):
            SqsJobFeed(url, client).send([{"n": 0}])
