"""IntakeFunction: whoever writes under uploads/, the object becomes an image with a record and an
ImageUploaded announcement; a duplicate delivery announces the same upload again, never a new one."""

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.intake import Intake
from image_pipeline.keys import image_id_for_key
from image_pipeline.ports import ImageRecord
from tests.conftest import load_event
from tests.fakes import RecordingPublisher

API_IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"


@pytest.fixture
def intake(aws: SimpleNamespace) -> Intake:
    return Intake(store=S3ObjectStore(), images=DynamoImageLog(aws.ImagesTable), publisher=RecordingPublisher())


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType], lambda_context: object, intake: Intake) -> Any:
    module = load_handler("IntakeFunction")
    return lambda event: module.lambda_handler(event, lambda_context, intake)


def _put(aws: SimpleNamespace, key: str, data: bytes = b"\xff\xd8 pretend jpeg", **extra: str) -> str:
    put = boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=key, Body=data, **extra)  # type: ignore[arg-type]
    return str(put["ETag"]).strip('"')


def _created(aws: SimpleNamespace, key: str, etag: str, sequencer: str = "0A1B2C3D4E5F678901") -> dict[str, Any]:
    event = copy.deepcopy(load_event("object-created.json"))
    event["detail"]["bucket"]["name"] = aws.ImagesBucket
    event["detail"]["object"].update(key=key, etag=etag, sequencer=sequencer, size=17)
    return event


def _published(intake: Intake) -> RecordingPublisher:
    assert isinstance(intake.publisher, RecordingPublisher)
    return intake.publisher


def test_an_object_copied_in_by_any_client_becomes_an_image(aws: SimpleNamespace, intake: Intake, handler: Any) -> None:
    # Given `aws s3 cp "my photo é.jpg" s3://<bucket>/uploads/` (the CLI sets the content type)
    key = "uploads/my photo é.jpg"
    etag = _put(aws, key, ContentType="image/jpeg")
    # When the intake hears of it
    result = handler(_created(aws, key, etag))
    # Then the image has a record named after the file and an ImageUploaded announcement
    image_id = image_id_for_key(key)
    upload_id = f"{image_id}@0A1B2C3D4E5F678901"
    assert result["results"] == [{"imageId": image_id, "type": "ImageUploaded", "eventId": upload_id}]
    record = intake.images.get_image(image_id)
    assert record is not None
    assert (record.filename, record.content_type, record.upload_key, record.origin) == (
        "my photo é.jpg",
        "image/jpeg",
        key,
        "s3",
    )
    (uploaded,) = _published(intake).published
    assert uploaded.image_id == image_id
    assert uploaded.metadata.producer == "IntakeFunction"
    assert {k: uploaded.data[k] for k in ("key", "size", "etag", "contentType", "filename", "version")} == {
        "key": key,
        "size": len(b"\xff\xd8 pretend jpeg"),  # from S3 itself
        "etag": etag,
        "contentType": "image/jpeg",
        "filename": "my photo é.jpg",
        "version": "0A1B2C3D4E5F678901",
    }


def test_an_api_upload_keeps_the_record_the_api_made(aws: SimpleNamespace, intake: Intake, handler: Any) -> None:
    key = f"uploads/{API_IMAGE}.jpg"
    api_record = ImageRecord(API_IMAGE, "holiday.jpg", "image/jpeg", key, datetime.now(UTC), origin="api")
    intake.images.create_image(
        api_record, PipelineEvent.new(EventType.UPLOAD_REQUESTED, image_id=API_IMAGE, producer="ApiFunction")
    )
    handler(_created(aws, key, _put(aws, key, ContentType="image/jpeg")))
    assert intake.images.get_image(API_IMAGE) == api_record
    (uploaded,) = _published(intake).published
    assert uploaded.data["filename"] == "holiday.jpg"


def test_a_duplicate_delivery_announces_the_same_upload(aws: SimpleNamespace, intake: Intake, handler: Any) -> None:
    key = "uploads/twice.png"
    event = _created(aws, key, _put(aws, key, ContentType="image/png"))
    handler(event)
    handler(event)
    first, again = _published(intake).published
    assert first.event_id == again.event_id  # the tracker records it once


def test_an_announcement_of_a_replaced_object_does_not_borrow_the_newer_objects_type(
    aws: SimpleNamespace, intake: Intake, handler: Any
) -> None:
    key = "uploads/replaced.jpg"
    stale = _created(aws, key, _put(aws, key, b"first", ContentType="image/jpeg"))
    _put(aws, key, b"second", ContentType="image/png")
    handler(stale)
    (uploaded,) = _published(intake).published
    assert uploaded.data["contentType"] is None


def test_an_object_gone_before_intake_is_still_announced(aws: SimpleNamespace, intake: Intake, handler: Any) -> None:
    handler(_created(aws, "uploads/gone.jpg", "0123456789abcdef0123456789abcdef"))
    (uploaded,) = _published(intake).published
    assert uploaded.data["contentType"] is None  # the processors will report it FAILED (source_missing)
    record = intake.images.get_image(image_id_for_key("uploads/gone.jpg"))
    assert record is not None
    assert record.filename == "gone.jpg"
