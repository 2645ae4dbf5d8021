"""`make invoke FN=<LogicalId> EVENT=<file>` on the local stack: `sam remote invoke` does the
invoking, tools/events.py only gives an event the stack's names and, for an upload the stack holds,
the stored object's ETag, size and sequencer. Every event `sam local generate-event` makes for a
source these functions have gets the function's own answer (processed, ignored with a reason,
refused in one sentence, a batch item failure with its reason logged), never a traceback from the
tool, and nothing is ever written to a bucket an event merely names."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from image_pipeline.catalogue import JOBS
from image_pipeline.imaging import PREVIEWS, THUMBNAIL, WEB_RENDITIONS
from tests.conftest import EVENTS
from tests.integration.conftest import s3, wait_for
from tests.photos import photo
from tests.template import ROOT
from tools.client import PipelineClient
from tools.engine import LocalEngine
from tools.stack import Stack

SAM = ROOT / ".venv-sam" / "bin" / "sam"
SAMPLE_IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"  # the image the bundled events name
SAMPLE_KEY = f"uploads/{SAMPLE_IMAGE}.jpg"
ALL_OUTPUTS = {spec.name for spec in (THUMBNAIL, *WEB_RENDITIONS, *PREVIEWS)}
GENERATED = {
    "s3-put": ["s3", "put"],
    "s3-delete": ["s3", "delete"],
    "sqs": ["sqs", "receive-message"],
    "api": ["apigateway", "aws-proxy"],
    "schedule": ["cloudwatch", "scheduled-event"],
}


@dataclass(frozen=True)
class Invoked:
    returncode: int
    payload: Any  # the function's answer: the last line sam remote invoke prints on stdout
    output: str  # everything printed (the stack, the function's logs, the answer)


def make_invoke(engine: LocalEngine, function: str, event: Path, stack: str = "image-pipeline-local") -> Invoked:
    env = {**os.environ, "PORT": str(engine.port), "STACK_NAME": stack}
    done = subprocess.run(
        ["make", "-s", "invoke", f"FN={function}", f"EVENT={event}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    payload = json.loads(lines[-1]) if lines else None
    return Invoked(done.returncode, payload, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The events as a user makes them: `sam local generate-event <service> <type> > file`."""
    folder = tmp_path_factory.mktemp("generated")
    files = {}
    for name, command in GENERATED.items():
        made = subprocess.run(
            [str(SAM), "local", "generate-event", *command],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )
        files[name] = folder / f"{name}.json"
        files[name].write_text(made.stdout)
    return files


def _keys(bucket: str) -> set[str]:
    pages = s3().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def _unsupported(invoked: Invoked, function: str) -> bool:
    return isinstance(invoked.payload, dict) and invoked.payload.get("unsupported", "").startswith(f"{function} ")


# function -> event -> what its answer must be
def _expected(function: str, event: str, invoked: Invoked, bucket: str) -> None:
    payload = invoked.payload
    if function in READ_UPLOADS and event.startswith("s3-"):
        reason = {
            "s3-put": f"s3://example-bucket/test/key is not in this stack's images bucket ({bucket})",
            "s3-delete": "'ObjectRemoved:Delete' is not an upload",
        }[event]
        assert payload == {"results": [], "ignored": [{"key": "test/key", "reason": reason}]}
    elif function in QUEUED_JOBS and event == "sqs":
        assert payload == {"batchItemFailures": [{"itemIdentifier": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78"}]}
        assert "failed: the body is not JSON" in invoked.output  # the reason, in the invocation's log
    elif function == "TrackerFunction":
        assert payload["recorded"] is False
        assert payload["reason"].startswith("not a pipeline event")
    elif function == "StallSweeperFunction" and event == "schedule":
        assert set(payload) == {"stalled", "expired", "postponed"}
    elif function == "ApiFunction" and event == "api":
        assert payload["statusCode"] == 404
        assert json.loads(payload["body"])["message"] == "no route POST /path/to/resource"
    else:
        assert _unsupported(invoked, "StallSweeper" if function == "StallSweeperFunction" else function), payload


# every job's function (the catalogue's), and the functions that take the pipeline's other events
QUEUED_JOBS = {job.function for job in JOBS if job.queued}
READ_UPLOADS = {job.function for job in JOBS if not job.queued} | {"IntakeFunction"}
APP_FUNCTIONS = [
    *(job.function for job in JOBS),
    "IntakeFunction",
    "TrackerFunction",
    "StallSweeperFunction",
    "ApiFunction",
]


@pytest.mark.engine
def test_every_generated_event_gets_each_functions_own_answer_and_writes_nothing(
    engine: LocalEngine, stack: Stack, generated: dict[str, Path]
) -> None:
    bucket = stack.outputs["ImagesBucketName"]
    before = _keys(bucket)
    for event, path in generated.items():
        for function in APP_FUNCTIONS:
            invoked = make_invoke(engine, function, path)
            assert invoked.returncode == 0, invoked.output[-2000:]
            assert "Traceback" not in invoked.output, (function, event, invoked.output[-2000:])
            _expected(function, event, invoked, bucket)
    # Nothing was seeded: no object at the key the S3 events name, in any bucket of the engine (an
    # earlier test's image may still be adding its outputs)
    assert {key for key in _keys(bucket) - before if not key.startswith("outputs/")} == set()
    assert "test/key" not in _keys(bucket)
    buckets = {b["Name"] for b in s3().list_buckets()["Buckets"]}
    assert "example-bucket" not in buckets


@pytest.mark.engine
@pytest.mark.parametrize(
    ("function", "part"), [("Aggregator", "aggregates"), ("ArchiveBridge", "history"), ("Validator", "hub")]
)
def test_the_hubs_queue_readers_answer_the_generated_sqs_batch_without_failing(
    engine: LocalEngine, stack: Stack, generated: dict[str, Path], function: str, part: str
) -> None:
    invoked = make_invoke(engine, function, generated["sqs"], stack=f"image-pipeline-local-{part}")
    assert invoked.returncode == 0, invoked.output[-2000:]
    assert "Traceback" not in invoked.output, invoked.output[-2000:]
    if function == "Validator":  # a message that is no event is quarantined with its reason
        (quarantined,) = invoked.payload["quarantined"]
        assert quarantined["reason"]
    else:
        assert invoked.payload == {"batchItemFailures": [{"itemIdentifier": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78"}]}
        assert "failed: the body is not JSON" in invoked.output


# In order: the tracker records the sample image before the API events ask about it.
BUNDLED_EVENTS = {
    "s3put.json": "ThumbnailFunction",
    "object-created.json": "AnalyzeFunction",
    "sqs-rendition-batch.json": "RenditionWorker",
    "app-thumbnail-created.json": "TrackerFunction",
    "schedule.json": "StallSweeperFunction",
    "api-post-images.json": "ApiFunction",
    "api-get-image.json": "ApiFunction",
    "api-get-trace.json": "ApiFunction",
}


def test_every_bundled_event_has_a_test() -> None:
    assert {p.name for p in EVENTS.glob("*.json")} == set(BUNDLED_EVENTS)


@pytest.mark.engine
def test_the_bundled_events_name_an_upload_nobody_made_until_one_is_made_then_redeliver_it(
    engine: LocalEngine, stack: Stack, client: PipelineClient
) -> None:
    bucket = stack.outputs["ImagesBucketName"]
    s3().delete_object(Bucket=bucket, Key=SAMPLE_KEY)  # (a README run on this stack may have put it there)
    # Given a stack without the sample upload: the function answers that it is not there
    invoked = make_invoke(engine, "ThumbnailFunction", EVENTS / "s3put.json")
    (result,) = invoked.payload["results"]
    assert result["type"] == "ImageProcessingFailed", invoked.output[-2000:]
    assert f"s3://{bucket}/{SAMPLE_KEY} is not there" in invoked.output
    assert SAMPLE_KEY not in _keys(bucket)  # and nothing was written to make it there
    # When a picture is uploaded to that key (as the README does, with the AWS CLI)
    put = s3().put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=_unique_jpeg(), ContentType="image/jpeg")
    etag = put["ETag"].strip('"')
    seen: list[dict[str, Any]] = []

    def completed() -> bool:
        seen.append(client.get_image(SAMPLE_IMAGE))
        return bool(seen[-1]["status"] == "COMPLETE" and (seen[-1]["upload"] or {}).get("etag") == etag)

    try:
        wait_for(completed, timeout=90)
    except AssertionError:
        pytest.fail(f"the upload never completed: {seen[-1]}")
    recorded = {e["type"]: e["eventId"] for e in client.get_trace(SAMPLE_IMAGE)["events"]}
    # Then every bundled event reaches its function as a redelivery of that upload
    for name, function in BUNDLED_EVENTS.items():
        invoked = make_invoke(engine, function, EVENTS / name)
        assert invoked.returncode == 0, invoked.output[-2000:]
        assert "Traceback" not in invoked.output, (name, invoked.output[-2000:])
        payload = invoked.payload
        if function in {"ThumbnailFunction", "AnalyzeFunction"}:
            (result,) = payload["results"]
            assert result["eventId"] == recorded[result["type"]], (name, payload)  # answered once, not again
            assert f'"correlation_id":"{SAMPLE_IMAGE}"' in invoked.output  # the invocation's own logs
        elif function == "RenditionWorker":
            assert payload == {"batchItemFailures": []}
        elif function == "TrackerFunction":
            assert payload["imageId"] == SAMPLE_IMAGE
        elif function == "ApiFunction":
            assert payload["statusCode"] == (201 if name == "api-post-images.json" else 200), (name, payload)
    # And the image is as true as before: complete, one upload, the stored object's ETag
    image = client.get_image(SAMPLE_IMAGE)
    assert image["status"] == "COMPLETE", image
    assert set(image["outputs"]) == ALL_OUTPUTS
    assert image["upload"]["etag"] == etag
    uploads = [e for e in client.get_trace(SAMPLE_IMAGE)["events"] if e["type"] == "ImageUploaded"]
    assert [u["eventId"] for u in uploads].count(f"{SAMPLE_IMAGE}@{image['upload']['version']}") == 1


def _unique_jpeg() -> bytes:
    """A photo no earlier upload had (its own ETag)."""
    return photo((320, 240))


# The "Object Created" example of AWS's S3 EventBridge documentation (ev-events), key under uploads/.
AWS_DOCUMENTED_OBJECT_CREATED: dict[str, Any] = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::amzn-s3-demo-bucket1"],
    "detail": {
        "version": "0",
        "bucket": {"name": "amzn-s3-demo-bucket1"},
        "object": {
            "key": "uploads/example-key.jpg",
            "size": 5,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "617f08299329d189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}


@pytest.mark.engine
def test_events_generated_or_documented_for_a_stored_upload_are_redelivered_truthfully(
    engine: LocalEngine, stack: Stack, client: PipelineClient, tmp_path: Path
) -> None:
    bucket = stack.outputs["ImagesBucketName"]
    photo = (EVENTS / "images" / "rocket-portrait.webp").read_bytes()
    # Given two uploads made with an S3 client, processed by the pipeline
    for key in ("uploads/from sam cli.webp", "uploads/example-key.webp"):
        s3().put_object(Bucket=bucket, Key=key, Body=photo, ContentType="image/webp")
    # and the events a user makes for them: the SAM CLI's, and AWS's documented one, each naming the bucket
    generated = subprocess.run(
        [str(SAM), "local", "generate-event", "s3", "put", "--bucket", bucket, "--key", "uploads/from sam cli.webp"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    documented = json.loads(json.dumps(AWS_DOCUMENTED_OBJECT_CREATED).replace("amzn-s3-demo-bucket1", bucket))
    documented["detail"]["object"]["key"] = "uploads/example-key.webp"
    (tmp_path / "put.json").write_text(generated.stdout)
    (tmp_path / "documented.json").write_text(json.dumps(documented))
    for function, event in (
        ("ThumbnailFunction", "put.json"),
        ("AnalyzeFunction", "documented.json"),
        ("IntakeFunction", "put.json"),
    ):
        # When each is invoked with it
        invoked = make_invoke(engine, function, tmp_path / event)
        assert invoked.returncode == 0, invoked.output[-2000:]
        (result,) = invoked.payload["results"]
        # Then it is a redelivery of the stored upload: answered once, the image complete and unchanged
        image = client.get_image(result["imageId"])
        assert image["status"] == "COMPLETE", (function, image)
        trace = client.get_trace(result["imageId"])["events"]
        assert sum(e["type"] == "ImageUploaded" for e in trace) == 1
        assert result["eventId"] in {e["eventId"] for e in trace}, (function, result)


@pytest.mark.engine
def test_an_event_file_that_is_not_json_is_named_in_one_sentence(engine: LocalEngine, stack: Stack) -> None:
    invoked = make_invoke(engine, "ThumbnailFunction", ROOT / "README.md")
    assert invoked.returncode != 0
    assert "README.md is not an event file" in invoked.output
    assert "Traceback" not in invoked.output
