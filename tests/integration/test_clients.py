"""Clients this project did not write: the AWS CLI copying files into the bucket, a multipart
upload, two uploads racing through one presigned POST, and events meant for another function
(the SAM CLI's sample events and AWS's documented shapes: test_invoke.py)."""

import io
import json
import os
import random
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from tests.conftest import EVENTS, load_event
from tests.integration.conftest import s3, settled, wait_for
from tests.photos import photo
from tests.template import ROOT
from tools.client import PipelineClient
from tools.engine import LocalEngine
from tools.stack import Stack

AWS = ROOT / ".venv" / "bin" / "aws"
SAM = ROOT / ".venv-sam" / "bin" / "sam"


def _jpeg(size: tuple[int, int], seed: int = 0) -> bytes:
    return photo(size, mark=seed * 40)


def _found(client: PipelineClient, key: str) -> dict[str, Any]:
    """The image of an object key, once it is processed or rejected."""
    found = wait_for(lambda: client.list_images(key=key)["images"], timeout=60)
    return settled(client, found[0]["imageId"])


def _aws(engine: LocalEngine, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **engine.client_env()}
    return subprocess.run([str(AWS), *args], env=env, cwd=cwd, capture_output=True, text=True, check=True)


@pytest.mark.parametrize("name", ["photo.jpg", "my photo é.jpg"])
def test_a_file_copied_in_with_the_aws_cli_is_processed_and_found_by_its_key(
    client: PipelineClient, stack: Stack, engine: LocalEngine, tmp_path: Path, name: str
) -> None:
    # Given a photo copied into uploads/ with `aws s3 cp`, as a user would
    (tmp_path / name).write_bytes((EVENTS / "images" / "coffee-landscape.jpg").read_bytes())
    _aws(engine, "s3", "cp", name, f"s3://{stack.outputs['ImagesBucketName']}/uploads/", cwd=tmp_path)
    # Then the image can be found by its key, with a record made from the object
    image = _found(client, f"uploads/{name}")
    assert image["status"] == "COMPLETE", image
    assert (image["filename"], image["contentType"], image["origin"]) == (name, "image/jpeg", "s3")
    assert image["upload"]["size"] == (tmp_path / name).stat().st_size
    assert image["outputs"]["thumbnail"]["key"].startswith(f"outputs/{image['imageId']}/{image['upload']['version']}/")


def test_a_multipart_upload_is_processed(client: PipelineClient, stack: Stack) -> None:
    # 6 MB of noise as PNG: two parts (S3's smallest part is 5 MB)
    noise = Image.frombytes("RGB", (1450, 1450), random.Random(7).randbytes(1450 * 1450 * 3))  # noqa: S311
    buffer = io.BytesIO()
    noise.save(buffer, "PNG", compress_level=0)
    data, bucket, key = buffer.getvalue(), stack.outputs["ImagesBucketName"], "uploads/multipart/noise.png"
    part_size = 5 * 1024 * 1024
    started = s3().create_multipart_upload(Bucket=bucket, Key=key, ContentType="image/png")
    parts = [
        {
            "PartNumber": n + 1,
            "ETag": s3().upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=started["UploadId"],
                PartNumber=n + 1,
                Body=data[offset : offset + part_size],
            )["ETag"],
        }
        for n, offset in enumerate(range(0, len(data), part_size))
    ]
    assert len(parts) == 2
    s3().complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=started["UploadId"], MultipartUpload={"Parts": parts}
    )
    image = _found(client, key)
    assert image["status"] == "COMPLETE", image
    assert (image["filename"], image["contentType"], image["upload"]["size"]) == ("noise.png", "image/png", len(data))
    assert image["analysis"]["width"] == 1450


def test_two_uploads_racing_through_one_presigned_post_leave_one_truth(client: PipelineClient, stack: Stack) -> None:
    # Given one presigned POST used twice, by two different pictures, close together
    created = client.create_image("race.jpg", "image/jpeg")
    wide, tall = _jpeg((800, 400), seed=1), _jpeg((400, 800), seed=2)
    client.upload(created, wide, "race.jpg", "image/jpeg")
    client.upload(created, tall, "race.jpg", "image/jpeg")
    # When the pipeline has answered both
    image_id = created["imageId"]

    def described_the_stored_object() -> dict[str, Any] | None:
        image = client.get_image(image_id)
        if image["status"] != "COMPLETE":
            return None
        stored = s3().head_object(Bucket=stack.outputs["ImagesBucketName"], Key=image["upload"]["key"])
        return image if image["upload"]["etag"] == stored["ETag"].strip('"') else None

    image = wait_for(described_the_stored_object, timeout=90)
    # Then what the image lists is the stored upload: its size, its analysis, its outputs' files
    stored_bytes = s3().get_object(Bucket=stack.outputs["ImagesBucketName"], Key=image["upload"]["key"])["Body"].read()
    assert stored_bytes in {wide, tall}
    portrait = stored_bytes == tall
    assert image["upload"]["size"] == len(stored_bytes)
    assert (image["analysis"]["height"] > image["analysis"]["width"]) is portrait
    for name, output in image["outputs"].items():
        with urllib.request.urlopen(output["url"], timeout=30) as response:  # noqa: S310  # a presigned http URL
            made = Image.open(io.BytesIO(response.read()))
        assert made.size == (output["width"], output["height"]), name
        if not name.startswith("crop-"):
            assert (made.height > made.width) is portrait, name


# function -> an event meant for another function
FOREIGN = {
    "RenditionWorker": "s3put.json",
    "ThumbnailFunction": "sqs-rendition-batch.json",
    "ApiFunction": "object-created.json",
    "IntakeFunction": "api-get-image.json",
}


@pytest.mark.parametrize("function", FOREIGN)
def test_an_event_for_another_function_gets_one_sentence_on_the_engine(stack: Stack, function: str) -> None:
    response = boto3.client("lambda").invoke(
        FunctionName=stack.physical_id(function), Payload=(EVENTS / FOREIGN[function]).read_bytes(), LogType="Tail"
    )
    assert "FunctionError" not in response
    payload = json.loads(response["Payload"].read())
    assert payload["unsupported"].startswith(f"{function} handles "), payload
    assert "Traceback" not in json.dumps(payload)


def test_an_object_deleted_event_is_ignored_with_a_reason(stack: Stack) -> None:
    deleted = load_event("object-created.json")
    deleted["detail-type"] = "Object Deleted"
    for function in ("ThumbnailFunction", "AnalyzeFunction", "IntakeFunction"):
        response = boto3.client("lambda").invoke(
            FunctionName=stack.physical_id(function), Payload=json.dumps(deleted).encode()
        )
        payload = json.loads(response["Payload"].read())
        assert payload["ignored"] == [
            {"key": deleted["detail"]["object"]["key"], "reason": "'Object Deleted' is not an upload"}
        ], function
