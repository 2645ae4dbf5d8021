"""The renditions job answers a reprocess with the same code it answers an upload with: the work is
done once per upload and spec version, whichever request comes first, and each request gets its
answer; outputs of two spec versions never share a key."""

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from PIL import Image

from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.events import PipelineEvent
from image_pipeline.imaging import SPEC_VERSIONS, ImageLimits
from image_pipeline.processing import UploadResponder
from image_pipeline.uploads import UploadedObject, object_created
from tests.conftest import load_event
from tests.fakes import RecordingPublisher

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
KEY = f"uploads/{IMAGE}.jpg"
VERSION = "0A1B2C3D4E5F678901"
REQUEST = f"reprocess:{IMAGE}@{VERSION}:bbbbbbbbbbbb"


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((640, 427)).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Counting(S3ObjectStore):
    """S3, counting the outputs written: the work done."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, bucket: str, key: str, data: bytes, **kwargs: Any) -> None:
        self.puts += 1
        super().put(bucket, key, data, **kwargs)


def responder(aws: SimpleNamespace, renditions_spec: str = SPEC_VERSIONS["renditions"]) -> UploadResponder:
    return UploadResponder(
        store=Counting(),
        publisher=RecordingPublisher(),
        outputs_bucket=aws.ImagesBucket,
        limits=ImageLimits(),
        producer="RenditionWorker",
        spec_versions={**SPEC_VERSIONS, "renditions": renditions_spec},
    )


def published(answering: UploadResponder) -> list[PipelineEvent]:
    assert isinstance(answering.publisher, RecordingPublisher)
    return answering.publisher.published


def puts(answering: UploadResponder) -> int:
    assert isinstance(answering.store, Counting)
    return answering.store.puts


@pytest.fixture
def stored(aws: SimpleNamespace) -> UploadedObject:
    put = boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=KEY, Body=_photo())
    return UploadedObject(
        bucket=aws.ImagesBucket,
        key=KEY,
        sequencer=VERSION,
        etag=str(put["ETag"]).strip('"'),
        uploaded_at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
    )


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    """An SQS batch of RenditionQueue, one message per event."""
    template = load_event("sqs-rendition-batch.json")["Records"][0]
    return {"Records": [{**template, "messageId": f"m{i}", "body": json.dumps(e)} for i, e in enumerate(events)]}


def live(upload: UploadedObject) -> dict[str, Any]:
    """The rule's message for the upload itself (S3's own event: no request marked)."""
    event = object_created(upload, answers="unused")
    del event["answers"]
    return event


@pytest.fixture
def worker(load_handler: Callable[..., ModuleType], lambda_context: object) -> Callable[..., dict[str, Any]]:
    module = load_handler("RenditionWorker")
    return lambda event, answering: module.lambda_handler(event, lambda_context, answering)


def test_a_reprocess_delivery_answers_its_request_with_outputs_under_the_new_spec_version(
    aws: SimpleNamespace, stored: UploadedObject, worker: Callable[..., dict[str, Any]]
) -> None:
    answering = responder(aws, "bbbbbbbbbbbb")
    assert worker(batch(object_created(stored, answers=REQUEST)), answering) == {"batchItemFailures": []}
    (answer,) = published(answering)
    assert (answer.type, answer.causation_id) == ("RenditionsCreated", REQUEST)
    assert (answer.data["specVersion"], answer.data["reprocess"]) == ("bbbbbbbbbbbb", True)
    keys = {o["key"] for o in answer.data["outputs"]}
    assert all(k.startswith(f"outputs/{IMAGE}/{VERSION}/bbbbbbbbbbbb/") for k in keys)
    stored_output = boto3.client("s3").head_object(Bucket=aws.ImagesBucket, Key=sorted(keys)[0])
    assert stored_output["Metadata"] == {"image-id": IMAGE, "spec-version": "bbbbbbbbbbbb"}


def test_new_specs_make_the_same_upload_again_beside_the_old_outputs(
    aws: SimpleNamespace, stored: UploadedObject, worker: Callable[..., dict[str, Any]]
) -> None:
    # Given the upload's renditions made at the old specs
    before = responder(aws, "aaaaaaaaaaaa")
    worker(batch(live(stored)), before)
    # When it is reprocessed at new specs
    after = responder(aws, "bbbbbbbbbbbb")
    worker(batch(object_created(stored, answers=REQUEST)), after)
    # Then the work is done again (not skipped as a duplicate), into keys of its own
    (old,), (new,) = published(before), published(after)
    assert puts(after) == puts(before) > 0
    old_keys, new_keys = ({o["key"] for o in e.data["outputs"]} for e in (old, new))
    assert not old_keys & new_keys
    listed = boto3.client("s3").list_objects_v2(Bucket=aws.ImagesBucket, Prefix=f"outputs/{IMAGE}/")["Contents"]
    assert {o["Key"] for o in listed} == old_keys | new_keys


@pytest.mark.parametrize("first", ["live", "reprocess"])
def test_a_live_upload_and_a_reprocess_at_the_same_specs_are_made_once_and_both_answered(
    first: str, aws: SimpleNamespace, stored: UploadedObject, worker: Callable[..., dict[str, Any]]
) -> None:
    answering = responder(aws)
    messages = {"live": live(stored), "reprocess": object_created(stored, answers=REQUEST)}
    order = [first, *(m for m in messages if m != first)]
    for name in order:
        worker(batch(messages[name]), answering)
    made = puts(answering)
    # a redelivery of either changes nothing
    for name in order:
        worker(batch(messages[name]), answering)
    assert puts(answering) == made
    answers = published(answering)
    by_cause = {a.causation_id: a for a in answers}
    assert set(by_cause) == {stored.upload_id, REQUEST}
    assert by_cause[stored.upload_id].data["outputs"] == by_cause[REQUEST].data["outputs"]
    assert by_cause[REQUEST].data["reprocess"] is True
    assert "reprocess" not in by_cause[stored.upload_id].data
    # the second answer has one id per request, so its redelivery is recorded once
    second = by_cause[stored.upload_id if first == "reprocess" else REQUEST]
    assert second.event_id == f"{second.causation_id}:RenditionsCreated"
    assert len(answers) == 2 + 1  # each request answered; the copy published again on redelivery, same id
    assert len({a.event_id for a in answers}) == 2


@pytest.mark.parametrize(
    "answers", [{"type": "EditRequested", "eventId": REQUEST}, {"type": "ReprocessRequested"}, "reprocess"]
)
def test_a_message_with_a_malformed_request_fails_alone(
    answers: Any, aws: SimpleNamespace, stored: UploadedObject, worker: Callable[..., dict[str, Any]]
) -> None:
    answering = responder(aws)
    bad = {**object_created(stored, answers=REQUEST), "answers": answers}
    result = worker(batch(live(stored), bad), answering)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert [a.causation_id for a in published(answering)] == [stored.upload_id]
