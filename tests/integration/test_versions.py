"""An upload to a key that already holds one, on the deployed stack: the image describes the new
upload, and the original it replaced is still in the bucket (a noncurrent version), readable by its
version id, with its outputs in their own folder."""

from typing import Any

import pytest

from tests.integration.conftest import s3, wait_for
from tests.photos import photo
from tools.client import PipelineClient
from tools.stack import Stack


def _photo(size: tuple[int, int]) -> bytes:
    return photo(size)


@pytest.mark.engine
def test_an_overwrite_keeps_the_original_it_replaces(client: PipelineClient, stack: Stack) -> None:
    bucket, key = stack.outputs["ImagesBucketName"], "uploads/versions/holiday.jpg"
    first, second = _photo((640, 480)), _photo((300, 600))

    def processed(etag: str) -> dict[str, Any] | None:
        found = client.list_images(key=key)["images"]
        image = client.get_image(found[0]["imageId"]) if found else None
        return image if image and image["status"] == "COMPLETE" and image["upload"]["etag"] == etag else None

    # Given an upload the pipeline processed
    original = s3().put_object(Bucket=bucket, Key=key, Body=first, ContentType="image/jpeg")
    before = wait_for(lambda: processed(original["ETag"].strip('"')), timeout=90)
    # When another picture is uploaded to the same key
    replacing = s3().put_object(Bucket=bucket, Key=key, Body=second, ContentType="image/jpeg")
    after = wait_for(lambda: processed(replacing["ETag"].strip('"')), timeout=90)
    # Then the image describes the new upload, and the original is still readable by its version
    assert (after["analysis"]["width"], after["analysis"]["height"]) == (300, 600)
    versions = s3().list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert {v["VersionId"] for v in versions} == {original["VersionId"], replacing["VersionId"]}
    kept = s3().get_object(Bucket=bucket, Key=key, VersionId=original["VersionId"])
    assert kept["Body"].read() == first
    # And the first upload's outputs are where they were, under its own version
    thumbnail = before["outputs"]["thumbnail"]["key"]
    assert thumbnail != after["outputs"]["thumbnail"]["key"]
    assert s3().head_object(Bucket=bucket, Key=thumbnail)["ContentLength"] > 0
