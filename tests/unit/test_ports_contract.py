"""One contract per port, run against the AWS adapter (on moto) and against the test fake."""

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher, PublishFailed
from image_pipeline.aws.observability import MeasuredStore, measured
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.ports import EventPublisher, ImageLog, ImageRecord, ObjectChanged, ObjectMissing, ObjectStore
from tests import samples
from tests.fakes import InMemoryImageLog, InMemoryObjectStore, RecordingPublisher

IMAGE = "0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def _event(kind: EventType, seconds: float, event_id: str, image: str = IMAGE) -> PipelineEvent:
    return PipelineEvent.new(
        kind,
        image_id=image,
        producer="test",
        event_id=event_id,
        occurred_at=T0 + timedelta(seconds=seconds),
        data={"ratio": 0.1 + 0.2, "nested": {"list": [1, 2.5, "x"]}},
    )


# ---------------------------------------------------------------- ObjectStore
@pytest.fixture(params=["s3", "fake", "measured s3"])
def store(request: pytest.FixtureRequest, aws: SimpleNamespace) -> ObjectStore:
    if request.param == "measured s3":
        return MeasuredStore(S3ObjectStore())
    return S3ObjectStore() if request.param == "s3" else InMemoryObjectStore()


def test_store_returns_what_was_put_with_its_type_and_metadata(store: ObjectStore, aws: SimpleNamespace) -> None:
    store.put(
        aws.ImagesBucket,
        "outputs/x/thumbnail.jpg",
        b"\xff\xd8data",
        content_type="image/jpeg",
        metadata={"image-id": IMAGE},
    )
    stored = store.get(aws.ImagesBucket, "outputs/x/thumbnail.jpg")
    assert stored.data == b"\xff\xd8data"
    assert stored.content_type == "image/jpeg"
    assert stored.metadata == {"image-id": IMAGE}


def test_store_reports_a_missing_object_as_object_missing(store: ObjectStore, aws: SimpleNamespace) -> None:
    with pytest.raises(ObjectMissing):
        store.get(aws.ImagesBucket, "uploads/nothing.jpg")
    with pytest.raises(ObjectMissing):
        store.head(aws.ImagesBucket, "uploads/nothing.jpg")


def test_store_reads_exactly_the_version_it_is_asked_for(store: ObjectStore, aws: SimpleNamespace) -> None:
    store.put(aws.ImagesBucket, "uploads/a.jpg", b"first", content_type="image/jpeg", metadata={})
    first = store.head(aws.ImagesBucket, "uploads/a.jpg")
    assert (first.size, first.content_type) == (5, "image/jpeg")
    assert first.etag == "8b04d5e3775d298e78455efc5ca404d5"  # MD5 of the bytes, no quotes
    assert store.get(aws.ImagesBucket, "uploads/a.jpg", etag=first.etag).data == b"first"
    store.put(aws.ImagesBucket, "uploads/a.jpg", b"second", content_type="image/jpeg", metadata={})
    with pytest.raises(ObjectChanged):
        store.get(aws.ImagesBucket, "uploads/a.jpg", etag=first.etag)
    assert store.get(aws.ImagesBucket, "uploads/a.jpg").data == b"second"


def test_store_presigns_an_upload_bound_to_key_type_and_metadata(store: ObjectStore, aws: SimpleNamespace) -> None:
    upload = store.presigned_upload(
        bucket=aws.ImagesBucket,
        key="uploads/a.png",
        content_type="image/png",
        max_bytes=1000,
        metadata={"image-id": IMAGE},
        expires_in=600,
    )
    assert upload.url.startswith("https://")
    assert upload.fields["key"] == "uploads/a.png"
    assert upload.fields["Content-Type"] == "image/png"
    assert upload.fields["x-amz-meta-image-id"] == IMAGE
    # the policy document S3 checks: the same conditions from the adapter and from the fake
    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 1000] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"x-amz-meta-image-id": IMAGE} in conditions
    assert {"key": "uploads/a.png"} in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) <= timedelta(minutes=15)


# ---------------------------------------------------------------- EventPublisher
Delivered = list[tuple[str, dict[str, Any]]]


@pytest.fixture(params=["eventbridge", "fake", "measured eventbridge"])
def publisher(
    request: pytest.FixtureRequest, aws: SimpleNamespace
) -> Iterator[tuple[EventPublisher, Callable[[], Delivered]]]:
    if request.param == "fake":
        fake = RecordingPublisher()
        yield fake, lambda: [(e.type.value, e.detail()) for e in fake.published]
        return
    # Observe the bus the way a consumer would: a rule delivering to a queue.
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=aws.AppBus, EventPattern=json.dumps({"source": ["image-pipeline"]}))
    events.put_targets(Rule="all", EventBusName=aws.AppBus, Targets=[{"Id": "q", "Arn": queue_arn}])

    def received() -> Delivered:
        messages = []
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            messages += [json.loads(m["Body"]) for m in batch]
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return [(m["detail-type"], m["detail"]) for m in messages]

    adapter = EventBridgePublisher(aws.AppBus, "image-pipeline")
    if request.param == "measured eventbridge":
        _, measured_publisher = measured(S3ObjectStore(), adapter)
        yield measured_publisher, received
        return
    yield adapter, received


def test_publisher_delivers_every_event_with_its_envelope(
    publisher: tuple[EventPublisher, Callable[[], Delivered]],
) -> None:
    port, received = publisher
    events = [_event(EventType.THUMBNAIL_CREATED, i, f"e{i}") for i in range(23)]  # > 2 PutEvents calls
    port.publish(events)
    delivered = sorted(received(), key=lambda m: m[1]["metadata"]["eventId"])
    assert len(delivered) == 23
    assert {d[0] for d in delivered} == {"ThumbnailCreated"}
    by_id = {d[1]["metadata"]["eventId"]: d[1] for d in delivered}
    assert by_id["e7"] == events[7].detail()


def test_eventbridge_publisher_raises_when_any_entry_fails(aws: SimpleNamespace) -> None:
    client = boto3.client("events")
    publisher = EventBridgePublisher(aws.AppBus, "image-pipeline", client=client)
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [
                    {"EventId": "1"},
                    {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"},
                ],
            },
        )
        with pytest.raises(PublishFailed, match="ThrottlingException"):
            publisher.publish([_event(EventType.IMAGE_ANALYZED, 0, "a"), _event(EventType.IMAGE_ANALYZED, 1, "b")])


# ---------------------------------------------------------------- ImageLog
@pytest.fixture(params=["dynamodb", "fake"])
def images(request: pytest.FixtureRequest, aws: SimpleNamespace) -> ImageLog:
    return DynamoImageLog(aws.ImagesTable) if request.param == "dynamodb" else InMemoryImageLog()


def test_log_keeps_the_image_record_and_its_first_event(images: ImageLog) -> None:
    record = ImageRecord(IMAGE, "holiday.jpg", "image/jpeg", f"uploads/{IMAGE}.jpg", T0)
    images.create_image(record, _event(EventType.UPLOAD_REQUESTED, 0, "req"))
    assert images.get_image(IMAGE) == record
    assert [e.event_id for e in images.events(IMAGE)] == ["req"]
    assert images.get_image("f" * 32) is None


def test_log_keeps_where_an_images_final_status_is_to_be_posted(images: ImageLog) -> None:
    callback = "https://hooks.example.com/images?token=t%C3%A9"
    record = ImageRecord(IMAGE, "holiday.jpg", "image/jpeg", f"uploads/{IMAGE}.jpg", T0, callback_url=callback)
    images.create_image(record, _event(EventType.UPLOAD_REQUESTED, 0, "req"))
    assert images.get_image(IMAGE) == record
    foreign = ImageRecord("e" * 32, "x.jpg", None, "uploads/x.jpg", T0, origin="s3")
    images.ensure_image(foreign)
    assert images.get_image("e" * 32) == foreign  # a record without one reads back without one
    assert foreign.callback_url is None


def test_log_ensures_a_record_once_and_never_overwrites_it(images: ImageLog) -> None:
    api = ImageRecord(IMAGE, "holiday.jpg", "image/jpeg", f"uploads/{IMAGE}.jpg", T0, origin="api")
    images.create_image(api, _event(EventType.UPLOAD_REQUESTED, 0, "req"))
    assert images.ensure_image(ImageRecord(IMAGE, f"{IMAGE}.jpg", None, f"uploads/{IMAGE}.jpg", T0, "s3")) is False
    assert images.get_image(IMAGE) == api
    foreign = ImageRecord("e" * 32, "my photo é.jpg", None, "uploads/my photo é.jpg", T0, origin="s3")
    assert images.ensure_image(foreign) is True
    assert images.get_image("e" * 32) == foreign


def test_log_lists_images_newest_first_in_pages(images: ImageLog) -> None:
    ids = [f"{n:032x}" for n in range(7)]
    for n, image in enumerate(ids):
        images.ensure_image(ImageRecord(image, f"{n}.jpg", "image/jpeg", f"uploads/{n}.jpg", T0 + timedelta(minutes=n)))
    seen, cursor = [], None
    while True:
        page = images.list_images(limit=3, cursor=cursor)
        seen += [r.image_id for r in page.images]
        if (cursor := page.cursor) is None:
            break
    assert seen == ids[::-1]
    with pytest.raises(ValueError, match="cursor"):
        images.list_images(limit=3, cursor="not-a-cursor")


def test_log_grants_each_claim_once(images: ImageLog) -> None:
    assert images.claim(IMAGE, "stalled:x") is True
    assert images.claim(IMAGE, "stalled:x") is False
    assert images.claim(IMAGE, "stalled:y") is True


def test_log_records_each_event_once_and_returns_them_oldest_first(images: ImageLog) -> None:
    later, earlier = _event(EventType.IMAGE_ANALYZED, 5, "b"), _event(EventType.IMAGE_UPLOADED, 1, "a")
    assert images.append(later) is True
    assert images.append(earlier) is True
    assert images.append(later) is False  # a duplicate delivery
    assert images.events(IMAGE) == [earlier, later]  # floats and nesting survive exactly
    assert images.events("f" * 32) == []


def test_log_lists_open_images_past_their_deadline(images: ImageLog) -> None:
    other = "f" * 32
    images.set_deadline(IMAGE, T0 + timedelta(seconds=10), seen=1)
    images.set_deadline(other, T0 + timedelta(seconds=20), seen=1)
    assert images.overdue(T0 + timedelta(seconds=5)) == []
    assert images.overdue(T0 + timedelta(seconds=10) - timedelta(milliseconds=1)) == []  # a moment before
    assert images.overdue(T0 + timedelta(seconds=10)) == [IMAGE]  # at its deadline
    assert images.overdue(T0 + timedelta(seconds=30)) == [IMAGE, other]  # the longest overdue first
    images.set_deadline(IMAGE, None, seen=2)
    images.set_deadline("e" * 32, None, seen=1)  # closing an image that was never open is fine
    assert images.overdue(T0 + timedelta(seconds=30)) == [other]


def test_a_deadline_read_from_fewer_events_never_replaces_one_read_from_more(images: ImageLog) -> None:
    # Given two trackers recording the same image at once: the one that read 3 events wrote first
    images.set_deadline(IMAGE, T0 + timedelta(seconds=20), seen=3)
    # When the one that read only 2 (before the upload was recorded) writes its view: closed
    images.set_deadline(IMAGE, None, seen=2)
    # Then the image stays open until the fuller view's deadline
    assert images.overdue(T0 + timedelta(seconds=20)) == [IMAGE]
    images.set_deadline(IMAGE, T0 + timedelta(seconds=90), seen=2)
    assert images.overdue(T0 + timedelta(seconds=20)) == [IMAGE]
    # A view of as many events or more is the image's latest: it moves or closes the deadline
    images.set_deadline(IMAGE, T0 + timedelta(seconds=40), seen=3)
    assert images.overdue(T0 + timedelta(seconds=39)) == []
    assert images.overdue(T0 + timedelta(seconds=40)) == [IMAGE]
    images.set_deadline(IMAGE, None, seen=4)
    assert images.overdue(T0 + timedelta(days=1)) == []
    # and once closed by the fuller view, a stale one does not reopen it
    images.set_deadline(IMAGE, T0 + timedelta(seconds=40), seen=3)
    assert images.overdue(T0 + timedelta(days=1)) == []


def test_a_look_is_brought_forward_never_postponed(images: ImageLog) -> None:
    # An image with no deadline yet: a look opens it until then
    images.look_by(IMAGE, T0 + timedelta(seconds=20))
    assert images.overdue(T0 + timedelta(seconds=20) - timedelta(milliseconds=1)) == []
    assert images.overdue(T0 + timedelta(seconds=20)) == [IMAGE]
    # A later look changes nothing; an earlier one brings the deadline forward
    images.look_by(IMAGE, T0 + timedelta(seconds=60))
    assert images.overdue(T0 + timedelta(seconds=20)) == [IMAGE]
    images.look_by(IMAGE, T0 + timedelta(seconds=10))
    assert images.overdue(T0 + timedelta(seconds=10)) == [IMAGE]
    # It is a nomination, not a view: a view of any number of events still sets or closes it
    images.set_deadline(IMAGE, T0 + timedelta(seconds=30), seen=5)
    assert images.overdue(T0 + timedelta(seconds=29)) == []
    images.look_by(IMAGE, T0 + timedelta(seconds=15))
    assert images.overdue(T0 + timedelta(seconds=15)) == [IMAGE]
    images.set_deadline(IMAGE, None, seen=5)
    assert images.overdue(T0 + timedelta(days=1)) == []
    # and a closed image is opened again by a look (a new request's wait)
    images.look_by(IMAGE, T0 + timedelta(seconds=50))
    assert images.overdue(T0 + timedelta(seconds=50)) == [IMAGE]


def test_log_stores_each_status_version_once_and_only_over_the_version_it_replaces(images: ImageLog) -> None:
    def change(version: int, status: str) -> PipelineEvent:
        return samples.event(
            EventType.IMAGE_STATUS_CHANGED,
            image_id=IMAGE,
            event_id=f"status:{IMAGE}:{version}",
            version=version,
            status=status,
        )

    assert images.announcement(IMAGE) is None
    assert images.announce(change(1, "PROCESSING"), replaces=0) is True
    assert images.announce(change(1, "COMPLETE"), replaces=0) is False  # someone stored version 1 first
    stored = images.announcement(IMAGE)
    assert stored is not None
    assert (stored.version, stored.event.data["status"], stored.published) == (1, "PROCESSING", False)
    images.mark_published(IMAGE, 1)
    assert images.announce(change(2, "COMPLETE"), replaces=0) is False
    assert images.announce(change(2, "COMPLETE"), replaces=3) is False
    assert images.announce(change(2, "COMPLETE"), replaces=1) is True
    images.mark_published(IMAGE, 1)  # late: version 2 replaced it, and stays unpublished
    stored = images.announcement(IMAGE)
    assert stored is not None
    assert (stored.version, stored.published) == (2, False)
    assert stored.event == change(2, "COMPLETE").model_copy(update={"metadata": stored.event.metadata})


def test_log_counts_each_edits_status_versions_apart_from_the_images(images: ImageLog) -> None:
    def edit_change(edit: str, version: int, status: str) -> PipelineEvent:
        return samples.event(
            EventType.EDIT_STATUS_CHANGED,
            image_id=IMAGE,
            event_id=f"edit-status:{edit}:{version}",
            editId=edit,
            version=version,
            status=status,
        )

    first, second = "a" * 32, "b" * 32
    # Given the image's own status at version 1
    assert images.announce(samples.event(EventType.IMAGE_STATUS_CHANGED, image_id=IMAGE, version=1), replaces=0)
    # Then each edit starts its own versions at 1, apart from the image's and from each other
    assert images.announcement(IMAGE, first) is None
    assert images.announce(edit_change(first, 1, "RUNNING"), replaces=0) is True
    assert images.announce(edit_change(second, 1, "RUNNING"), replaces=0) is True
    assert images.announce(edit_change(first, 2, "COMPLETE"), replaces=0) is False  # version 1 is stored
    assert images.announce(edit_change(first, 2, "COMPLETE"), replaces=1) is True
    images.mark_published(IMAGE, 2, first)
    stored = images.announcement(IMAGE, first)
    assert stored is not None
    assert (stored.version, stored.event.data["status"], stored.published) == (2, "COMPLETE", True)
    other = images.announcement(IMAGE, second)
    assert other is not None
    assert (other.version, other.published) == (1, False)
    image = images.announcement(IMAGE)
    assert image is not None
    assert (image.version, image.event.type) == (1, EventType.IMAGE_STATUS_CHANGED)
