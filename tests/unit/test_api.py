"""The REST API, through its real handler and adapters (moto), driven by the sample events."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.events import EventType, PipelineEvent
from tests.conftest import load_event

Call = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


@pytest.fixture
def api(aws: SimpleNamespace, load_handler: Callable[[str], ModuleType], lambda_context: object) -> Call:
    module = load_handler("ApiFunction")

    def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = module.lambda_handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"])

    return call


def _post(body: Any) -> dict[str, Any]:
    event = load_event("api-post-images.json")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def _get(image_id: str, trace: bool = False) -> dict[str, Any]:
    event = load_event("api-get-trace.json" if trace else "api-get-image.json")
    event["path"] = f"/images/{image_id}" + ("/trace" if trace else "")
    event["pathParameters"] = {"imageId": image_id}
    return event


def test_post_images_starts_a_limited_presigned_upload(api: Call, aws: SimpleNamespace) -> None:
    status, body = api(load_event("api-post-images.json"))
    assert status == 201
    image_id = body["imageId"]
    assert len(image_id) == 32
    assert body["statusUrl"] == f"images/{image_id}"
    fields = body["upload"]["fields"]
    assert fields["key"] == f"uploads/{image_id}.jpg"  # extension from the content type
    assert fields["Content-Type"] == "image/jpeg"
    assert fields["x-amz-meta-image-id"] == image_id  # the correlation id rides on the object
    assert aws.ImagesBucket in body["upload"]["url"]
    assert body["maxBytes"] == 20971520


def test_a_new_image_is_pending_with_its_upload_request_traced(api: Call) -> None:
    _, created = api(load_event("api-post-images.json"))
    status, image = api(_get(created["imageId"]))
    assert status == 200
    assert image["status"] == "PENDING"
    assert image["filename"] == "holiday.jpg"
    status, timeline = api(_get(created["imageId"], trace=True))
    assert status == 200
    assert [e["type"] for e in timeline["events"]] == ["UploadRequested"]
    assert timeline["expected"]["ImageUploaded"] == ["ImageAnalyzed", "RenditionsCreated", "ThumbnailCreated"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"filename": "a.jpg", "contentType": "text/html"}, {"contentType"}),
        ({"filename": "", "contentType": "image/png"}, {"filename"}),
        ({"filename": "a.jpg"}, {"contentType"}),
        ({"filename": "a.jpg", "contentType": "image/png", "size": 1}, {"size"}),
        ({"filename": "\x00\x1b", "contentType": "image/png"}, {"filename"}),
        ("{not json", {"body"}),
    ],
)
def test_bad_input_is_a_400_that_names_each_problem(api: Call, body: Any, fields: set[str]) -> None:
    status, response = api(_post(body))
    assert status == 400
    assert {e["field"] for e in response["errors"]} == fields
    assert all(e["reason"] for e in response["errors"])


def test_file_names_are_kept_as_base_names_only(api: Call) -> None:
    _, created = api(_post({"filename": "../../etc/C:\\Users\\me\\photo.png", "contentType": "image/png"}))
    _, image = api(_get(created["imageId"]))
    assert image["filename"] == "photo.png"


def test_unknown_and_malformed_ids(api: Call) -> None:
    assert api(_get("f" * 32))[0] == 404
    assert api(_get("f" * 32, trace=True))[0] == 404
    status, body = api(_get("not-an-id"))
    assert status == 400
    assert "imageId" in body["message"]


def test_get_image_derives_status_outputs_and_analysis_from_recorded_events(api: Call, aws: SimpleNamespace) -> None:
    _, created = api(load_event("api-post-images.json"))
    image_id = created["imageId"]
    log = DynamoImageLog(aws.ImagesTable)
    upload = f"uploads/{image_id}.jpg#01"
    log.append(PipelineEvent.new(EventType.IMAGE_UPLOADED, image_id=image_id, producer="aws.s3", event_id=upload))
    output = {
        "name": "thumbnail",
        "key": f"outputs/{image_id}/thumbnail.jpg",
        "format": "JPEG",
        "mediaType": "image/jpeg",
        "width": 256,
        "height": 171,
        "bytes": 9000,
    }
    responses: list[tuple[EventType, dict[str, Any]]] = [
        (EventType.THUMBNAIL_CREATED, {"outputs": [output]}),
        (EventType.RENDITIONS_CREATED, {"outputs": []}),
        (EventType.IMAGE_ANALYZED, {"analysis": {"format": "JPEG", "width": 640}}),
    ]
    for kind, data in responses:
        log.append(
            PipelineEvent.new(
                kind,
                image_id=image_id,
                producer="test",
                causation_id=upload,
                data=data,
                occurred_at=datetime.now(UTC),
            )
        )
    status, image = api(_get(image_id))
    assert status == 200
    assert image["status"] == "COMPLETE"
    assert image["missing"] == []
    assert image["analysis"] == {"format": "JPEG", "width": 640}
    thumbnail = image["outputs"]["thumbnail"]
    assert thumbnail["width"] == 256
    assert thumbnail["url"].startswith("https://")
    assert "X-Amz-Signature" in thumbnail["url"]
    _, timeline = api(_get(image_id, trace=True))
    assert [e["type"] for e in timeline["events"]][:2] == ["UploadRequested", "ImageUploaded"]
    assert {e["answers"]["eventId"] for e in timeline["events"][2:]} == {upload}
