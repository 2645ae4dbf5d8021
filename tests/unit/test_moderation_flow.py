"""The pipeline acts on moderation, end to end on moto: a real photo goes through the intake, every
job of the catalogue (recognition by the bundled ONNX model, for real), the tracker and the API.
With a threshold low enough to flag the benign photo, it ends REJECTED (moderation) with the label
that flagged it and no output served; with the deployed default it completes and is served."""

import copy
import json
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.aws.upload_jobs import JobRunner
from image_pipeline.catalogue import JOBS, EventType
from image_pipeline.events import PipelineEvent
from image_pipeline.imaging import ImageLimits
from image_pipeline.intake import Intake
from image_pipeline.processing import UploadResponder
from tests.conftest import EVENTS, load_event
from tests.fakes import RecordingEditStarter, RecordingPublisher

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
KEY = f"uploads/{IMAGE}.jpg"
COFFEE = (EVENTS / "images" / "coffee-landscape.jpg").read_bytes()  # open_nsfw scores it ~0.005
CONTENT_CROP = {"operations": [{"crop": {"aspect": "1:1", "mode": "content"}}], "format": "webp"}


def _bus_event(event: PipelineEvent) -> dict[str, Any]:
    """A pipeline event as EventBridge delivers it to the tracker's rule."""
    return {
        "version": "0",
        "id": event.event_id,
        "detail-type": event.type.value,
        "source": "image-pipeline",
        "account": "123456789012",
        "time": event.occurred_at.isoformat(),
        "region": "us-east-1",
        "resources": [],
        "detail": event.detail(),
    }


def _upload(aws: SimpleNamespace) -> dict[str, Any]:
    etag = boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=KEY, Body=COFFEE)["ETag"].strip('"')
    event = copy.deepcopy(load_event("object-created.json"))
    event["detail"]["bucket"]["name"] = aws.ImagesBucket
    event["detail"]["object"].update(key=KEY, etag=etag, size=len(COFFEE))
    return event


def _run_pipeline(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object, threshold: str
) -> tuple[list[PipelineEvent], Callable[..., tuple[int, dict[str, Any]]]]:
    """Upload the photo, let the intake and every job answer, the tracker record it all; the
    tracker's announcements, and a way to call the API."""
    uploaded = _upload(aws)
    log = DynamoImageLog(aws.ImagesTable)
    bus = RecordingPublisher()
    intake = load_handler("IntakeFunction")
    intake.lambda_handler(uploaded, lambda_context, Intake(S3ObjectStore(), log, bus))
    for job in JOBS:
        handler = load_handler(
            job.function,
            RECOGNITION_BACKEND="onnx",
            MODERATION_THRESHOLD=threshold,
            AWS_LAMBDA_FUNCTION_NAME=job.function,  # each function's idempotency records are its own
        )
        (runner,) = [v for v in vars(handler).values() if isinstance(v, JobRunner)]
        responder = UploadResponder(
            S3ObjectStore(), bus, aws.ImagesBucket, ImageLimits(), job.function, operations=runner.operations
        )
        runner.run(uploaded, responder)
    tracker, verdicts = load_handler("TrackerFunction"), RecordingPublisher()
    for event in bus.published:
        assert tracker.lambda_handler(_bus_event(event), lambda_context, (log, verdicts))["recorded"]
    api = load_handler("ApiFunction")
    starter = RecordingEditStarter()

    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        request = load_event("api-get-image.json")
        request.update(httpMethod=method, path=path, body=None if body is None else json.dumps(body))
        request["resource"] = "/images/{imageId}" + ("/edits" if path.endswith("/edits") else "")
        request["pathParameters"] = {"imageId": IMAGE}
        response = api.lambda_handler(request, lambda_context, adapters=(S3ObjectStore(), log, starter, bus))
        return int(response["statusCode"]), json.loads(response["body"])

    return verdicts.published, call


def test_a_photo_the_model_flags_ends_rejected_for_moderation_and_nothing_of_it_is_served(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given RecognitionBackend=onnx and a threshold below the benign photo's own score
    verdicts, api = _run_pipeline(aws, load_handler, lambda_context, threshold="0.001")
    # Then the tracker's last word is REJECTED for moderation
    last = verdicts[-1]
    assert last.type is EventType.IMAGE_STATUS_CHANGED
    assert (last.data["status"], last.data["reasonCode"], last.data["final"]) == ("REJECTED", "moderation", True)
    assert "NSFW" in last.data["reason"]
    # And GET /images/{id} says so, shows what flagged it, and links none of the outputs the other jobs made
    status, image = api("GET", f"/images/{IMAGE}")
    assert status == 200
    assert (image["status"], image["reasonCode"]) == ("REJECTED", "moderation")
    moderation = image["recognition"]["moderation"]
    assert (image["recognition"]["backend"], moderation["flagged"], moderation["threshold"]) == ("onnx", True, 0.001)
    assert [label["name"] for label in moderation["labels"]] == ["NSFW"]
    assert image["outputs"]  # the thumbnail and renditions exist...
    assert all(o["url"] is None and o["withheld"] == "moderation" for o in image["outputs"].values())  # ...unserved
    # And it cannot be edited
    status, refused = api("POST", f"/images/{IMAGE}/edits", CONTENT_CROP)
    assert status == 409
    assert "withheld by moderation" in refused["message"]


def test_with_the_deployed_threshold_the_same_photo_completes_and_is_served_with_its_recognition(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    verdicts, api = _run_pipeline(aws, load_handler, lambda_context, threshold="0.8")
    assert (verdicts[-1].data["status"], verdicts[-1].data["reasonCode"]) == ("COMPLETE", None)
    _, image = api("GET", f"/images/{IMAGE}")
    assert image["recognition"]["backend"] == "onnx"
    assert image["recognition"]["moderation"]["flagged"] is False
    assert (image["recognition"]["labels"], image["recognition"]["faces"]) == (None, None)  # not from this model
    assert all(o["url"] and o["withheld"] is None for o in image["outputs"].values())
    assert api("POST", f"/images/{IMAGE}/edits", CONTENT_CROP)[0] == 202
