"""The whole path on the local engine: API -> presigned upload -> S3 -> EventBridge -> Lambda,
with real outcomes checked in S3, in the API and in each image's trace."""

import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from PIL import Image, ImageOps

from image_pipeline.catalogue import JOBS
from tests.conftest import sample_images
from tests.integration.conftest import s3, settled, upload_image, wait_for
from tests.photos import photo
from tests.unit.imaging import samples
from tools.client import ApiError, PipelineClient, content_type_for
from tools.stack import Stack

EXPECTED_RESPONSES = {job.response.value for job in JOBS}  # every job of the catalogue answers


def _jpeg(size: tuple[int, int] = (640, 480), **save: Any) -> bytes:
    return photo(size, **save)


@pytest.mark.parametrize("path", sample_images(), ids=lambda p: p.name)
def test_each_sample_completes_with_an_upright_thumbnail_and_a_full_trace(
    client: PipelineClient, stack: Stack, path: Any
) -> None:
    # Given a sample photo sent the way a client sends it
    image_id = upload_image(client, path.read_bytes(), path.name, content_type_for(path.name))
    # When the pipeline has answered
    image = settled(client, image_id)
    # Then it is complete, with a thumbnail in S3 that is 256 px on its long side and upright
    assert image["status"] == "COMPLETE", image
    thumbnail = image["outputs"]["thumbnail"]
    stored = s3().get_object(Bucket=stack.outputs["ImagesBucketName"], Key=thumbnail["key"])
    assert stored["Metadata"]["image-id"] == image_id  # the correlation id rides on outputs too
    with Image.open(io.BytesIO(stored["Body"].read())) as made:
        assert made.format == "JPEG"
        assert not made.getexif()  # metadata stripped
        with Image.open(path) as original:
            upright = ImageOps.exif_transpose(original).size
        assert max(made.size) == min(256, max(upright))
        assert (made.width > made.height) == (upright[0] > upright[1])  # EXIF orientation applied
    assert image["analysis"]["width"] == upright[0]
    # recognized by the bundled model (the local deploy's backend), cleared, so every output is linked
    recognition = image["recognition"]
    assert (recognition["backend"], recognition["moderation"]["flagged"]) == ("onnx", False)
    assert 0 <= recognition["moderation"]["score"] < recognition["moderation"]["threshold"]
    assert all(output["url"] for output in image["outputs"].values())
    # And the trace pairs the upload with every expected response
    timeline = client.get_trace(image_id)
    types = [e["type"] for e in timeline["events"]]
    # (the tracker's own verdicts are in the trace too, PENDING possibly before the upload arrives)
    assert [t for t in types if t != "ImageStatusChanged"][:2] == ["UploadRequested", "ImageUploaded"]
    assert set(types) >= EXPECTED_RESPONSES
    upload = next(e for e in timeline["events"] if e["type"] == "ImageUploaded")
    for event in timeline["events"]:
        if event["type"] in EXPECTED_RESPONSES:
            assert event["answers"] == {"type": "ImageUploaded", "eventId": upload["eventId"]}
            assert event["latencyMs"] >= 0
    assert timeline["missing"] == []


def test_outputs_never_trigger_processing_again(client: PipelineClient, stack: Stack) -> None:
    image_id = upload_image(client, _jpeg(), "plain.jpg", "image/jpeg")
    image = settled(client, image_id)
    events = client.get_trace(image_id)["events"]
    assert sum(e["type"] == "ImageUploaded" for e in events) == 1
    assert len(image["outputs"]) > 1  # thumbnail + renditions were written, and none was re-processed


def _palette_with_transparency() -> bytes:
    image = samples.photo((200, 150)).convert("P", palette=Image.Palette.ADAPTIVE)
    return samples.encode(image, "PNG", transparency=0)


# name -> (bytes, declared content type, the status it must end in, the reason code if rejected,
#          or the format the analysis must find if complete)
HOSTILE_AND_UNUSUAL: dict[str, tuple[Callable[[], bytes], str, str, str]] = {
    "truncated JPEG": (lambda: _jpeg((800, 600))[:12_000], "image/jpeg", "REJECTED", "truncated"),
    "decompression bomb": (
        lambda: samples.png_declaring(30_000, 30_000),
        "image/png",
        "REJECTED",
        "decompression_bomb",
    ),
    "animated frame bomb": (lambda: samples.animated_gif(150), "image/gif", "REJECTED", "too_many_frames"),
    "100000 x 1 image": (
        lambda: samples.encode(Image.new("L", (100_000, 1)), "PNG"),
        "image/png",
        "REJECTED",
        "side_too_long",
    ),
    "BMP claiming to be PNG": (
        lambda: samples.encode(Image.new("RGB", (64, 64), "red"), "BMP"),
        "image/png",
        "REJECTED",
        "unsupported_format",
    ),
    "HTML claiming to be JPEG": (
        lambda: b"<html><script>alert(1)</script></html>",
        "image/jpeg",
        "REJECTED",
        "unsupported_format",
    ),
    "PNG claiming to be JPEG": (lambda: samples.encode(samples.photo(), "PNG"), "image/jpeg", "COMPLETE", "PNG"),
    "CMYK JPEG": (lambda: samples.encode(samples.photo().convert("CMYK"), "JPEG"), "image/jpeg", "COMPLETE", "JPEG"),
    "16-bit PNG": (lambda: samples.encode(samples.photo().convert("I;16"), "PNG"), "image/png", "COMPLETE", "PNG"),
    "palette PNG with transparency": (_palette_with_transparency, "image/png", "COMPLETE", "PNG"),
}


@pytest.mark.parametrize("case", HOSTILE_AND_UNUSUAL, ids=str)
def test_hostile_and_unusual_images_end_right_without_retries(client: PipelineClient, stack: Stack, case: str) -> None:
    make, content_type, status, expected = HOSTILE_AND_UNUSUAL[case]
    image_id = upload_image(client, make(), f"{case}.img", content_type)
    image = settled(client, image_id)
    reason_code = expected if status == "REJECTED" else None
    assert (image["status"], image["reasonCode"]) == (status, reason_code), image
    if status == "REJECTED":
        assert image["reason"]
        # every processor answers once, by a rejection: nothing is retried or left hanging

        def rejections() -> list[dict[str, Any]]:
            events = client.get_trace(image_id)["events"]
            return [e for e in events if e["type"] == "ImageRejected"]

        answers = wait_for(lambda: len(rejections()) >= len(JOBS) and rejections(), timeout=60)
        assert sorted(e["source"] for e in answers) == sorted(job.function for job in JOBS)
    else:
        assert image["outputs"]["thumbnail"]["format"] == "JPEG"
        assert image["analysis"]["format"] == expected


def test_a_trailing_script_never_reaches_an_output(client: PipelineClient, stack: Stack) -> None:
    payload = b"<script>alert('owned')</script>"
    image_id = upload_image(client, _jpeg() + payload, "polyglot.jpg", "image/jpeg")
    image = settled(client, image_id)
    assert image["status"] == "COMPLETE"
    bucket = stack.outputs["ImagesBucketName"]
    for output in image["outputs"].values():
        assert payload not in s3().get_object(Bucket=bucket, Key=output["key"])["Body"].read(), output["name"]


def test_uploads_over_the_size_limit_or_of_another_type_are_refused_by_s3(client: PipelineClient) -> None:
    created = client.create_image("big.jpg", "image/jpeg")
    with pytest.raises(ApiError) as too_big:
        client.upload(created, b"x" * (created["maxBytes"] + 1), "big.jpg", "image/jpeg")
    assert too_big.value.status == 400
    with pytest.raises(ApiError) as empty:
        client.upload(created, b"", "big.jpg", "image/jpeg")
    assert empty.value.status == 400
    tampered = {**created, "upload": {**created["upload"], "fields": {**created["upload"]["fields"]}}}
    tampered["upload"]["fields"]["Content-Type"] = "text/html"  # the form says what S3 stores
    with pytest.raises(ApiError) as wrong_type:
        client.upload(tampered, _jpeg(), "big.jpg", "text/html")
    assert wrong_type.value.status == 403
    assert client.get_image(created["imageId"])["status"] == "PENDING"


def test_the_api_refuses_requests_without_the_key(stack: Stack) -> None:
    anonymous = PipelineClient(stack.api_url, api_key="wrong")
    with pytest.raises(ApiError) as refused:
        anonymous.create_image("a.jpg", "image/jpeg")
    assert refused.value.status == 403


def test_a_poison_message_is_dead_lettered_while_the_rest_of_its_batch_completes(
    client: PipelineClient, stack: Stack
) -> None:
    sqs = boto3.client("sqs")
    queue, dlq = stack.outputs["RenditionQueueUrl"], stack.outputs["RenditionDLQUrl"]
    # Retry quickly for this test (the deployed 12 minutes fit AWS, not a test run).
    original = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "2"})
    try:
        sqs.send_message(QueueUrl=queue, MessageBody="this is not an S3 event {")
        image_id = upload_image(client, _jpeg(), "neighbour.jpg", "image/jpeg")
        assert settled(client, image_id)["status"] == "COMPLETE"

        def dead_lettered() -> list[Any]:
            messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            return [m for m in messages if m["Body"].startswith("this is not")]

        assert wait_for(dead_lettered, timeout=90)
    finally:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes=original)
