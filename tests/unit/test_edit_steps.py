"""The EditWorkflow's four step functions, each loaded as Lambda starts it (template environment,
moto for S3 and EventBridge), called with the payloads the workflow sends them."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from PIL import Image, ImageStat
from pydantic import ValidationError

from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.edit_outcomes import MAX_CAUSE_CHARS, EditOutcomes
from image_pipeline.edits import EditSource, EditWorkflowInput, edit_requested, parse_edit_request
from image_pipeline.events import EventType
from image_pipeline.ports import ObjectMissing
from tests.fakes import RecordingPublisher
from tests.unit.imaging import samples

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
KEY = f"uploads/{IMAGE}.jpg"
EXAMPLE = {
    "operations": [{"crop": {"aspect": "1:1"}}, {"filter": "sepia"}, {"resize": {"width": 200}}],
    "format": "webp",
}
Load = Callable[..., ModuleType]


def _photo(size: tuple[int, int] = (640, 480)) -> bytes:
    return samples.encode(samples.photo(size), "JPEG", quality=92)


def _put_source(aws: SimpleNamespace, data: bytes) -> str:
    return str(boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=KEY, Body=data)["ETag"])


def _edit(aws: SimpleNamespace, etag: str, body: dict[str, Any] = EXAMPLE) -> EditWorkflowInput:
    source = EditSource(bucket=aws.ImagesBucket, key=KEY, etag=etag)
    requested = edit_requested(
        IMAGE, source, parse_edit_request(body), producer="test", now=datetime(2026, 11, 22, tzinfo=UTC)
    )
    return EditWorkflowInput.from_requested(requested)


def _step_payload(edit: EditWorkflowInput, image: dict[str, Any]) -> dict[str, Any]:
    """What the workflow's Arguments build for an image step."""
    payload = edit.payload()
    return {
        "imageId": edit.image_id,
        "editId": edit.edit_id,
        "image": image,
        "operations": payload["operations"],
        "format": payload["format"],
    }


def _read(aws: SimpleNamespace, key: str) -> tuple[Image.Image, dict[str, Any]]:
    stored = boto3.client("s3").get_object(Bucket=aws.ImagesBucket, Key=key)
    return samples.decode(stored["Body"].read()), {"ContentType": stored["ContentType"], "Metadata": stored["Metadata"]}


def _keys(aws: SimpleNamespace, prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=aws.ImagesBucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture
def steps(aws: SimpleNamespace, load_handler: Load) -> SimpleNamespace:
    return SimpleNamespace(
        crop=load_handler("EditCropFunction"),
        filter=load_handler("EditFilterFunction"),
        compress=load_handler("EditCompressFunction"),
    )


# ---------------------------------------------------------------- image steps
def test_crop_writes_a_square_at_the_output_size_under_edits(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any
) -> None:
    edit = _edit(aws, _put_source(aws, _photo()))
    result = steps.crop.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    assert result["outcome"] == "done"
    assert result["step"] == "crop"
    image = result["image"]
    assert image["key"] == f"edits/{IMAGE}/{edit.edit_id}/crop.png"
    assert (image["width"], image["height"]) == (200, 200)  # 1:1, already at the resize's width
    made, stored = _read(aws, image["key"])
    assert made.format == "PNG"
    assert made.size == (200, 200)
    assert stored["Metadata"] == {"image-id": IMAGE, "edit-id": edit.edit_id}


@pytest.mark.parametrize(("face_left", "colour"), [(0.05, samples.RED), (0.80, samples.GREEN)])
def test_a_content_crop_is_placed_around_the_faces_the_workflow_passes(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any, face_left: float, colour: tuple[int, ...]
) -> None:
    # Given a 400x200 picture of four colours, a square content crop, and a face recognition found
    body = {"operations": [{"crop": {"aspect": "1:1", "mode": "content"}}], "format": "png"}
    edit = _edit(aws, _put_source(aws, samples.encode(samples.quadrants((400, 200)), "PNG")), body)
    face = {"box": {"left": face_left, "top": 0.1, "width": 0.1, "height": 0.2}, "confidence": 0.99}
    payload = {**_step_payload(edit, edit.source.model_dump()), "faces": [face]}
    # When the crop step runs
    result = steps.crop.lambda_handler(payload, lambda_context)
    # Then the square is the half of the picture with the face in it
    made, _ = _read(aws, result["image"]["key"])
    assert made.size == (200, 200)
    assert samples.close(samples.pixel(made, (100, 40)), colour)


def test_the_three_image_steps_chain_by_reference_into_the_edit(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any
) -> None:
    # Given the example edit of a 640x480 photo
    edit = _edit(aws, _put_source(aws, _photo()))
    image = edit.source.model_dump()
    # When each step gets the previous step's image, as the workflow passes it
    for step in (steps.crop, steps.filter, steps.compress):
        result = step.lambda_handler(_step_payload(edit, image), lambda_context)
        assert result["outcome"] == "done", result
        image = result["image"]
        assert set(image) >= {"bucket", "key", "width", "height"}  # a reference, never pixels
        assert isinstance(result["durationMs"], int)
        assert result["durationMs"] >= 0
    # Then the compressed edit is a 200 px square WebP in a sepia tone
    assert image["key"] == f"edits/{IMAGE}/{edit.edit_id}/compress.webp"
    assert (image["format"], image["mediaType"]) == ("WEBP", "image/webp")
    made, _ = _read(aws, image["key"])
    assert made.format == "WEBP"
    assert made.size == (200, 200)
    red, green, blue = ImageStat.Stat(made.convert("RGB")).mean
    assert red > green > blue
    assert sorted(_keys(aws, "edits/")) == sorted(
        f"edits/{IMAGE}/{edit.edit_id}/{name}" for name in ("crop.png", "filter.png", "compress.webp")
    )


def test_compress_alone_resizes_and_encodes_the_source(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any
) -> None:
    edit = _edit(aws, _put_source(aws, _photo()), {"operations": [{"resize": {"height": 120}}], "format": "avif"})
    result = steps.compress.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    made, stored = _read(aws, result["image"]["key"])
    assert made.format == "AVIF"
    assert made.size == (160, 120)
    assert stored["ContentType"] == "image/avif"


def test_a_retried_step_writes_the_same_object_again(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any
) -> None:
    edit = _edit(aws, _put_source(aws, _photo()))
    first = steps.filter.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    before = boto3.client("s3").get_object(Bucket=aws.ImagesBucket, Key=first["image"]["key"])["Body"].read()
    again = steps.filter.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    after = boto3.client("s3").get_object(Bucket=aws.ImagesBucket, Key=again["image"]["key"])["Body"].read()
    assert {**again, "durationMs": 0} == {**first, "durationMs": 0}
    assert after == before
    assert len(_keys(aws, "edits/")) == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_photo()[:3000], "truncated"),
        (b"GIF89a" + b"\x00" * 40, "corrupt"),
        (b"<svg onload=alert(1)>", "unsupported_format"),
    ],
)
def test_a_refused_image_comes_back_as_data_and_nothing_is_written(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any, data: bytes, reason: str
) -> None:
    edit = _edit(aws, _put_source(aws, data))
    for name in ("crop", "filter", "compress"):
        result = getattr(steps, name).lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
        assert result["outcome"] == "rejected"
        assert result["step"] == name
        assert result["reason"] == reason
        assert result["message"]
        assert "image" not in result
    assert _keys(aws, "edits/") == []


@pytest.mark.parametrize(
    ("size", "aspect", "reason"),
    [
        ((1, 1), "16:9", "aspect_unreachable"),
        ((1000, 51), "1:100", "aspect_unreachable"),
        ((800, 8), "1:100", "crop_too_small"),
    ],
)
def test_a_crop_the_image_cannot_give_is_refused_as_data(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any, size: tuple[int, int], aspect: str, reason: str
) -> None:
    # Given an edit started without the API's check (its size unknown then), of an image too small for it
    body = {"operations": [{"crop": {"aspect": aspect}}], "format": "png"}
    edit = _edit(aws, _put_source(aws, samples.encode(samples.photo(size), "PNG")), body)
    # When the crop step runs
    result = steps.crop.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    # Then it refuses with a reason (the workflow publishes EditRejected) and writes nothing
    assert (result["outcome"], result["step"], result["reason"]) == ("rejected", "crop", reason)
    assert f"{size[0]}x{size[1]}" in result["message"]
    assert _keys(aws, "edits/") == []


@pytest.mark.parametrize(
    ("size", "aspect"), [((640, 480), "16:9"), ((99, 99), "2:1"), ((201, 201), "2:1"), ((37, 100), "1:3")]
)
def test_a_crop_is_the_window_the_api_checked(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any, size: tuple[int, int], aspect: str
) -> None:
    # The API checks a crop's whole-pixel window before the workflow runs; the step makes that window.
    body = {"operations": [{"crop": {"aspect": aspect}}], "format": "png"}
    edit = _edit(aws, _put_source(aws, samples.encode(samples.photo(size), "PNG")), body)
    result = steps.crop.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    crop = parse_edit_request(body).crop
    assert crop is not None
    assert result["outcome"] == "done", result
    assert (result["image"]["width"], result["image"]["height"]) == crop.window(size)


def test_a_missing_source_raises_so_the_workflow_records_a_failure(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any
) -> None:
    edit = _edit(aws, '"gone"')
    with pytest.raises(ObjectMissing, match="does not exist"):
        steps.crop.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)


def test_a_step_reads_only_the_images_bucket(aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any) -> None:
    edit = _edit(aws, _put_source(aws, _photo()))
    elsewhere = {**edit.source.model_dump(), "bucket": "someone-elses-bucket"}
    with pytest.raises(ValueError, match="not the images bucket"):
        steps.compress.lambda_handler(_step_payload(edit, elsewhere), lambda_context)


def test_a_step_asked_for_work_its_edit_does_not_have_fails_loudly(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any
) -> None:
    edit = _edit(aws, _put_source(aws, _photo()), {"operations": [{"filter": "blur"}]})
    with pytest.raises(ValueError, match="has no crop"):
        steps.crop.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)


@pytest.mark.parametrize(
    "change",
    [
        {"operations": [{"resize": {"width": 10**9}}]},
        {"operations": [{"filter": "__import__('os')"}]},
        {"operations": []},
        {"format": "exe"},
        {"image": {"bucket": "b"}},
        {"extra": "field"},
    ],
)
def test_a_step_validates_its_input_again(
    aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any, change: dict[str, Any]
) -> None:
    edit = _edit(aws, _put_source(aws, _photo()))
    with pytest.raises(ValidationError):
        steps.filter.lambda_handler({**_step_payload(edit, edit.source.model_dump()), **change}, lambda_context)


def test_each_log_line_carries_the_image_id(
    aws: SimpleNamespace, load_handler: Load, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    crop = load_handler("EditCropFunction")
    edit = _edit(aws, _put_source(aws, _photo()))
    crop.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines
    assert {line.get("correlation_id") for line in lines} == {IMAGE}


# ---------------------------------------------------------------- publish
@pytest.fixture
def published(aws: SimpleNamespace) -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def publish(aws: SimpleNamespace, load_handler: Load, published: RecordingPublisher, lambda_context: Any) -> Any:
    handler = load_handler("EditPublishFunction")
    outcomes = EditOutcomes(store=S3ObjectStore(), publisher=published, bucket=aws.ImagesBucket)
    return lambda payload: handler.lambda_handler(payload, lambda_context, outcomes=outcomes)


def _compressed(aws: SimpleNamespace, edit: EditWorkflowInput) -> dict[str, Any]:
    key = f"edits/{IMAGE}/{edit.edit_id}/compress.webp"
    data = samples.encode(Image.new("RGB", (200, 200), (112, 66, 20)), "WEBP")
    boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=key, Body=data, ContentType="image/webp")
    return {
        "bucket": aws.ImagesBucket,
        "key": key,
        "format": "WEBP",
        "mediaType": "image/webp",
        "width": 200,
        "height": 200,
        "bytes": len(data),
    }


def test_a_completed_edit_is_published_under_outputs_and_announced(
    aws: SimpleNamespace, publish: Any, published: RecordingPublisher
) -> None:
    edit = _edit(aws, '"v1"')
    image = _compressed(aws, edit)
    steps = [{"step": name, "outcome": "done", "durationMs": ms} for name, ms in [("crop", 41), ("compress", 17)]]
    answer = publish({"outcome": "completed", "edit": edit.payload(), "image": image, "steps": steps})
    # The output is under outputs/, with the image's and the edit's ids
    key = f"outputs/{IMAGE}/edits/{edit.edit_id}.webp"
    made, stored = _read(aws, key)
    assert made.size == (200, 200)
    assert stored["ContentType"] == "image/webp"
    assert stored["Metadata"] == {"image-id": IMAGE, "edit-id": edit.edit_id}
    # And one EditCompleted in the envelope: correlation = image, causation = the edit request
    (event,) = published.published
    assert event.type is EventType.EDIT_COMPLETED
    assert event.image_id == IMAGE
    assert event.causation_id == edit.request_id
    assert event.metadata.producer == "EditWorkflow"
    assert event.data == {
        "editId": edit.edit_id,
        "output": {
            "key": key,
            "format": "WEBP",
            "mediaType": "image/webp",
            "width": 200,
            "height": 200,
            "bytes": image["bytes"],
        },
        "steps": steps,  # the step timeline
    }
    assert answer == {
        "outcome": "completed",
        "type": "EditCompleted",
        "eventId": event.event_id,
        "message": "EditCompleted",
    }


def test_a_repeated_publish_is_the_same_event(
    aws: SimpleNamespace, publish: Any, published: RecordingPublisher
) -> None:
    edit = _edit(aws, '"v1"')
    payload = {"outcome": "completed", "edit": edit.payload(), "image": _compressed(aws, edit)}
    publish(payload)
    publish(payload)  # a retry after the first attempt's answer was lost
    first, second = published.published
    assert first.event_id == second.event_id  # the tracker records it once


def test_a_rejection_is_announced_with_its_reason(
    aws: SimpleNamespace, publish: Any, published: RecordingPublisher
) -> None:
    edit = _edit(aws, '"v1"')
    rejection = {"step": "crop", "reason": "truncated", "message": "image data ends early: the file is truncated"}
    answer = publish({"outcome": "rejected", "edit": edit.payload(), "rejection": rejection})
    (event,) = published.published
    assert event.type is EventType.EDIT_REJECTED
    assert event.causation_id == edit.request_id
    assert event.data == {"editId": edit.edit_id, **rejection}
    assert answer["message"] == rejection["message"]
    assert _keys(aws, "outputs/") == []


@pytest.mark.parametrize(
    ("error", "cause", "reason", "named", "message"),
    [
        # AWS: Error is the exception's type, Cause a JSON object with type, message and stack
        (
            "ObjectMissing",
            json.dumps(
                {"errorType": "ObjectMissing", "errorMessage": "s3://b/k does not exist", "stackTrace": ["x"] * 50}
            ),
            "source_missing",
            "ObjectMissing",
            "crop failed (ObjectMissing): s3://b/k does not exist",
        ),
        # The local engine: every Lambda error is Runtime.HandlerError, inside the Cause too
        (
            "Runtime.HandlerError",
            json.dumps({"errorType": "Runtime.HandlerError", "errorMessage": "s3://b/k does not exist"}),
            "step_failed",
            "Runtime.HandlerError",
            "crop failed (Runtime.HandlerError): s3://b/k does not exist",
        ),
        # Step Functions' own errors carry a plain sentence
        (
            "States.Timeout",
            "Task timed out after 120 seconds",
            "timeout",
            "States.Timeout",
            "crop failed (States.Timeout): Task timed out after 120 seconds",
        ),
    ],
)
def test_a_failure_is_announced_with_the_step_its_error_and_its_cause(
    aws: SimpleNamespace,
    publish: Any,
    published: RecordingPublisher,
    error: str,
    cause: str,
    reason: str,
    named: str,
    message: str,
) -> None:
    edit = _edit(aws, '"v1"')
    answer = publish(
        {"outcome": "failed", "edit": edit.payload(), "failure": {"step": "crop", "error": error, "cause": cause}}
    )
    (event,) = published.published
    assert event.type is EventType.EDIT_FAILED
    assert event.causation_id == edit.request_id
    assert event.data == {"editId": edit.edit_id, "step": "crop", "reason": reason, "error": named, "message": message}
    assert answer["message"] == message  # the Fail state's cause


def test_a_huge_cause_is_cut_short(aws: SimpleNamespace, publish: Any, published: RecordingPublisher) -> None:
    edit = _edit(aws, '"v1"')
    cause = json.dumps({"errorType": "MemoryError", "errorMessage": "x" * 300_000})
    publish(
        {
            "outcome": "failed",
            "edit": edit.payload(),
            "failure": {"step": "filter", "error": "MemoryError", "cause": cause},
        }
    )
    (event,) = published.published
    assert len(event.data["message"]) < MAX_CAUSE_CHARS + 100


@pytest.mark.parametrize(
    "elsewhere",
    [{"key": f"uploads/{IMAGE}.jpg"}, {"key": f"edits/{IMAGE}/{'0' * 32}/compress.webp"}, {"bucket": "another"}],
    ids=["an-upload", "another-edits-work", "another-bucket"],
)
def test_publish_copies_only_the_edits_own_work(aws: SimpleNamespace, publish: Any, elsewhere: dict[str, str]) -> None:
    edit = _edit(aws, '"v1"')
    image = {**_compressed(aws, edit), **elsewhere}
    with pytest.raises(ValueError, match="only publish its own work"):
        publish({"outcome": "completed", "edit": edit.payload(), "image": image})
    assert _keys(aws, "outputs/") == []


def test_publish_refuses_an_outcome_it_does_not_know(aws: SimpleNamespace, publish: Any) -> None:
    edit = _edit(aws, '"v1"')
    with pytest.raises(ValidationError):
        publish({"outcome": "maybe", "edit": edit.payload()})


def test_publish_reaches_the_app_bus_through_the_real_adapter(
    aws: SimpleNamespace, load_handler: Load, lambda_context: Any
) -> None:
    # Given a consumer listening on the app bus, and the function wired as deployed
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="edits", EventBusName=aws.AppBus, EventPattern=json.dumps({"detail-type": ["EditRejected"]}))
    events.put_targets(Rule="edits", EventBusName=aws.AppBus, Targets=[{"Id": "q", "Arn": queue_arn}])
    handler = load_handler("EditPublishFunction")
    edit = _edit(aws, '"v1"')
    # When a rejection is published
    rejection = {"step": "compress", "reason": "corrupt", "message": "image data cannot be decoded"}
    handler.lambda_handler({"outcome": "rejected", "edit": edit.payload(), "rejection": rejection}, lambda_context)
    # Then the consumer gets it in the envelope, from the pipeline's source
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    delivered = json.loads(message["Body"])
    assert delivered["source"] == "image-pipeline"
    assert delivered["detail"]["metadata"]["correlationId"] == IMAGE
    assert delivered["detail"]["metadata"]["causationId"] == edit.request_id
    assert delivered["detail"]["data"]["reason"] == "corrupt"


def test_the_image_is_never_in_a_payload(aws: SimpleNamespace, steps: SimpleNamespace, lambda_context: Any) -> None:
    edit = _edit(aws, _put_source(aws, _photo((1600, 1200))))
    result = steps.compress.lambda_handler(_step_payload(edit, edit.source.model_dump()), lambda_context)
    size = len(json.dumps(result).encode())
    assert size < 1024  # a reference: far under Step Functions' 256 KB state limit
    assert size < result["image"]["bytes"]


def test_publish_log_lines_carry_the_image_id(
    aws: SimpleNamespace, load_handler: Load, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = load_handler("EditPublishFunction")
    edit = _edit(aws, '"v1"')
    outcomes = EditOutcomes(store=S3ObjectStore(), publisher=RecordingPublisher(), bucket=aws.ImagesBucket)
    rejection = {"step": "crop", "reason": "corrupt", "message": "cannot be decoded"}
    handler.lambda_handler(
        {"outcome": "rejected", "edit": edit.payload(), "rejection": rejection}, lambda_context, outcomes
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines
    assert {line.get("correlation_id") for line in lines} == {IMAGE}
