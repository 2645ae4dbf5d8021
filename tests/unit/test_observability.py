"""What operators see: each answer counted per job (and per reason when rejected), timed and
sized, with low-cardinality dimensions; cold starts; and tracing only where X-Ray runs."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start
from PIL import Image

from image_pipeline.aws.observability import measured, tracing_enabled
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import UploadResponder
from tests.conftest import load_event
from tests.fakes import RecordingPublisher
from tests.template import ROOT
from tests.unit.imaging import samples

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
KEY = f"uploads/{IMAGE}.jpg"
# Every dimension a metric may carry: each has a handful of values, never an id.
LOW_CARDINALITY = {"service", "job", "reason", "function_name"}


def _emf_records(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]


def _metric(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    found = []
    for record in records:
        for directive in record["_aws"]["CloudWatchMetrics"]:
            if any(m["Name"] == name for m in directive["Metrics"]):
                dimensions = {d: record[d] for d in directive["Dimensions"][0]}
                value = record[name][0] if isinstance(record[name], list) else record[name]
                found.append({"value": value, "namespace": directive["Namespace"], **dimensions})
    return found


@pytest.fixture
def measured_responder(aws: SimpleNamespace) -> UploadResponder:
    store, publisher = measured(S3ObjectStore(), RecordingPublisher())
    return UploadResponder(
        store=store, publisher=publisher, outputs_bucket=aws.ImagesBucket, limits=ImageLimits(), producer="test"
    )


def _event_for(aws: SimpleNamespace, data: bytes) -> dict[str, Any]:
    put = boto3.client("s3").put_object(Bucket=aws.ImagesBucket, Key=KEY, Body=data, Metadata={"image-id": IMAGE})
    event = load_event("object-created.json")
    event["detail"]["bucket"]["name"] = aws.ImagesBucket
    event["detail"]["object"]["etag"] = put["ETag"].strip('"')  # the version the event announces
    return event


def test_an_answered_upload_is_counted_timed_and_sized_per_job(
    aws: SimpleNamespace,
    measured_responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cold_start, "is_cold_start", True)  # a fresh process, whatever ran before
    # Given a photo uploaded and announced
    photo = samples.encode(samples.photo((640, 480)), "JPEG")
    event = _event_for(aws, photo)
    # When the thumbnail function answers it
    load_handler("ThumbnailFunction").lambda_handler(event, lambda_context, measured_responder)
    records = _emf_records(capsys.readouterr().out)
    # Then the answer is counted, sized and timed for the thumbnail job
    (answer,) = measured_responder.publisher.inner.published  # type: ignore[attr-defined]
    written = sum(output["bytes"] for output in answer.data["outputs"])
    assert _metric(records, "ImagesProcessed") == [
        {"value": 1.0, "namespace": "ImagePipeline", "service": "image-pipeline", "job": "thumbnail"}
    ]
    assert _metric(records, "BytesIn")[0]["value"] == len(photo)
    assert _metric(records, "BytesOut")[0]["value"] == written > 0
    (timed,) = _metric(records, "ProcessingTime")
    assert timed["job"] == "thumbnail"
    assert timed["value"] > 0
    # And the invocation's cold start is on record, by function
    (cold,) = _metric(records, "ColdStart")
    assert cold["function_name"] == "test-function"
    for record in records:
        for directive in record["_aws"]["CloudWatchMetrics"]:
            assert set(directive["Dimensions"][0]) <= LOW_CARDINALITY
            assert IMAGE not in json.dumps(directive)


def test_a_rejected_image_is_counted_by_job_and_reason(
    aws: SimpleNamespace,
    measured_responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    truncated = samples.encode(samples.photo((800, 600)), "JPEG")[:3000]
    load_handler("AnalyzeFunction").lambda_handler(_event_for(aws, truncated), lambda_context, measured_responder)
    records = _emf_records(capsys.readouterr().out)
    (rejected,) = _metric(records, "ImagesRejected")
    assert (rejected["job"], rejected["reason"], rejected["value"]) == ("analysis", "truncated", 1.0)
    assert _metric(records, "ImagesProcessed") == []


def test_a_duplicate_delivery_is_not_counted_twice(
    aws: SimpleNamespace,
    measured_responder: UploadResponder,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = _event_for(aws, samples.encode(Image.new("RGB", (64, 48), "teal"), "PNG"))
    handler = load_handler("ThumbnailFunction")
    handler.lambda_handler(event, lambda_context, measured_responder)
    handler.lambda_handler(event, lambda_context, measured_responder)
    assert len(_metric(_emf_records(capsys.readouterr().out), "ImagesProcessed")) == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),  # the local engine and the tests: no X-Ray daemon
        ({"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}, True),  # Lambda with Tracing: Active
        ({"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ],
)
def test_tracing_runs_only_where_xray_does(environ: dict[str, str], expected: bool) -> None:
    assert tracing_enabled(environ) is expected


_PROBE = """
import sys
from image_pipeline.aws.observability import observed
observed(lambda event, context: None)
print("aws_xray_sdk" in sys.modules)
"""


@pytest.mark.parametrize(("daemon", "loaded"), [(None, "False"), ("127.0.0.1:2000", "True")])
def test_the_xray_sdk_is_imported_only_when_tracing(daemon: str | None, loaded: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_XRAY_DAEMON_ADDRESS"}
    env |= {"PYTHONPATH": str(ROOT / "layers/shared"), "LAMBDA_TASK_ROOT": "/var/task"}
    if daemon:
        env["AWS_XRAY_DAEMON_ADDRESS"] = daemon
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert probe.stdout.strip().splitlines()[-1] == loaded, probe.stderr
