"""Every event `sam local generate-event` makes that a function could be sent (`s3 put`, `s3 delete`,
`sqs receive-message`, `apigateway aws-proxy`, `cloudwatch scheduled-event`) gets the function's
own answer: processed, ignored with a reason, refused as unsupported in one sentence, or, in a
queue's batch, each message that cannot be handled reported as a batch item failure with its reason
logged. Never an exception (a FunctionError, retried, then dead-lettered with a traceback as its only
explanation)."""

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from image_pipeline.catalogue import JOBS
from tests import template
from tests.template import ROOT, physical_name

SAM = ROOT / ".venv-sam" / "bin" / "sam"
GENERATED = {
    "s3-put": ("s3", "put"),
    "s3-delete": ("s3", "delete"),
    "sqs": ("sqs", "receive-message"),
    "api": ("apigateway", "aws-proxy"),
    "schedule": ("cloudwatch", "scheduled-event"),
}
# what each generated event is, in the words every "unsupported" answer uses
GOT = {
    "s3-put": "an S3 notification (ObjectCreated:Put)",
    "s3-delete": "an S3 notification (ObjectRemoved:Delete)",
    "sqs": "an SQS batch of 1 message(s)",
    "api": "an API Gateway request (POST /path/to/resource)",
    "schedule": "an EventBridge event 'Scheduled Event' from 'aws.events'",
}
BUCKET = physical_name("ImagesBucket")  # the images bucket as the unit tests name it
IGNORED = {
    "s3-put": [
        {"key": "test/key", "reason": f"s3://example-bucket/test/key is not in this stack's images bucket ({BUCKET})"}
    ],
    "s3-delete": [{"key": "test/key", "reason": "'ObjectRemoved:Delete' is not an upload"}],
}
HUB = "hub/template.yaml"
AGGREGATES = "consumers/aggregates/template.yaml"
HISTORY = "consumers/history/template.yaml"


@pytest.fixture(scope="module")
def generated() -> dict[str, dict[str, Any]]:
    if not SAM.exists():
        pytest.skip("the SAM CLI venv is not built (make test builds it)")
    events = {}
    for name, (service, kind) in GENERATED.items():
        made = subprocess.run(
            [str(SAM), "local", "generate-event", service, kind],
            capture_output=True,
            text=True,
            check=True,
            env={"SAM_CLI_TELEMETRY": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(SAM.parent)},
        )
        events[name] = json.loads(made.stdout)
    return events


def _log_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _assert_unsupported(answer: Any, function: str, event: str) -> None:
    assert answer["unsupported"].startswith(f"{function} handles "), answer
    assert answer["got"] == GOT[event]


# ---------------------------------------------------------------- the app's functions
@pytest.fixture
def app(aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object) -> Any:
    def invoke(function: str, event: dict[str, Any]) -> Any:
        return load_handler(function).lambda_handler(json.loads(json.dumps(event)), lambda_context)

    return invoke


@pytest.mark.parametrize("function", [*(job.function for job in JOBS if not job.queued), "IntakeFunction"])
@pytest.mark.parametrize("event", list(GENERATED))
def test_the_upload_functions_ignore_s3_events_that_are_no_upload_and_refuse_the_rest(
    app: Any, generated: dict[str, Any], function: str, event: str
) -> None:
    answer = app(function, generated[event])
    if event in IGNORED:
        assert answer == {"results": [], "ignored": IGNORED[event]}
    else:
        _assert_unsupported(answer, function, event)


@pytest.mark.parametrize("event", list(GENERATED))
def test_the_rendition_worker_fails_a_message_that_is_no_json_alone_and_refuses_what_is_no_batch(
    app: Any, generated: dict[str, Any], event: str, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = app("RenditionWorker", generated[event])
    if event != "sqs":
        _assert_unsupported(answer, "RenditionWorker", event)
        return
    # Given SAM's sample message, whose body is "Hello from SQS!"
    message = generated[event]["Records"][0]
    # Then it is a batch item failure (retried, then dead-lettered), with its reason in the log
    assert answer == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    (failed,) = [line for line in _log_lines(capsys.readouterr().out) if line.get("message_id")]
    assert failed["level"] == "WARNING"
    assert failed["reason"] == "the body is not JSON (Expecting value: line 1 column 1 (char 0)): 'Hello from SQS!'"
    assert message["messageId"] in failed["message"]
    assert "exception" not in failed  # a refusal, not a crash: no traceback


@pytest.mark.parametrize("event", list(GENERATED))
def test_the_tracker_ignores_every_generated_event_naming_why(
    app: Any, generated: dict[str, Any], event: str, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = app("TrackerFunction", generated[event])
    assert answer["recorded"] is False
    assert answer["reason"].startswith("not a pipeline event")
    (warning,) = [line for line in _log_lines(capsys.readouterr().out) if line.get("level") == "WARNING"]
    assert warning["message"] == f"refused an event: {answer['reason']}"


@pytest.mark.parametrize("event", list(GENERATED))
def test_the_sweeper_sweeps_on_its_schedule_only(app: Any, generated: dict[str, Any], event: str) -> None:
    answer = app("StallSweeperFunction", generated[event])
    if event == "schedule":
        assert answer == {"stalled": [], "expired": [], "postponed": 0}
    else:
        _assert_unsupported(answer, "StallSweeper", event)


@pytest.mark.parametrize("event", list(GENERATED))
def test_the_api_answers_a_request_for_no_route_with_a_404_and_refuses_the_rest(
    app: Any, generated: dict[str, Any], event: str
) -> None:
    answer = app("ApiFunction", generated[event])
    if event != "api":
        _assert_unsupported(answer, "ApiFunction", event)
        return
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"]) == {
        "message": "no route POST /path/to/resource",
        "code": "NOT_FOUND",
        "errors": [],
    }


# ---------------------------------------------------------------- the hub's and the consumers' queue readers
@pytest.fixture
def hub_resources() -> Iterator[SimpleNamespace]:
    with mock_aws():
        for path, logical_id in ((HUB, "RepublishedTable"), (AGGREGATES, "StatsTable")):
            table = template.resources("AWS::DynamoDB::Table", path)[logical_id]["Properties"]
            boto3.client("dynamodb").create_table(
                TableName=physical_name(logical_id),
                AttributeDefinitions=table["AttributeDefinitions"],
                KeySchema=table["KeySchema"],
                BillingMode=table["BillingMode"],
            )
        boto3.client("events").create_event_bus(Name=physical_name("CentralBus"))
        quarantine = boto3.client("sqs").create_queue(QueueName="quarantine")["QueueUrl"]
        yield SimpleNamespace(quarantine=quarantine)


@pytest.mark.parametrize(("function", "path"), [("Aggregator", AGGREGATES), ("ArchiveBridge", HISTORY)])
@pytest.mark.parametrize("event", list(GENERATED))
def test_the_consumers_fail_a_message_that_is_no_json_alone_and_refuse_what_is_no_batch(
    hub_resources: SimpleNamespace,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    generated: dict[str, Any],
    function: str,
    path: str,
    event: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    module = load_handler(function, path, DELIVERY_STREAM_NAME="history-stream")
    answer = module.lambda_handler(generated[event], lambda_context)
    if event != "sqs":
        _assert_unsupported(answer, function, event)
        return
    message_id = generated[event]["Records"][0]["messageId"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    (failed,) = [r for r in caplog.records if getattr(r, "message_id", None) == message_id]
    assert failed.levelname == "WARNING"
    assert "the body is not JSON" in failed.getMessage()


@pytest.mark.parametrize("event", list(GENERATED))
def test_the_validator_quarantines_a_message_that_is_no_event_and_refuses_what_is_no_batch(
    hub_resources: SimpleNamespace,
    load_handler: Callable[..., ModuleType],
    lambda_context: object,
    generated: dict[str, Any],
    event: str,
) -> None:
    module = load_handler("Validator", HUB, QUARANTINE_QUEUE_URL=hub_resources.quarantine)
    answer = module.lambda_handler(generated[event], lambda_context)
    if event != "sqs":
        _assert_unsupported(answer, "Validator", event)
        return
    (quarantined,) = answer["quarantined"]
    assert quarantined["reason"]
    assert answer["republished"] == []
    held = boto3.client("sqs").receive_message(QueueUrl=hub_resources.quarantine)["Messages"]
    assert "Hello from SQS!" in held[0]["Body"]


def test_every_function_an_event_source_feeds_is_covered_here() -> None:
    # the edit steps are left out: only the EditWorkflow invokes them, with its own input
    fed = {
        logical_id
        for path in (template.APP, HUB, AGGREGATES, HISTORY)
        for logical_id in template.function_ids(path)
        if template.function_properties(logical_id, path).get("Events")
    }
    covered = {
        *(job.function for job in JOBS),
        "IntakeFunction",
        "TrackerFunction",
        "StallSweeperFunction",
        "ApiFunction",
        "Aggregator",
        "ArchiveBridge",
        "Validator",
    }
    assert fed <= covered, fed - covered
