"""POST /images/{id}/edits and GET /images/{id}/edits/{editId}: validated, idempotent, truthful;
an edit that never answers is reported STALLED by the same sweeper as uploads."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import urljoin

import pytest

from image_pipeline import contracts
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.catalogue import JOBS
from image_pipeline.edits import outcome_event_id, request_event_id
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.tracker import sweep_overdue
from tests import samples
from tests.conftest import load_event
from tests.fakes import RecordingEditStarter, RecordingPublisher

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
UPLOAD = f"{IMAGE}@0A1B"
BODY = {"operations": [{"crop": {"aspect": "1:1"}}, {"filter": "sepia"}, {"resize": {"width": 800}}], "format": "webp"}


@pytest.fixture
def log(aws: SimpleNamespace) -> DynamoImageLog:
    return DynamoImageLog(aws.ImagesTable)


@pytest.fixture
def starter() -> RecordingEditStarter:
    return RecordingEditStarter()


@pytest.fixture
def api(
    aws: SimpleNamespace,
    log: DynamoImageLog,
    starter: RecordingEditStarter,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
) -> Callable[..., tuple[int, dict[str, Any]]]:
    module = load_handler("ApiFunction")

    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        event = load_event("api-get-image.json")
        parts = path.strip("/").split("/")
        event.update(httpMethod=method, path=path, body=None if body is None else json.dumps(body))
        event["resource"] = "/" + "/".join(
            {2: "{imageId}", 4: "{editId}"}.get(i + 1, part) if i in {1, 3} else part for i, part in enumerate(parts)
        )
        event["pathParameters"] = {"imageId": parts[1]} | ({"editId": parts[3]} if len(parts) > 3 else {})
        response = module.lambda_handler(
            event, lambda_context, adapters=(S3ObjectStore(), log, starter, RecordingPublisher())
        )
        return int(response["statusCode"]), json.loads(response["body"])

    return call


def _uploaded(log: DynamoImageLog, *, complete: bool = True, size: tuple[int, int] | None = (640, 480)) -> None:
    at = datetime.now(UTC) - timedelta(seconds=10)
    data = {"bucket": "test-imagesbucket", "key": f"uploads/{IMAGE}.jpg", "etag": "abc123", "sequencer": "0A1B"}
    log.append(
        PipelineEvent.new(
            EventType.IMAGE_UPLOADED,
            image_id=IMAGE,
            producer="IntakeFunction",
            event_id=UPLOAD,
            occurred_at=at,
            data=data,
        )
    )
    analysis: dict[str, Any] = {"format": "JPEG", "width": size[0], "height": size[1]} if size else {"format": "JPEG"}
    answers: dict[EventType, dict[str, Any]] = {
        EventType.THUMBNAIL_CREATED: {},
        EventType.RENDITIONS_CREATED: {},
        EventType.IMAGE_ANALYZED: {"analysis": analysis},
        EventType.IMAGE_RECOGNIZED: samples.DATA[EventType.IMAGE_RECOGNIZED],  # cleared, with a face
    }
    assert set(answers) == {job.response for job in JOBS}  # every job answers: the image is COMPLETE
    for kind, answer in list(answers.items())[: None if complete else 1]:
        log.append(
            PipelineEvent.new(kind, image_id=IMAGE, producer="test", causation_id=UPLOAD, occurred_at=at, data=answer)
        )


def test_an_edit_is_accepted_started_once_and_reported_running(api: Any, log: DynamoImageLog, starter: Any) -> None:
    _uploaded(log)
    status, accepted = api("POST", f"/images/{IMAGE}/edits", BODY)
    assert status == 202
    # statusUrl is relative to the URL posted to (test_api_contract.py follows it through the routes)
    posted_to = f"https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1/images/{IMAGE}/edits"
    assert urljoin(posted_to, accepted["statusUrl"]) == f"{posted_to}/{accepted['editId']}"
    # the same request again is the same edit: nothing new recorded or started
    assert api("POST", f"/images/{IMAGE}/edits", BODY) == (202, accepted)
    assert starter.executions() == [f"fake-execution:{accepted['editId']}"]
    (started,) = starter.started.values()
    assert (started.source.key, started.source.etag, started.format) == (f"uploads/{IMAGE}.jpg", "abc123", "webp")
    status, edit = api("GET", f"/images/{IMAGE}/edits/{accepted['editId']}")
    assert (status, edit["status"], edit["format"]) == (200, "RUNNING", "webp")
    assert [next(iter(op)) for op in edit["operations"]] == ["crop", "filter", "resize"]
    # and the image itself is still its upload, complete
    assert api("GET", f"/images/{IMAGE}")[1]["status"] == "COMPLETE"


def test_a_completed_edit_links_its_output(api: Any, log: DynamoImageLog) -> None:
    _uploaded(log)
    edit = api("POST", f"/images/{IMAGE}/edits", BODY)[1]["editId"]
    output = {
        "key": f"outputs/{IMAGE}/edits/{edit}.webp",
        "format": "WEBP",
        "mediaType": "image/webp",
        "width": 800,
        "height": 800,
        "bytes": 1234,
    }
    log.append(
        PipelineEvent.new(
            EventType.EDIT_COMPLETED,
            image_id=IMAGE,
            producer="EditPublishFunction",
            event_id=outcome_event_id(edit, EventType.EDIT_COMPLETED),
            causation_id=request_event_id(edit),
            data={"editId": edit, "output": output},
        )
    )
    status, described = api("GET", f"/images/{IMAGE}/edits/{edit}")
    assert (status, described["status"]) == (200, "COMPLETE")
    assert described["output"]["width"] == 800
    assert "X-Amz-Signature" in described["output"]["url"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"operations": [{"rotate": 90}]}, {"operations.0"}),
        ({"operations": [{"filter": "glow"}]}, {"operations.0.filter"}),
        ({"operations": [{"resize": {"width": 99999}}]}, {"operations.0.resize.width"}),
        ({"operations": [{"filter": "sepia"}] * 9}, {"operations"}),
        ({"operations": [{"filter": "sepia"}], "format": "bmp"}, {"format"}),
    ],
)
def test_a_hostile_edit_is_a_400_naming_each_field(api: Any, log: DynamoImageLog, body: Any, fields: set[str]) -> None:
    _uploaded(log)
    status, refused = api("POST", f"/images/{IMAGE}/edits", body)
    assert (status, refused["code"]) == (400, "INVALID_REQUEST")
    assert {e["field"] for e in refused["errors"]} == fields


def test_an_unknown_image_is_404_and_one_not_processed_yet_is_409(api: Any, log: DynamoImageLog) -> None:
    assert api("POST", f"/images/{'f' * 32}/edits", BODY)[0] == 404
    _uploaded(log, complete=False)
    status, conflict = api("POST", f"/images/{IMAGE}/edits", BODY)
    assert (status, conflict["code"]) == (409, "CONFLICT")
    assert "PROCESSING" in conflict["message"]


@pytest.mark.parametrize(("mode", "faces"), [("content", True), ("centre", False)])
def test_a_content_crop_is_started_with_the_faces_recognition_found(
    api: Any, log: DynamoImageLog, starter: Any, mode: str, faces: bool
) -> None:
    _uploaded(log)
    body = {"operations": [{"crop": {"aspect": "1:1", "mode": mode}}], "format": "webp"}
    assert api("POST", f"/images/{IMAGE}/edits", body)[0] == 202
    (started,) = starter.started.values()
    found = samples.DATA[EventType.IMAGE_RECOGNIZED]["recognition"]["faces"]
    assert started.payload()["faces"] == (found if faces else None)
    # and the request event keeps its contract with them
    (requested,) = [e for e in log.events(IMAGE) if e.type is EventType.EDIT_REQUESTED]
    contracts.validate(requested.type.value, requested.detail())


def test_an_image_moderation_flagged_is_never_edited(api: Any, log: DynamoImageLog, starter: Any) -> None:
    _uploaded(log, complete=False)
    log.append(
        PipelineEvent.new(
            EventType.IMAGE_REJECTED,
            image_id=IMAGE,
            producer="RecognizeFunction",
            causation_id=UPLOAD,
            data={"reason": "moderation", "message": "flagged", "job": "recognition"},
        )
    )
    status, conflict = api("POST", f"/images/{IMAGE}/edits", BODY)
    assert (status, conflict["code"]) == (409, "CONFLICT")
    assert "withheld by moderation" in conflict["message"]
    assert starter.executions() == []


def test_unknown_and_malformed_edit_ids(api: Any, log: DynamoImageLog) -> None:
    _uploaded(log)
    assert api("GET", f"/images/{IMAGE}/edits/{'e' * 32}")[0] == 404
    status, refused = api("GET", f"/images/{IMAGE}/edits/not-an-edit")
    assert (status, [e["field"] for e in refused["errors"]]) == (400, ["editId"])


def test_an_edit_that_never_answers_is_stalled_by_the_sweeper(api: Any, log: DynamoImageLog) -> None:
    _uploaded(log)
    edit = api("POST", f"/images/{IMAGE}/edits", BODY)[1]["editId"]
    later = datetime.now(UTC) + timedelta(seconds=400)  # past the 300 s stall timeout
    published = RecordingPublisher()
    swept = sweep_overdue(log, published, now=later, stall_timeout=timedelta(seconds=300), producer="StallSweeper")
    (stall,) = swept.stalled
    assert (stall.causation_id, stall.data["request"], stall.data["missing"]) == (
        request_event_id(edit),
        "EditRequested",
        ["EditCompleted"],
    )
    log.append(stall)
    assert api("GET", f"/images/{IMAGE}/edits/{edit}")[1]["status"] == "STALLED"
    assert api("GET", f"/images/{IMAGE}")[1]["status"] == "COMPLETE"  # the image is unaffected
    trace = api("GET", f"/images/{IMAGE}/trace")[1]
    assert trace["edits"] == {edit: "STALLED"}
    answering = [e["type"] for e in trace["events"] if (e["answers"] or {}).get("eventId") == request_event_id(edit)]
    assert answering == ["ImageProcessingStalled"]


@pytest.mark.parametrize(
    ("size", "crop", "field"),
    [
        ((1, 1), {"aspect": "16:9"}, "operations.0.crop.aspect"),
        ((10000, 50), {"aspect": "1:100"}, "operations.0.crop.aspect"),
        ((100, 100), {"box": [0, 0, 0.005, 1]}, "operations.0.crop.box"),
    ],
)
def test_a_crop_the_image_cannot_give_is_a_400_when_its_size_is_known(
    api: Any, log: DynamoImageLog, starter: Any, size: tuple[int, int], crop: dict[str, Any], field: str
) -> None:
    # Given a processed image whose analysis measured it
    _uploaded(log, size=size)
    # When an edit asks a crop it cannot give
    status, refused = api("POST", f"/images/{IMAGE}/edits", {"operations": [{"crop": crop}]})
    # Then it is refused at once, naming the field and the image's size, and nothing starts
    assert (status, refused["code"]) == (400, "INVALID_REQUEST")
    ((problem),) = refused["errors"]
    assert problem["field"] == field
    assert f"{size[0]}x{size[1]}" in problem["reason"]
    assert starter.executions() == []


def test_a_crop_the_image_can_give_is_accepted(api: Any, log: DynamoImageLog, starter: Any) -> None:
    _uploaded(log, size=(1600, 900))
    assert api("POST", f"/images/{IMAGE}/edits", {"operations": [{"crop": {"aspect": "16:9"}}]})[0] == 202
    assert len(starter.executions()) == 1


def test_a_crop_of_an_image_of_unknown_size_is_left_to_the_crop_step(
    api: Any, log: DynamoImageLog, starter: Any
) -> None:
    _uploaded(log, size=None)  # an analysis that did not measure it
    assert api("POST", f"/images/{IMAGE}/edits", {"operations": [{"crop": {"aspect": "1:100"}}]})[0] == 202
    assert len(starter.executions()) == 1  # the crop step refuses it if it must (EditRejected)
