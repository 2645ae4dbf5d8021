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
from image_pipeline.imaging import SPEC_VERSIONS, ImageLimits
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


def _for_bucket(event: dict[str, Any], bucket: str, etag: str | None = None) -> dict[str, Any]:
    """The sample event pointed at the test bucket and at the object as stored (its ETag)."""
    event = copy.deepcopy(event)
    obj = event["Records"][0]["s3"]["object"] if "Records" in event else event["detail"]["object"]
    if "Records" in event:
        event["Records"][0]["s3"]["bucket"]["name"] = bucket
    else:
        event["detail"]["bucket"]["name"] = bucket
    if etag is not None:
        obj["eTag" if "eTag" in obj else "etag"] = etag
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


def _put_upload(aws: SimpleNamespace, data: bytes) -> str:
    """Store an upload; its ETag (what the S3 event announcing it carries)."""
    put = boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=KEY, Body=data, Metadata={"image-id": IMAGE})
    return str(put["ETag"]).strip('"')


def _announce(name: str, aws: SimpleNamespace, etag: str) -> dict[str, Any]:
    return _for_bucket(load_event(name), aws.ImagesBucket, etag)


VERSION = "0A1B2C3D4E5F678901"  # the sample events' sequencer
THUMBNAIL_SPEC = SPEC_VERSIONS["thumbnail"]


@pytest.mark.parametrize("event_name", ["s3put.json", "object-created.json"])
def test_the_thumbnail_function_answers_both_event_shapes(
    event_name: str,
    aws: SimpleNamespace,
    responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
) -> None:
    # Given an uploaded photo and the S3 event announcing it
    etag = _put_upload(aws, _photo())
    handler = load_handler("ThumbnailFunction")
    # When the function handles the event
    result = handler.lambda_handler(_announce(event_name, aws, etag), lambda_context, responder)
    # Then a 256 px thumbnail is stored under this upload's outputs and ThumbnailCreated answers it
    (event,) = _published(responder).published
    assert result == {
        "results": [{"imageId": IMAGE, "type": "ThumbnailCreated", "eventId": event.event_id}],
        "ignored": [],
    }
    assert event.causation_id == f"{IMAGE}@{VERSION}"
    (output,) = event.data["outputs"]
    # made to the thumbnail's current specs, which the answer, the key and the object all record
    assert event.data["specVersion"] == THUMBNAIL_SPEC
    assert output["key"] == f"outputs/{IMAGE}/{VERSION}/{THUMBNAIL_SPEC}/thumbnail.jpg"
    assert "reprocess" not in event.data
    stored = boto3.client("s3").get_object(Bucket=aws.ImagesBucket, Key=output["key"])
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Metadata"] == {"image-id": IMAGE, "spec-version": THUMBNAIL_SPEC}
    with Image.open(io.BytesIO(stored["Body"].read())) as thumbnail:
        assert thumbnail.size == (256, 171) == (output["width"], output["height"])


def test_a_duplicate_delivery_does_no_duplicate_work(
    aws: SimpleNamespace,
    responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
) -> None:
    etag = _put_upload(aws, _photo())
    handler = load_handler("ThumbnailFunction")
    event = _announce("object-created.json", aws, etag)
    first = handler.lambda_handler(event, lambda_context, responder)
    again = handler.lambda_handler(event, lambda_context, responder)
    # the classic notification of the same object version is the same upload, too
    classic = handler.lambda_handler(_announce("s3put.json", aws, etag), lambda_context, responder)
    assert first == again == classic
    assert len(_published(responder).published) == 1


def test_a_new_upload_to_the_same_key_gets_its_own_outputs(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    handler = load_handler("ThumbnailFunction")
    first = _announce("object-created.json", aws, _put_upload(aws, _photo((640, 427))))
    handler.lambda_handler(first, lambda_context, responder)
    second = _announce("object-created.json", aws, _put_upload(aws, _photo((300, 600))))
    second["detail"]["object"]["sequencer"] = "0A1B2C3D4E5F679000"
    handler.lambda_handler(second, lambda_context, responder)
    older, newer = _published(responder).published
    assert older.data["outputs"][0]["key"] == f"outputs/{IMAGE}/{VERSION}/{THUMBNAIL_SPEC}/thumbnail.jpg"
    assert newer.data["outputs"][0]["key"] == f"outputs/{IMAGE}/0A1B2C3D4E5F679000/{THUMBNAIL_SPEC}/thumbnail.jpg"
    assert (older.data["outputs"][0]["width"], newer.data["outputs"][0]["width"]) == (256, 128)


def test_an_upload_replaced_before_the_job_reads_it_is_superseded_not_mixed_up(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given the event of a first upload, arriving after a second upload replaced the object
    announced_first = _announce("object-created.json", aws, _put_upload(aws, _photo((640, 427))))
    _put_upload(aws, _photo((300, 600)))
    handler = load_handler("ThumbnailFunction")
    # When the function handles the first upload's event
    handler.lambda_handler(announced_first, lambda_context, responder)
    # Then it makes nothing from the second upload's bytes: it says the first was superseded
    (event,) = _published(responder).published
    assert event.type == "UploadSuperseded"
    assert event.causation_id == f"{IMAGE}@{VERSION}"
    assert "newer upload" in event.data["message"]
    listed = boto3.client("s3").list_objects_v2(Bucket=aws.ImagesBucket, Prefix="outputs/")
    assert listed.get("KeyCount", 0) == 0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_photo()[:3000], "truncated"),
        (b"GIF87a" + b"\0" * 10, "corrupt"),
        (b"<html>not an image</html>", "unsupported_format"),
    ],
)
def test_a_bad_image_is_rejected_with_a_reason_and_not_raised(
    data: bytes,
    reason: str,
    aws: SimpleNamespace,
    responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
) -> None:
    etag = _put_upload(aws, data)
    handler = load_handler("AnalyzeFunction")
    handler.lambda_handler(_announce("object-created.json", aws, etag), lambda_context, responder)
    (event,) = _published(responder).published
    assert event.type == "ImageRejected"
    assert event.data["message"]
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
    etag = _put_upload(aws, _photo())
    handler = load_handler("AnalyzeFunction")
    handler.lambda_handler(_announce("s3put.json", aws, etag), lambda_context, responder)
    (event,) = _published(responder).published
    assert event.type == "ImageAnalyzed"
    analysis = event.data["analysis"]
    assert (analysis["format"], analysis["width"], analysis["height"]) == ("JPEG", 640, 427)
    json.dumps(analysis)  # it travels as JSON


def test_a_poison_message_fails_alone_while_the_rest_of_the_batch_completes(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    etag = _put_upload(aws, _photo())
    handler = load_handler("RenditionWorker")
    batch = load_event("sqs-rendition-batch.json")
    good = batch["Records"][0]
    good["body"] = json.dumps(_for_bucket(json.loads(good["body"]), aws.ImagesBucket, etag))
    poison = {**good, "messageId": "poison-1", "body": "this is not an S3 event {"}
    stray = {**good, "messageId": "not-ours", "body": json.dumps({"source": "aws.events"})}
    batch["Records"] = [poison, good, stray]
    result = handler.lambda_handler(batch, lambda_context, responder)
    assert result == {"batchItemFailures": [{"itemIdentifier": "poison-1"}, {"itemIdentifier": "not-ours"}]}
    (event,) = _published(responder).published
    assert event.type == "RenditionsCreated"
    names = {o["name"] for o in event.data["outputs"]}
    assert {"w1024-jpeg", "w1024-webp", "w1024-avif", "crop-square", "filter-sepia"} <= names


# function -> an event it does not handle, and how its answer names what it got
FOREIGN_EVENTS: dict[str, tuple[str, str]] = {
    "ThumbnailFunction": ("sqs-rendition-batch.json", "an SQS batch of 1 message(s)"),
    "AnalyzeFunction": ("api-post-images.json", "an API Gateway request (POST /images)"),
    "RenditionWorker": ("s3put.json", "an S3 notification (ObjectCreated:Put)"),
    "IntakeFunction": ("schedule.json", "an EventBridge event 'Scheduled Event' from 'aws.events'"),
    "ApiFunction": ("object-created.json", "an EventBridge event 'Object Created' from 'aws.s3'"),
}


@pytest.mark.parametrize("function", FOREIGN_EVENTS)
def test_a_foreign_event_gets_one_clear_sentence_not_a_traceback(
    function: str,
    aws: SimpleNamespace,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = load_handler(function)
    name, got = FOREIGN_EVENTS[function]
    result = handler.lambda_handler(load_event(name), lambda_context)
    assert result["unsupported"].startswith(f"{function} handles ")
    assert result["got"] == got
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert [e["message"] for e in errors] == [result["unsupported"]]
    assert not any("Traceback" in line.get("exception", "") for line in lines)


@pytest.mark.parametrize("function", ["ThumbnailFunction", "AnalyzeFunction", "IntakeFunction"])
def test_a_deleted_object_is_ignored_with_a_reason_by_every_s3_function(
    function: str, aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    deleted = load_event("object-created.json")
    deleted["detail-type"] = "Object Deleted"
    result = load_handler(function).lambda_handler(deleted, lambda_context)
    assert result == {
        "results": [],
        "ignored": [{"key": f"uploads/{IMAGE}.jpg", "reason": "'Object Deleted' is not an upload"}],
    }


def test_a_small_source_stores_each_identical_rendition_once(
    aws: SimpleNamespace, responder: UploadResponder, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given a photo smaller than 1024 px: its w2048 renditions are its w1024 ones, byte for byte
    etag = _put_upload(aws, _photo((640, 427)))
    batch = load_event("sqs-rendition-batch.json")
    batch["Records"][0]["body"] = json.dumps(
        _for_bucket(json.loads(batch["Records"][0]["body"]), aws.ImagesBucket, etag)
    )
    load_handler("RenditionWorker").lambda_handler(batch, lambda_context, responder)
    (event,) = _published(responder).published
    outputs = {o["name"]: o for o in event.data["outputs"]}
    # Then each w2048 output names its twin and points at the same object, stored once
    for fmt in ("jpeg", "webp", "avif"):
        big, small = outputs[f"w2048-{fmt}"], outputs[f"w1024-{fmt}"]
        assert (big["sameAs"], big["key"], big["bytes"]) == (f"w1024-{fmt}", small["key"], small["bytes"])
    listed = boto3.client("s3").list_objects_v2(Bucket=aws.ImagesBucket, Prefix="outputs/")["Contents"]
    assert len(listed) == len({o["key"] for o in outputs.values()}) == len(outputs) - 3
