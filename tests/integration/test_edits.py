"""The EditWorkflow on the local engine: the real state machine calling the real step functions,
started through the EditStarter adapter with real uploaded sources, outcomes checked in S3, in
the execution history and on the app bus.

The engine reports every Lambda error as ``Runtime.HandlerError`` (in the Cause too), so these
tests prove the routing by data (Choice) and the Catch; the routing by error name (Retry on
Lambda's transient errors only) is proven on the definition (tests/unit/test_edit_workflow.py).
"""

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from PIL import Image, ImageStat

from image_pipeline.aws.stepfunctions import StepFunctionsEditStarter
from image_pipeline.edits import EditSource, EditWorkflowInput, edit_output_key, edit_requested, parse_edit_request
from tests.conftest import EVENTS
from tests.integration.conftest import wait_for
from tools.stack import Stack

EXAMPLE = {
    "operations": [{"crop": {"aspect": "1:1"}}, {"filter": "sepia"}, {"resize": {"width": 300}}],
    "format": "webp",
}
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
EDIT_EVENTS = ["EditCompleted", "EditRejected", "EditFailed"]


def _upload(stack: Stack, data: bytes, extension: str = "jpg") -> EditSource:
    """An upload as S3 holds it after a client's presigned POST."""
    image_id = uuid.uuid4().hex
    key = f"uploads/{image_id}.{extension}"
    bucket = stack.outputs["ImagesBucketName"]
    etag = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data, Metadata={"image-id": image_id})["ETag"]
    return EditSource(bucket=bucket, key=key, etag=etag)


def _edit(source: EditSource, body: dict[str, Any] = EXAMPLE) -> EditWorkflowInput:
    image_id = source.key.removeprefix("uploads/").split(".")[0]
    requested = edit_requested(image_id, source, parse_edit_request(body), producer="test", now=datetime.now(UTC))
    return EditWorkflowInput.from_requested(requested)


@pytest.fixture(scope="module")
def bus_observer(stack: Stack) -> Iterator[Any]:
    """A consumer of the app bus: a rule sending every edit outcome to a queue of the test's."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName=f"edit-observer-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus, rule = stack.outputs["AppBusName"], f"edit-observer-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"detail-type": EDIT_EVENTS}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "observer", "Arn": queue_arn}])
    seen: list[dict[str, Any]] = []

    def received(image_id: str) -> list[dict[str, Any]]:
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            seen.extend(json.loads(m["Body"]) for m in batch)
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return [e for e in seen if e["detail"]["metadata"]["correlationId"] == image_id]

    yield received
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["observer"])
    events.delete_rule(Name=rule, EventBusName=bus)
    sqs.delete_queue(QueueUrl=queue_url)


@pytest.fixture(scope="module")
def started(stack: Stack, bus_observer: Any) -> dict[str, tuple[EditWorkflowInput, str]]:
    """Three edits started at once (the engine runs them side by side): a good photo, a source
    that vanished before its edit ran, and a truncated photo the engine refuses. The observer is
    listening first: a fast outcome published before its rule existed would be lost."""
    photo = (EVENTS / "images" / "coffee-landscape.jpg").read_bytes()
    vanished = _upload(stack, photo)
    boto3.client("s3").delete_object(Bucket=vanished.bucket, Key=vanished.key)
    edits = {
        "complete": _edit(_upload(stack, photo)),
        "failed": _edit(vanished, {"operations": [{"filter": "grayscale"}, {"resize": {"width": 64}}]}),
        "rejected": _edit(_upload(stack, photo[:4000]), {"operations": [{"resize": {"width": 64}}], "format": "png"}),
    }
    starter = StepFunctionsEditStarter(stack.outputs["EditWorkflowArn"])
    return {name: (edit, starter.start(edit)) for name, edit in edits.items()}


def _finished(execution_arn: str, timeout: float = 240) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    return dict(
        wait_for(
            lambda: (e := sfn.describe_execution(executionArn=execution_arn))["status"] in FINISHED and e,
            timeout=timeout,
            interval=1,
        )
    )


def _history(execution_arn: str) -> list[dict[str, Any]]:
    return [dict(e) for e in boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]]


def _states_entered(execution_arn: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in _history(execution_arn) if e["type"] == "TaskStateEntered"]


def _outcome_event(bus_observer: Any, edit: EditWorkflowInput) -> dict[str, Any]:
    (event,) = wait_for(lambda: bus_observer(edit.image_id), timeout=30)
    assert event["source"] == "image-pipeline"
    metadata = event["detail"]["metadata"]
    assert metadata["correlationId"] == edit.image_id  # the image id
    assert metadata["causationId"] == edit.request_id  # the EditRequested event
    assert metadata["producer"] == "EditWorkflow"
    assert event["detail"]["data"]["editId"] == edit.edit_id
    return dict(event)


def test_an_edit_crops_filters_resizes_and_publishes_its_output(
    stack: Stack, started: dict[str, tuple[EditWorkflowInput, str]], bus_observer: Any
) -> None:
    edit, execution_arn = started["complete"]
    execution = _finished(execution_arn)
    assert execution["status"] == "SUCCEEDED", execution
    assert _states_entered(execution_arn) == ["Crop", "Filter", "Compress", "PublishCompleted"]
    # The output: a 300 px sepia square WebP under outputs/, tagged with its image and edit
    key = edit_output_key(edit.image_id, edit.edit_id, "webp")
    stored = boto3.client("s3").get_object(Bucket=stack.outputs["ImagesBucketName"], Key=key)
    assert stored["ContentType"] == "image/webp"
    assert stored["Metadata"] == {"image-id": edit.image_id, "edit-id": edit.edit_id}
    with Image.open(io.BytesIO(stored["Body"].read())) as made:
        assert made.format == "WEBP"
        assert made.size == (300, 300)
        red, green, blue = ImageStat.Stat(made.convert("RGB")).mean
    assert red > green > blue  # sepia: warm, whatever the photo's own colours
    assert not made.getexif()
    # Announced once on the app bus, in the envelope, with the output's facts
    event = _outcome_event(bus_observer, edit)
    assert event["detail-type"] == "EditCompleted"
    output = event["detail"]["data"]["output"]
    assert (output["key"], output["format"], output["width"], output["height"]) == (key, "WEBP", 300, 300)
    # With the step timeline the workflow collected
    steps = event["detail"]["data"]["steps"]
    assert [(s["step"], s["outcome"]) for s in steps] == [("crop", "done"), ("filter", "done"), ("compress", "done")]
    assert all(s["durationMs"] >= 0 for s in steps)
    # Pixels never travelled through the workflow's state: each step's input is a reference
    for step in _history(execution_arn):
        details = step.get("taskScheduledEventDetails") or step.get("taskSucceededEventDetails") or {}
        assert len(json.dumps(details)) < 8_000


def test_asking_for_the_same_edit_again_starts_nothing_new(
    stack: Stack, started: dict[str, tuple[EditWorkflowInput, str]]
) -> None:
    edit, execution_arn = started["complete"]
    again = StepFunctionsEditStarter(stack.outputs["EditWorkflowArn"]).start(edit)
    assert again == execution_arn
    named = [
        e
        for e in boto3.client("stepfunctions").list_executions(stateMachineArn=stack.outputs["EditWorkflowArn"])[
            "executions"
        ]
        if e["name"] == edit.edit_id
    ]
    assert len(named) == 1


def test_a_step_that_fails_ends_in_the_catch_with_edit_failed_and_its_cause(
    stack: Stack, started: dict[str, tuple[EditWorkflowInput, str]], bus_observer: Any
) -> None:
    edit, execution_arn = started["failed"]
    execution = _finished(execution_arn)
    # The execution fails (the alarm counts it) after recording why
    assert execution["status"] == "FAILED", execution
    assert execution["error"] == "EditFailed"
    assert "does not exist" in execution["cause"]
    assert _states_entered(execution_arn) == ["Filter", "RecordFailure"]  # no crop asked for; no retry
    failed = [e for e in _history(execution_arn) if e["type"] == "TaskFailed"]
    assert len(failed) == 1  # a handler error is not retried
    event = _outcome_event(bus_observer, edit)
    assert event["detail-type"] == "EditFailed"
    data = event["detail"]["data"]
    assert data["step"] == "filter"
    assert edit.source.key in data["message"]
    assert "does not exist" in data["message"]
    # On AWS the error is ObjectMissing (reason source_missing); the engine says Runtime.HandlerError
    assert data["reason"] in {"source_missing", "step_failed"}
    assert _no_output(stack, edit)


def test_an_image_the_engine_refuses_ends_rejected_without_retries(
    stack: Stack, started: dict[str, tuple[EditWorkflowInput, str]], bus_observer: Any
) -> None:
    edit, execution_arn = started["rejected"]
    execution = _finished(execution_arn)
    assert execution["status"] == "SUCCEEDED", execution  # a refusal is an answer, not a failure
    assert json.loads(execution["output"])["outcome"] == "rejected"
    assert _states_entered(execution_arn) == ["Compress", "PublishRejected"]
    assert not [e for e in _history(execution_arn) if e["type"] == "TaskFailed"]
    event = _outcome_event(bus_observer, edit)
    assert event["detail-type"] == "EditRejected"
    assert event["detail"]["data"]["reason"] == "truncated"
    assert event["detail"]["data"]["step"] == "compress"
    assert _no_output(stack, edit)


def _no_output(stack: Stack, edit: EditWorkflowInput) -> bool:
    # The outcome event is published after any output would have been written.
    listed = boto3.client("s3").list_objects_v2(
        Bucket=stack.outputs["ImagesBucketName"], Prefix=f"outputs/{edit.image_id}/edits/"
    )
    return not listed.get("Contents")
