"""What a client of the pipeline lives through, seen only from outside: the REST API, the
presigned upload to the bucket and the presigned links it hands back. No AWS SDK call but the
stack's outputs and its API key (tests/e2e/conftest.py)."""

import io
import urllib.request
from typing import Any

from PIL import Image

from image_pipeline.catalogue import JOBS
from image_pipeline.imaging import PREVIEWS, THUMBNAIL, WEB_RENDITIONS
from tests.conftest import EVENTS
from tools.client import PipelineClient

# What an upload must produce: every output the pipeline's rendition specs name.
EXPECTED_OUTPUTS = {spec.name for spec in (THUMBNAIL, *WEB_RENDITIONS, *PREVIEWS)}
EXPECTED_RESPONSES = {job.response.value for job in JOBS}  # every job of the catalogue answers
PHOTO = EVENTS / "images" / "coffee-landscape.jpg"
SETTLE_SECONDS = 180  # cold starts on AWS included


def _upload(api: PipelineClient, data: bytes, filename: str, content_type: str) -> str:
    created = api.create_image(filename, content_type)
    api.upload(created, data, filename, content_type)
    return str(created["imageId"])


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310  # a presigned link from the API
        return bytes(response.read())


def _completed(api: PipelineClient) -> tuple[str, dict[str, Any]]:
    image_id = _upload(api, PHOTO.read_bytes(), PHOTO.name, "image/jpeg")
    image = api.wait_until_final(image_id, timeout=SETTLE_SECONDS)
    # a slow start may report STALLED before the last answer arrives: it still completes
    if image["status"] == "STALLED":
        image = api.wait_until_final(image_id, timeout=SETTLE_SECONDS)
    return image_id, image


def test_an_upload_ends_complete_with_every_rendition_downloadable(api: PipelineClient) -> None:
    # Given a photo uploaded the way a browser would, through the presigned POST
    image_id, image = _completed(api)
    # Then the image is complete and lists every rendition the pipeline makes
    assert image["status"] == "COMPLETE", image
    assert set(image["outputs"]) == EXPECTED_OUTPUTS
    # And each one downloads through its link as the image it claims to be
    for name, output in image["outputs"].items():
        with Image.open(io.BytesIO(_download(output["url"]))) as made:
            assert made.format == output["format"], name
            assert made.size == (output["width"], output["height"]), name
    assert image["analysis"]["format"] == "JPEG"
    assert image["imageId"] == image_id


def test_a_hostile_file_is_rejected_with_a_reason_and_produces_nothing(api: PipelineClient) -> None:
    # Given a script that claims to be a JPEG
    image_id = _upload(api, b"<html><script>alert(1)</script></html>", "holiday.jpg", "image/jpeg")
    # When the pipeline has looked at it
    image = api.wait_until_final(image_id, timeout=SETTLE_SECONDS)
    # Then it is rejected, says why, and nothing was made from it
    assert (image["status"], image["reasonCode"]) == ("REJECTED", "unsupported_format"), image
    assert image["reason"]
    assert image["outputs"] == {}


def test_the_trace_pairs_the_upload_with_every_response(api: PipelineClient) -> None:
    image_id, image = _completed(api)
    assert image["status"] == "COMPLETE", image
    trace = api.get_trace(image_id)
    types = [event["type"] for event in trace["events"]]
    assert types[:2] == ["UploadRequested", "ImageUploaded"]
    assert set(types) >= EXPECTED_RESPONSES
    uploaded = next(event for event in trace["events"] if event["type"] == "ImageUploaded")
    for event in trace["events"]:
        if event["type"] in EXPECTED_RESPONSES:
            assert event["answers"] == {"type": "ImageUploaded", "eventId": uploaded["eventId"]}
    offsets = [event["offsetMs"] for event in trace["events"]]
    assert offsets == sorted(offsets)
    assert trace["missing"] == []
