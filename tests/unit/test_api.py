"""The REST API, through its real handler and adapters (moto), driven by the sample events."""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from image_pipeline import catalogue, contracts
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.events import EventType, PipelineEvent
from tests import samples, template
from tests.conftest import load_event
from tests.fakes import RecordingEditStarter, RecordingPublisher

Call = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
ORIGIN = template.load()["Parameters"]["AllowedOrigin"]["Default"]


@pytest.fixture
def raw_api(aws: SimpleNamespace, load_handler: Callable[[str], ModuleType], lambda_context: object) -> Any:
    module = load_handler("ApiFunction")
    return lambda event: module.lambda_handler(event, lambda_context)


@pytest.fixture
def api(raw_api: Any) -> Call:
    def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = raw_api(event)
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
    assert timeline["expected"]["ImageUploaded"] == sorted(job.response.value for job in catalogue.JOBS)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"filename": "a.jpg", "contentType": "text/html"}, {"contentType"}),
        ({"filename": "", "contentType": "image/png"}, {"filename"}),
        ({"filename": "a.jpg"}, {"contentType"}),
        ({"filename": "a.jpg", "contentType": "image/png", "size": -1}, {"size"}),
        ({"filename": "a.jpg", "contentType": "image/png", "size": "1"}, {"size"}),
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


@pytest.mark.parametrize("image_id", ["not-an-id", "F" * 32, "f" * 31 + "g", "f" * 33])
def test_a_malformed_image_id_is_a_400_naming_the_field(api: Call, image_id: str) -> None:
    status, body = api(_get(image_id))
    assert status == 400
    assert body == {
        "message": "imageId: must be 32 lowercase hex characters",
        "code": "INVALID_REQUEST",
        "errors": [{"field": "imageId", "reason": "must be 32 lowercase hex characters"}],
    }


def test_an_unknown_image_or_route_is_a_404_in_the_same_shape(api: Call) -> None:
    assert api(_get("f" * 32)) == (404, {"message": f"no image {'f' * 32}", "code": "NOT_FOUND", "errors": []})
    assert api(_get("f" * 32, trace=True))[0] == 404
    unknown = _get("f" * 32)
    unknown["path"] = unknown["resource"] = "/nothing/here"
    status, body = api(unknown)
    assert (status, body["code"], body["errors"]) == (404, "NOT_FOUND", [])


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
        (EventType.IMAGE_RECOGNIZED, samples.DATA[EventType.IMAGE_RECOGNIZED]),
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
    assert image["recognition"] == samples.DATA[EventType.IMAGE_RECOGNIZED]["recognition"]
    thumbnail = image["outputs"]["thumbnail"]
    assert thumbnail["width"] == 256
    assert thumbnail["url"].startswith("https://")
    assert "X-Amz-Signature" in thumbnail["url"]
    _, timeline = api(_get(image_id, trace=True))
    assert [e["type"] for e in timeline["events"]][:2] == ["UploadRequested", "ImageUploaded"]
    assert {e["answers"]["eventId"] for e in timeline["events"][2:]} == {upload}


def test_an_output_made_before_moderation_answered_is_listed_without_a_link(api: Call, aws: SimpleNamespace) -> None:
    # Given a thumbnail made, and recognition not answered yet (it may still flag the picture)
    _, created = api(load_event("api-post-images.json"))
    image_id = created["imageId"]
    log = DynamoImageLog(aws.ImagesTable)
    upload = f"uploads/{image_id}.jpg#01"
    log.append(PipelineEvent.new(EventType.IMAGE_UPLOADED, image_id=image_id, producer="aws.s3", event_id=upload))
    thumbnail = {**samples.DATA[EventType.THUMBNAIL_CREATED]["outputs"][0], "key": f"outputs/{image_id}/t.jpg"}
    log.append(
        PipelineEvent.new(
            EventType.THUMBNAIL_CREATED,
            image_id=image_id,
            producer="ThumbnailFunction",
            causation_id=upload,
            data={"outputs": [thumbnail]},
        )
    )
    # Then the image lists it, withheld until moderation clears the upload, and shows no recognition
    _, image = api(_get(image_id))
    assert image["status"] == "PROCESSING"
    assert image["outputs"]["thumbnail"]["url"] is None
    assert image["outputs"]["thumbnail"]["withheld"] == "pending_moderation"
    assert image["recognition"] is None


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-8"],
)
def test_a_json_body_is_read_as_json_whatever_content_type_the_client_sent(api: Call, content_type: str | None) -> None:
    # curl -d sends application/x-www-form-urlencoded; some clients send nothing at all
    event = load_event("api-post-images.json")
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("Content-Type")
        if content_type:
            headers["content-type"] = content_type if headers is event["headers"] else [content_type]
    status, body = api(event)
    assert status == 201, body
    assert body["upload"]["fields"]["Content-Type"] == "image/jpeg"


def test_every_answer_carries_the_cors_headers_of_the_allowed_origin(raw_api: Any) -> None:
    for event in (load_event("api-post-images.json"), _get("f" * 32), _get("nope")):
        event["headers"]["origin"], event["multiValueHeaders"]["origin"] = ORIGIN, [ORIGIN]  # as API Gateway sends it
        response = raw_api(event)
        headers = response["multiValueHeaders"] | {k: [v] for k, v in response.get("headers", {}).items()}
        assert headers["Access-Control-Allow-Origin"] == [ORIGIN], response["statusCode"]


def test_the_upload_policy_allows_exactly_the_advertised_max_bytes(api: Call) -> None:
    status, body = api(load_event("api-post-images.json"))
    assert status == 201
    policy = json.loads(base64.b64decode(body["upload"]["fields"]["policy"]))
    (size_range,) = [c for c in policy["conditions"] if isinstance(c, list) and c[0] == "content-length-range"]
    assert size_range == ["content-length-range", 1, body["maxBytes"]]
    assert body["maxBytes"] == int(template.function_environment("ApiFunction")["MAX_UPLOAD_BYTES"])


def _list(**query: str) -> dict[str, Any]:
    event = load_event("api-get-image.json")
    event.update(resource="/images", path="/images", pathParameters=None, queryStringParameters=query or None)
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def test_images_are_listed_newest_first_a_page_at_a_time(api: Call) -> None:
    created = [api(_post({"filename": f"{n}.png", "contentType": "image/png"}))[1]["imageId"] for n in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        status, page = api(_list(limit="2", **({"cursor": cursor} if cursor else {})))
        assert status == 200
        assert len(page["images"]) <= 2
        seen += [i["imageId"] for i in page["images"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == created[::-1]
    first = api(_list(limit="1"))[1]["images"][0]
    assert first == {
        "imageId": created[-1],
        "status": "PENDING",
        "filename": "4.png",
        "uploadKey": f"uploads/{created[-1]}.png",
        "origin": "api",
        "createdAt": first["createdAt"],
        "statusUrl": f"images/{created[-1]}",
    }


def test_an_image_is_found_by_its_object_key(api: Call) -> None:
    _, created = api(load_event("api-post-images.json"))
    key = created["upload"]["fields"]["key"]
    status, found = api(_list(key=key))
    assert (status, [i["imageId"] for i in found["images"]]) == (200, [created["imageId"]])
    assert api(_list(key="uploads/never uploaded.jpg"))[1]["images"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "bm90IG91cnM="}, "cursor"),
        ({"key": "outputs/x.jpg"}, "key"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_list_query_is_a_400_naming_the_field(api: Call, query: dict[str, str], field: str) -> None:
    status, body = api(_list(**query))
    assert status == 400
    assert body["code"] == "INVALID_REQUEST"
    assert [e["field"] for e in body["errors"]] == [field]


def test_a_new_image_is_announced_on_the_bus_as_the_tracker_and_the_hub_need_it(
    aws: SimpleNamespace, load_handler: Callable[[str], ModuleType], lambda_context: object
) -> None:
    # Given the API with a publisher that records what it puts on the app bus
    module, published = load_handler("ApiFunction"), RecordingPublisher()
    adapters = (S3ObjectStore(), DynamoImageLog(aws.ImagesTable), RecordingEditStarter(), published)
    # When a client starts an upload
    response = module.lambda_handler(
        _post({"filename": "a.jpg", "contentType": "image/jpeg"}), lambda_context, adapters
    )
    created = json.loads(response["body"])
    # Then the request is on the bus too, as recorded, keeping its contract (the tracker then
    # announces the image PENDING; the hub's consumers see it before any upload)
    (requested,) = published.published
    assert (requested.type, requested.image_id) == (EventType.UPLOAD_REQUESTED, created["imageId"])
    assert DynamoImageLog(aws.ImagesTable).events(created["imageId"]) == [requested]
    contracts.validate(requested.type.value, requested.detail())


MAX = int(template.load()["Parameters"]["MaxUploadBytes"]["Default"])


@pytest.mark.parametrize(
    ("size", "created"),
    [(None, True), (1, True), (MAX - 1, True), (MAX, True), (MAX + 1, False), (0, False), (-1, False), ("12", False)],
    ids=["undeclared", "one-byte", "just-below", "at-the-limit", "just-above", "empty", "negative", "a-string"],
)
def test_a_declared_size_the_upload_would_refuse_is_refused_before_anything_exists(
    api: Call, aws: SimpleNamespace, size: Any, created: bool
) -> None:
    body = {"filename": "a.jpg", "contentType": "image/jpeg"} | ({"size": size} if size is not None else {})
    status, answer = api(_post(body))
    if created:
        # the presigned POST takes no more than what was declared (the stack's limit if nothing was)
        assert status == 201
        assert answer["maxBytes"] == (size or MAX)
        policy = json.loads(base64.b64decode(answer["upload"]["fields"]["policy"]))
        assert ["content-length-range", 1, size or MAX] in policy["conditions"]
        return
    # Then a 400 naming the field and, past the limit, the stack's own limit; and no image at all
    assert status == 400
    (problem,) = answer["errors"]
    assert problem["field"] == "size"
    if size == MAX + 1:
        assert "MaxUploadBytes" in problem["reason"]
        assert f"{MAX:,}" in problem["reason"]
    assert DynamoImageLog(aws.ImagesTable).list_images(limit=10).images == []
