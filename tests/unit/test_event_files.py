"""tools/events.py, what `make invoke` and `make events` do to an event before `sam remote invoke`
sends it: the samples' placeholder names become the stack's, an upload the stack holds is described
as stored, and nothing else changes. Nothing is ever written: not to the bucket an event names, not
to the stack's."""

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from tests.conftest import load_event
from tests.template import ROOT
from tools.events import SAMPLE_ACCOUNT, SAMPLE_BUCKET, StackEvents
from tools.stack import Stack

SAM = ROOT / ".venv-sam" / "bin" / "sam"
BUCKET = "stack-imagesbucket-1"
SAMPLE_KEY = "uploads/3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b.jpg"
ACCOUNT = "000000000000"


class FakeApi:
    """The stack's API as tools.events reads it: the image of a key, and its recorded upload."""

    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}

    def list_images(self, **query: str) -> dict[str, Any]:
        found = self.images.get(query["key"])
        return {"images": [{"imageId": found["imageId"]}] if found else []}

    def get_image(self, image_id: str) -> dict[str, Any]:
        return next(i for i in self.images.values() if i["imageId"] == image_id)


def _stack(outputs: dict[str, str]) -> Stack:
    stack = Stack("stack", endpoint_url="http://127.0.0.1:4566")
    # what CloudFormation would answer (cached_property values, set as the stack would read them)
    stack.__dict__["description"] = {"StackId": f"arn:aws:cloudformation:eu-west-1:{ACCOUNT}:stack/stack/1"}
    stack.__dict__["outputs"] = outputs
    return stack


@pytest.fixture
def aws_stack() -> Iterator[tuple[StackEvents, FakeApi]]:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        queue = boto3.client("sqs").create_queue(QueueName="stack-RenditionQueue")["QueueUrl"]
        events = StackEvents(_stack({"ImagesBucketName": BUCKET, "RenditionQueueUrl": queue}))
        api = FakeApi()
        events.__dict__["_api"] = api
        yield events, api


def _keys() -> list[str]:
    return [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    if not SAM.exists():
        pytest.skip("the SAM CLI venv is not built (make test builds it)")
    made = {}
    for name, command in {"s3-put": ["s3", "put"], "sqs": ["sqs", "receive-message"]}.items():
        done = subprocess.run(
            [str(SAM), "local", "generate-event", *command],
            capture_output=True,
            text=True,
            check=True,
            env={"SAM_CLI_TELEMETRY": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(SAM.parent)},
        )
        made[name] = json.loads(done.stdout)
    return made


def test_a_generated_event_naming_no_sample_and_no_upload_of_the_stack_is_sent_as_written(
    aws_stack: tuple[StackEvents, FakeApi], generated: dict[str, Any]
) -> None:
    events, _ = aws_stack
    for name in ("s3-put", "sqs"):
        sent = events.for_stack(copy.deepcopy(generated[name]))
        # only the account and region the samples share with AWS's examples become the stack's
        written = json.dumps(generated[name]).replace(SAMPLE_ACCOUNT, ACCOUNT).replace(":us-east-1:", ":eu-west-1:")
        assert json.dumps(sent) == written, name
    assert _keys() == []  # example-bucket's test/key was not seeded anywhere


def test_the_samples_name_the_stacks_bucket_queue_account_and_region(aws_stack: tuple[StackEvents, FakeApi]) -> None:
    events, _ = aws_stack
    for name in ("s3put.json", "object-created.json", "sqs-rendition-batch.json", "schedule.json"):
        text = json.dumps(events.for_stack(load_event(name)))
        assert SAMPLE_BUCKET not in text, name
        assert SAMPLE_ACCOUNT not in text, name
        assert ":us-east-1:" not in text, name
    batch = events.for_stack(load_event("sqs-rendition-batch.json"))
    assert batch["Records"][0]["eventSourceARN"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:stack-RenditionQueue"
    assert json.loads(batch["Records"][0]["body"])["detail"]["bucket"]["name"] == BUCKET


def test_an_upload_the_stack_does_not_hold_is_sent_as_named_and_nothing_is_written(
    aws_stack: tuple[StackEvents, FakeApi],
) -> None:
    events, _ = aws_stack
    sample = load_event("s3put.json")
    sent = events.for_stack(copy.deepcopy(sample))
    assert sent["Records"][0]["s3"]["object"] == sample["Records"][0]["s3"]["object"]  # key, ETag, size, sequencer
    assert _keys() == []


@pytest.mark.parametrize("key", [SAMPLE_KEY, "uploads/my photo é.jpg"])
def test_an_upload_the_stack_holds_is_described_as_stored_in_both_s3_shapes(
    aws_stack: tuple[StackEvents, FakeApi], key: str
) -> None:
    events, api = aws_stack
    # Given an object the stack processed, under the key an event names
    stored = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"x" * 123)
    etag = stored["ETag"].strip('"')
    api.images[key] = {"imageId": "i1", "status": "COMPLETE", "upload": {"etag": etag, "version": "00AB"}}
    notification, eventbridge = load_event("s3put.json"), load_event("object-created.json")
    notification["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
    eventbridge["detail"]["object"]["key"] = key
    # When the events are made ready for the stack
    classic = events.for_stack(notification)["Records"][0]["s3"]["object"]
    bridged = events.for_stack(eventbridge)["detail"]["object"]
    # Then each carries the stored object's ETag and size and the sequencer the stack recorded
    assert classic == {"key": quote_plus(key, safe="/"), "size": 123, "eTag": etag, "sequencer": "00AB"}
    assert bridged == {"key": key, "size": 123, "etag": etag, "sequencer": "00AB"}
    assert _keys() == [key]  # and nothing was added


def test_a_queue_reader_of_another_stack_gets_its_own_names(generated: dict[str, Any]) -> None:
    # the hub's and the consumers' stacks have no images bucket and no rendition queue
    with mock_aws():
        events = StackEvents(_stack({"CentralBusArn": "arn:aws:events:eu-west-1:000000000000:event-bus/central"}))
        sent = events.for_stack(copy.deepcopy(generated["sqs"]))
    assert sent["Records"][0]["body"] == generated["sqs"]["Records"][0]["body"]


def test_an_event_naming_another_bucket_is_not_described_by_the_stacks_object(
    aws_stack: tuple[StackEvents, FakeApi],
) -> None:
    events, api = aws_stack
    # Given an upload the stack holds, and an event naming the same key in another bucket
    stored = boto3.client("s3").put_object(Bucket=BUCKET, Key=SAMPLE_KEY, Body=b"x" * 10)
    api.images[SAMPLE_KEY] = {"imageId": "i1", "status": "COMPLETE", "upload": {"etag": stored["ETag"], "version": "1"}}
    elsewhere = load_event("object-created.json")
    elsewhere["detail"]["bucket"]["name"] = "example-bucket"
    # Then the event still names that bucket's object as it was written
    sent = events.for_stack(copy.deepcopy(elsewhere))["detail"]
    assert (sent["bucket"], sent["object"]) == (elsewhere["detail"]["bucket"], elsewhere["detail"]["object"])
