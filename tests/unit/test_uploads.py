"""Any object created under uploads/ is an upload, whichever client wrote it and whichever S3 event
shape announces it; everything else is ignored with a reason or refused with one sentence."""

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.keys import image_id_for_key, is_image_id, output_key, upload_key, upload_version
from image_pipeline.uploads import parse_uploads
from tests.conftest import load_event
from tests.template import ROOT

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"


def _eventbridge(key: str, detail_type: str = "Object Created") -> dict[str, Any]:
    event = load_event("object-created.json")
    event["detail-type"] = detail_type
    event["detail"]["object"]["key"] = key
    return event


def _notification(key: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    event = load_event("s3put.json")
    event["Records"][0]["eventName"] = event_name
    event["Records"][0]["s3"]["object"]["key"] = key
    return event


@pytest.mark.parametrize("name", ["s3put.json", "object-created.json"])
def test_both_s3_event_shapes_name_the_same_upload(name: str) -> None:
    (upload,) = parse_uploads(load_event(name), function="test").uploads
    assert upload.image_id == IMAGE  # an API key carries its image id
    assert upload.key == f"uploads/{IMAGE}.jpg"
    assert upload.version == "0A1B2C3D4E5F678901"
    assert upload.upload_id == f"{IMAGE}@0A1B2C3D4E5F678901"
    assert (upload.size, upload.etag) == (48213, "0123456789abcdef0123456789abcdef")


@pytest.mark.parametrize("key", ["uploads/photo.jpg", "uploads/my photo é.jpg", "uploads/2026/11/IMG_0001.HEIC"])
def test_any_key_under_uploads_is_an_upload_with_a_stable_id(key: str) -> None:
    (upload,) = parse_uploads(_eventbridge(key), function="test").uploads
    assert upload.key == key
    assert is_image_id(upload.image_id)
    assert upload.image_id == image_id_for_key(key)  # every function derives the same id
    assert image_id_for_key("uploads/other.jpg") != upload.image_id


def test_s3_notifications_url_decode_their_keys() -> None:
    # What S3 (and `sam local generate-event s3 put`) puts in a notification for "my photo é.jpg"
    (upload,) = parse_uploads(_notification("uploads/my+photo+%C3%A9.jpg"), function="test").uploads
    assert upload.key == "uploads/my photo é.jpg"
    assert upload.decoded_key is None


def test_an_eventbridge_key_is_taken_as_sent_with_the_decoded_key_as_fallback() -> None:
    (upload,) = parse_uploads(_eventbridge("uploads/c++ notes%21.jpg"), function="test").uploads
    assert upload.key == "uploads/c++ notes%21.jpg"
    fallback = upload.with_decoded_key()
    assert fallback is not None
    assert fallback.key == "uploads/c   notes!.jpg"
    assert fallback.image_id != upload.image_id
    (plain,) = parse_uploads(_eventbridge("uploads/plain.jpg"), function="test").uploads
    assert plain.with_decoded_key() is None


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_eventbridge(f"outputs/{IMAGE}/0A/thumbnail.jpg"), "outside uploads/"),
        (_eventbridge("uploads/"), "outside uploads/"),
        (_eventbridge("uploads/folder/"), "outside uploads/"),
        (_eventbridge(f"uploads/{IMAGE}.jpg", "Object Deleted"), "'Object Deleted' is not an upload"),
        (_notification(f"uploads/{IMAGE}.jpg", "ObjectRemoved:Delete"), "'ObjectRemoved:Delete' is not an upload"),
    ],
)
def test_other_s3_events_are_ignored_with_a_reason(event: dict[str, Any], reason: str) -> None:
    announced = parse_uploads(event, function="test")
    assert announced.uploads == []
    (ignored,) = announced.ignored
    assert ignored.reason.endswith(reason)


@pytest.mark.parametrize(
    ("event", "got"),
    [
        ({}, "an empty object"),
        (None, "nothing (null)"),
        ([1, 2], "a JSON list"),
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, "an EventBridge event 'Scheduled Event'"),
        (load_event("sqs-rendition-batch.json"), "an SQS batch of 1 message(s)"),
        (load_event("api-get-image.json"), "an API Gateway request (GET /images/"),
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, "(malformed: KeyError('bucket'))"),
    ],
)
def test_anything_but_an_s3_event_is_refused_in_one_sentence(event: Any, got: str) -> None:
    with pytest.raises(UnsupportedEvent) as refused:
        parse_uploads(event, function="ThumbnailFunction")
    message = str(refused.value)
    assert message.startswith("ThumbnailFunction handles S3 'Object Created' events")
    assert got in message
    assert refused.value.result()["unsupported"] == message


def test_image_ids_are_exactly_32_lowercase_hex_characters() -> None:
    assert is_image_id(IMAGE)
    for bad in (IMAGE + "\n", IMAGE.upper(), IMAGE[:-1], IMAGE[:-1] + "g", "../" + IMAGE[3:], ""):
        assert not is_image_id(bad), repr(bad)
    # a key that looks like an API key but is not one is hashed, not trusted
    assert image_id_for_key(f"uploads/{IMAGE.upper()}.jpg") != IMAGE.upper()
    assert is_image_id(image_id_for_key(f"uploads/{IMAGE.upper()}.jpg"))


def test_outputs_are_kept_per_upload_version() -> None:
    assert upload_key(IMAGE, "image/png") == f"uploads/{IMAGE}.png"
    assert output_key(IMAGE, "0A1B", "thumbnail", "jpg") == f"outputs/{IMAGE}/0A1B/thumbnail.jpg"
    assert upload_version("0a1b") == "0A1B"
    hand_made = upload_version("../../etc")
    assert hand_made.isalnum()
    assert len(hand_made) == 16


def test_the_sam_cli_sample_event_for_any_key_is_an_upload() -> None:
    sam = ROOT / ".venv-sam" / "bin" / "sam"
    if not Path(sam).exists():
        pytest.skip("the SAM CLI venv is not built (make test builds it)")
    generated = subprocess.run(
        [str(sam), "local", "generate-event", "s3", "put", "--bucket", "b", "--key", "uploads/my photo é.jpg"],
        capture_output=True,
        text=True,
        check=True,
        env={"SAM_CLI_TELEMETRY": "0", "PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".venv-sam")},
    )
    (upload,) = parse_uploads(json.loads(generated.stdout), function="test").uploads
    assert upload.key == "uploads/my photo é.jpg"
    assert upload.bucket == "b"


def test_parsing_does_not_change_the_event() -> None:
    event = load_event("object-created.json")
    before = copy.deepcopy(event)
    parse_uploads(event, function="test")
    assert event == before


@pytest.mark.parametrize("shape", [_eventbridge, _notification])
def test_an_object_of_another_bucket_is_ignored_by_a_function_that_reads_one(shape: Callable[..., Any]) -> None:
    # Given an upload event, as the rules deliver it (the stack's bucket) or hand-made (another one)
    ours, theirs = shape(f"uploads/{IMAGE}.jpg"), shape(f"uploads/{IMAGE}.jpg")
    _bucket_of(theirs)["name"] = "example-bucket"
    # Then a function that reads the stack's bucket takes only its own, and says why not the other
    assert len(parse_uploads(ours, function="test", bucket=_bucket_of(ours)["name"]).uploads) == 1
    announced = parse_uploads(theirs, function="test", bucket=_bucket_of(ours)["name"])
    assert announced.uploads == []
    (ignored,) = announced.ignored
    assert ignored.reason == (
        f"s3://example-bucket/uploads/{IMAGE}.jpg is not in this stack's images bucket ({_bucket_of(ours)['name']})"
    )


def _bucket_of(event: dict[str, Any]) -> Any:
    return event["detail"]["bucket"] if "detail" in event else event["Records"][0]["s3"]["bucket"]
