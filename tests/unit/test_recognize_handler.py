"""RecognizeFunction answers every upload once: ImageRecognized, a moderation rejection, or (when
its backend cannot answer) an error Lambda retries. S3 and the idempotency table are moto's."""

import copy
import json
from collections.abc import Callable, Mapping
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from image_pipeline import contracts
from image_pipeline.aws.recognizers import recognizer_for
from image_pipeline.aws.rekognition import RekognitionRecognizer
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.imaging import ImageLimits
from image_pipeline.offline.open_nsfw import OpenNsfwModeration
from image_pipeline.ports import UploadImage
from image_pipeline.processing import OPERATIONS, Operation, UploadResponder
from image_pipeline.recognition import (
    Findings,
    ModerationThreshold,
    RecognitionMisconfigured,
    RecognitionOff,
    Recognizer,
    recognition_operation,
)
from tests.conftest import EVENTS, load_event
from tests.fakes import RecordingPublisher
from tests.rekognition import FACES, LABELS, MODERATION

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
KEY = f"uploads/{IMAGE}.jpg"
VERSION = "0A1B2C3D4E5F678901"  # the sample events' sequencer
COFFEE = (EVENTS / "images" / "coffee-landscape.jpg").read_bytes()  # open_nsfw scores it ~0.005


FUNCTION = "RecognizeFunction"


@pytest.fixture
def load_recognize(load_handler: Callable[..., ModuleType], aws: SimpleNamespace) -> Callable[..., ModuleType]:
    """Start RecognizeFunction (a cold start) with the environment template.yaml gives it, the
    ONNX backend unless told otherwise."""

    def load(**overrides: str) -> ModuleType:
        return load_handler(FUNCTION, **{"RECOGNITION_BACKEND": "onnx", **overrides})

    return load


def _responder(aws: SimpleNamespace, operations: Mapping[str, Operation]) -> UploadResponder:
    """The function's adapters on moto (the bus recorded), running ``operations``."""
    return UploadResponder(
        S3ObjectStore(), RecordingPublisher(), aws.ImagesBucket, ImageLimits(), FUNCTION, operations=operations
    )


def _with(recognizer: Recognizer, threshold: float = 0.8) -> Mapping[str, Operation]:
    return {"recognition": recognition_operation(recognizer, ModerationThreshold(threshold))}


def _published(responder: UploadResponder) -> list[Any]:
    assert isinstance(responder.publisher, RecordingPublisher)
    return responder.publisher.published


def _announce(name: str, aws: SimpleNamespace, data: bytes) -> dict[str, Any]:
    """Store ``data`` as the upload and return the sample event announcing it."""
    etag = boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=KEY, Body=data)["ETag"].strip('"')
    event = copy.deepcopy(load_event(name))
    if "Records" in event:
        event["Records"][0]["s3"]["bucket"]["name"] = aws.ImagesBucket
        event["Records"][0]["s3"]["object"]["eTag"] = etag
    else:
        event["detail"]["bucket"]["name"] = aws.ImagesBucket
        event["detail"]["object"]["etag"] = etag
    return event


@pytest.mark.parametrize("event_name", ["s3put.json", "object-created.json"])
def test_an_upload_is_recognized_by_the_bundled_model_and_the_answer_keeps_its_contract(
    event_name: str, aws: SimpleNamespace, load_recognize: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given a photo uploaded, announced in either S3 event shape, and the ONNX backend
    handler = load_recognize()
    responder = _responder(aws, handler.recognition.operations)
    # When RecognizeFunction handles the event
    result = handler.lambda_handler(_announce(event_name, aws, COFFEE), lambda_context, responder)
    # Then ImageRecognized answers this upload, with the model's score and nothing it cannot see
    (event,) = _published(responder)
    assert result["results"] == [{"imageId": IMAGE, "type": "ImageRecognized", "eventId": event.event_id}]
    assert event.causation_id == f"{IMAGE}@{VERSION}"
    recognition = event.data["recognition"]
    assert recognition["backend"] == "onnx"
    assert (recognition["labels"], recognition["faces"]) == (None, None)
    assert recognition["moderation"]["flagged"] is False
    assert 0 < recognition["moderation"]["score"] < 0.8
    contracts.validate("ImageRecognized", event.detail())


def test_a_flagged_upload_ends_rejected_for_moderation_with_the_labels_that_flagged_it(
    aws: SimpleNamespace, load_recognize: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given a threshold below the coffee photo's own score (the model flags it, for real)
    handler = load_recognize(MODERATION_THRESHOLD="0.001")
    responder = _responder(aws, handler.recognition.operations)
    handler.lambda_handler(_announce("object-created.json", aws, COFFEE), lambda_context, responder)
    # Then the answer is ImageRejected (moderation), naming the label and the job
    (event,) = _published(responder)
    assert event.type == "ImageRejected"
    assert (event.data["reason"], event.data["job"], event.data["backend"]) == ("moderation", "recognition", "onnx")
    assert [label["name"] for label in event.data["labels"]] == ["NSFW"]
    assert event.data["threshold"] == 0.001
    contracts.validate("ImageRejected", event.detail())


def test_rekognition_is_pointed_at_the_upload_the_event_announced(
    aws: SimpleNamespace, load_recognize: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given the Rekognition backend (stubbed) and an upload it can read from S3
    handler = load_recognize(RECOGNITION_BACKEND="rekognition", MODERATION_THRESHOLD="0.9")
    client = boto3.client("rekognition")
    image = {"S3Object": {"Bucket": aws.ImagesBucket, "Name": KEY}}
    with Stubber(client) as stub:
        stub.add_response(
            "detect_labels",
            LABELS,
            {"Image": image, "MaxLabels": 50, "MinConfidence": 55.0, "Features": ["GENERAL_LABELS"]},
        )
        stub.add_response("detect_moderation_labels", MODERATION, {"Image": image, "MinConfidence": 50.0})
        stub.add_response("detect_faces", FACES, {"Image": image, "Attributes": ["DEFAULT"]})
        # When the upload is handled
        event = _announce("object-created.json", aws, COFFEE)
        responder = _responder(aws, _with(RekognitionRecognizer(client, moderation_from=0.5), 0.9))
        handler.lambda_handler(event, lambda_context, responder)
        stub.assert_no_pending_responses()
    # Then Rekognition read the announced object itself, and its findings are the answer
    (answer,) = _published(responder)
    recognition = answer.data["recognition"]
    assert recognition["input"] == "s3-object"
    assert recognition["labels"][0] == {"name": "Car", "confidence": 0.9915, "parents": ["Transportation", "Vehicle"]}
    assert (recognition["moderation"]["score"], recognition["moderation"]["flagged"]) == (0.865, False)
    contracts.validate(answer.type.value, answer.detail())


class _Broken(Recognizer):
    backend = "rekognition"

    def recognize(self, image: UploadImage, limits: ImageLimits) -> Findings:
        raise RecognitionMisconfigured("grant the function rekognition:DetectLabels")


def test_a_backend_that_cannot_answer_fails_the_invocation_and_a_retry_after_the_fix_answers(
    aws: SimpleNamespace, load_recognize: Callable[..., ModuleType], lambda_context: object
) -> None:
    handler = load_recognize(RECOGNITION_BACKEND="rekognition")
    event = _announce("object-created.json", aws, COFFEE)
    # Given a backend deployed without its permissions: the invocation fails, nothing is published
    broken = _responder(aws, _with(_Broken()))
    with pytest.raises(RecognitionMisconfigured, match="grant the function"):
        handler.lambda_handler(event, lambda_context, broken)
    assert _published(broken) == []
    # When Lambda retries the same event once the backend is fixed, it is answered (not deduplicated)
    fixed = _responder(aws, _with(RecognitionOff()))
    handler.lambda_handler(event, lambda_context, fixed)
    assert [e.type.value for e in _published(fixed)] == ["ImageRecognized"]


def test_a_duplicate_delivery_is_recognized_once(
    aws: SimpleNamespace, load_recognize: Callable[..., ModuleType], lambda_context: object
) -> None:
    handler = load_recognize(RECOGNITION_BACKEND="off")
    responder = _responder(aws, handler.recognition.operations)
    event = _announce("object-created.json", aws, COFFEE)
    first = handler.lambda_handler(event, lambda_context, responder)
    again = handler.lambda_handler(event, lambda_context, responder)
    assert first == again
    (answer,) = _published(responder)
    assert answer.data["recognition"]["backend"] == "off"


def test_a_foreign_event_gets_one_clear_sentence(
    aws: SimpleNamespace,
    load_recognize: Callable[..., ModuleType],
    lambda_context: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = load_recognize(RECOGNITION_BACKEND="off")
    result = handler.lambda_handler(load_event("api-post-images.json"), lambda_context)
    assert result["unsupported"].startswith("RecognizeFunction handles ")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["message"] for line in lines if line.get("level") == "ERROR"] == [result["unsupported"]]


@pytest.mark.parametrize(
    ("backend", "kind"), [("rekognition", RekognitionRecognizer), ("onnx", OpenNsfwModeration), ("off", RecognitionOff)]
)
def test_the_deployments_backend_setting_picks_the_recognizer(
    backend: str, kind: type[Recognizer], aws: object
) -> None:
    assert isinstance(recognizer_for(backend, ModerationThreshold(0.3)), kind)


def test_rekognition_is_asked_for_moderation_labels_down_to_a_low_threshold(aws: object) -> None:
    recognizer = recognizer_for("rekognition", ModerationThreshold(0.3))
    assert isinstance(recognizer, RekognitionRecognizer)
    with Stubber(recognizer._client) as stub:
        stub.add_response("detect_labels", LABELS)
        stub.add_response("detect_moderation_labels", MODERATION, {"Image": {"Bytes": COFFEE}, "MinConfidence": 30.0})
        stub.add_response("detect_faces", FACES)
        recognizer.recognize(UploadImage(COFFEE), ImageLimits())


def test_the_function_runs_every_other_job_as_processing_does_and_recognition_with_its_deployments_choice(
    load_recognize: Callable[..., ModuleType],
) -> None:
    operations = load_recognize(RECOGNITION_BACKEND="off").recognition.operations
    assert {name: operations[name] for name in OPERATIONS} == OPERATIONS
    assert "recognition" not in OPERATIONS  # it needs a backend and a threshold: only its function has them


def test_an_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown recognition backend 'vision'"):
        recognizer_for("vision", ModerationThreshold(0.5))
