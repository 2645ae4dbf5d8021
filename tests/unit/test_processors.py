"""The image functions answer each upload exactly once, whatever arrives: a good image, a bad one,
a vanished one, a duplicate delivery or a poison message in a batch."""

import copy
import io
import json
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from PIL import Image

from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import UploadResponder
from tests.conftest import load_event
from tests.fakes import RecordingPublisher

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
KEY = f"uploads/{IMAGE}.jpg"


def _photo(size: tuple[int, int] = (640, 427)) -> bytes:
    image = Image.radial_gradient("L").resize(size).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _for_bucket(event: dict[str, Any], bucket: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if "Records" in event:
        event["Records"][0]["s3"]["bucket"]["name"] = bucket
    else:
        event["detail"]["bucket"]["name"] = bucket
    return event


@pytest.fixture
def responder(aws: SimpleNamespace) -> UploadResponder:
    return UploadResponder(
        store=S3ObjectStore(),
        publisher=RecordingPublisher(),
        outputs_bucket=aws.ImagesBucket,
        limits=ImageLimits(),
        producer="test",
    )


def _published(responder: UploadResponder) -> RecordingPublisher:
    assert isinstance(responder.publisher, RecordingPublisher)
    return responder.publisher


def _put_upload(aws: SimpleNamespace, data: bytes) -> None:
    boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=KEY, Body=data, Metadata={"image-id": IMAGE})


@pytest.mark.parametrize("event_name", ["s3put.json", "object-created.json"])
def test_the_thumbnail_function_answers_both_event_shapes(
    event_name: str,
    aws: SimpleNamespace,
    responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
) -> None:
    # Given an uploaded photo and the S3 event announcing it
    _put_upload(aws, _photo())
    handler = load_handler("ThumbnailFunction")
    # When the function handles the event
    result = handler.lambda_handler(_for_bucket(load_event(event_name), aws.ImagesBucket), lambda_context, responder)
    # Then a 256 px thumbnail is stored under outputs/ and ThumbnailCreated answers the upload
    (event,) = _published(responder).published
    assert result == [{"imageId": IMAGE, "type": "ThumbnailCreated", "eventId": event.event_id}]
    assert event.causation_id == f"{KEY}#0A1B2C3D4E5F678901"
    (output,) = event.data["outputs"]
    assert output["key"] == f"outputs/{IMAGE}/thumbnail.jpg"
    stored = boto3.client("s3").get_object(Bucket=aws.ImagesBucket, Key=output["key"])
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Metadata"] == {"image-id": IMAGE}
    with Image.open(io.BytesIO(stored["Body"].read())) as thumbnail:
        assert thumbnail.size == (256, 171) == (output["width"], output["height"])


def test_a_duplicate_delivery_does_no_duplicate_work(
    aws: SimpleNamespace,
    responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
) -> None:
    _put_upload(aws, _photo())
    handler = load_handler("ThumbnailFunction")
    event = _for_bucket(load_event("object-created.json"), aws.ImagesBucket)
    first = handler.lambda_handler(event, lambda_context, responder)
    again = handler.lambda_handler(event, lambda_context, responder)
    # the classic notification of the same object version is the same upload, too
    classic = handler.lambda_handler(_for_bucket(load_event("s3put.json"), aws.ImagesBucket), lambda_context, responder)
    assert first == again == classic
    assert len(_published(responder).published) == 1


def test_a_new_version_of_the_object_is_processed_again(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    _put_upload(aws, _photo())
    handler = load_handler("ThumbnailFunction")
    event = _for_bucket(load_event("object-created.json"), aws.ImagesBucket)
    handler.lambda_handler(event, lambda_context, responder)
    event["detail"]["object"]["sequencer"] = "0A1B2C3D4E5F678999"
    handler.lambda_handler(event, lambda_context, responder)
    assert len(_published(responder).published) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [(_photo()[:3000], "truncated"), (b"GIF87a" + b"\0" * 10, None), (b"<html>not an image</html>", None)],
)
def test_a_bad_image_is_rejected_with_a_reason_and_not_raised(
    data: bytes,
    reason: str | None,
    aws: SimpleNamespace,
    responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
) -> None:
    _put_upload(aws, data)
    handler = load_handler("AnalyzeFunction")
    handler.lambda_handler(_for_bucket(load_event("object-created.json"), aws.ImagesBucket), lambda_context, responder)
    (event,) = _published(responder).published
    assert event.type == "ImageRejected"
    assert event.data["message"]
    if reason:
        assert event.data["reason"] == reason


def test_a_vanished_upload_is_reported_failed(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    handler = load_handler("ThumbnailFunction")
    handler.lambda_handler(_for_bucket(load_event("object-created.json"), aws.ImagesBucket), lambda_context, responder)
    (event,) = _published(responder).published
    assert event.type == "ImageProcessingFailed"
    assert event.data["reason"] == "source_missing"


def test_the_analyzer_publishes_its_analysis(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    _put_upload(aws, _photo())
    handler = load_handler("AnalyzeFunction")
    handler.lambda_handler(_for_bucket(load_event("s3put.json"), aws.ImagesBucket), lambda_context, responder)
    (event,) = _published(responder).published
    assert event.type == "ImageAnalyzed"
    analysis = event.data["analysis"]
    assert (analysis["format"], analysis["width"], analysis["height"]) == ("JPEG", 640, 427)
    json.dumps(analysis)  # it travels as JSON


def test_a_poison_message_fails_alone_while_the_rest_of_the_batch_completes(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    _put_upload(aws, _photo())
    handler = load_handler("RenditionWorker")
    batch = load_event("sqs-rendition-batch.json")
    good = batch["Records"][0]
    good["body"] = json.dumps(_for_bucket(json.loads(good["body"]), aws.ImagesBucket))
    poison = {**good, "messageId": "poison-1", "body": "this is not an S3 event {"}
    stray = {**good, "messageId": "not-ours", "body": json.dumps({"source": "aws.events"})}
    batch["Records"] = [poison, good, stray]
    result = handler.lambda_handler(batch, lambda_context, responder)
    assert result == {"batchItemFailures": [{"itemIdentifier": "poison-1"}, {"itemIdentifier": "not-ours"}]}
    (event,) = _published(responder).published
    assert event.type == "RenditionsCreated"
    names = {o["name"] for o in event.data["outputs"]}
    assert {"w1024-jpeg", "w1024-webp", "w1024-avif", "crop-square", "filter-sepia"} <= names
