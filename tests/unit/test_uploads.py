"""Both S3 event shapes become the same upload; outputs and stray keys never look like uploads."""

import copy
from typing import Any

import pytest

from image_pipeline.events import EventType
from image_pipeline.keys import image_id_from_upload_key, output_key, upload_key
from image_pipeline.uploads import NotAnUploadEvent, parse_uploads
from tests.conftest import load_event

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"


@pytest.mark.parametrize("name", ["s3put.json", "object-created.json"])
def test_both_s3_event_shapes_name_the_same_upload(name: str) -> None:
    (upload,) = parse_uploads(load_event(name))
    assert upload.image_id == IMAGE
    assert upload.key == f"uploads/{IMAGE}.jpg"
    assert upload.sequencer == "0A1B2C3D4E5F678901"
    assert upload.upload_id == f"uploads/{IMAGE}.jpg#0A1B2C3D4E5F678901"
    assert upload.size == 48213


def test_the_uploaded_event_is_keyed_on_the_object_version_so_both_shapes_deduplicate() -> None:
    (classic,) = parse_uploads(load_event("s3put.json"))
    (bridge,) = parse_uploads(load_event("object-created.json"))
    assert classic.uploaded_event().event_id == bridge.uploaded_event().event_id
    event = bridge.uploaded_event()
    assert event.type is EventType.IMAGE_UPLOADED
    assert event.image_id == IMAGE
    assert event.data["key"] == bridge.key


def test_classic_notification_keys_are_url_decoded() -> None:
    event = load_event("s3put.json")
    event["Records"][0]["s3"]["object"]["key"] = "uploads%2Fnot+ours.jpg"
    assert parse_uploads(event) == []  # decoded to "uploads/not ours.jpg": not an upload key


def test_objects_outside_the_upload_layout_are_ignored() -> None:
    event = load_event("object-created.json")
    for key in ("uploads/evil.exe", f"outputs/{IMAGE}/thumbnail.jpg", f"uploads/{IMAGE}.jpg/../x"):
        changed: dict[str, Any] = copy.deepcopy(event)
        changed["detail"]["object"]["key"] = key
        assert parse_uploads(changed) == []


def test_deletions_in_a_notification_are_not_uploads() -> None:
    event = load_event("s3put.json")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert parse_uploads(event) == []


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"source": "aws.events", "detail-type": "Scheduled Event"},
        {"source": "aws.s3", "detail-type": "Object Created"},
    ],
)
def test_anything_else_is_a_clear_error(event: dict[str, Any]) -> None:
    with pytest.raises(NotAnUploadEvent):
        parse_uploads(event)


def test_upload_and_output_keys_follow_the_layout() -> None:
    key = upload_key(IMAGE, "image/png")
    assert key == f"uploads/{IMAGE}.png"
    assert image_id_from_upload_key(key) == IMAGE
    assert output_key(IMAGE, "thumbnail", "jpg").startswith("outputs/")
