"""Event files for one deployed stack: the part of invoking a function with an event that the SAM
CLI cannot do. `sam remote invoke --event-file` invokes (on AWS and on the local engine alike), but
sends the file as it is, and this repo's samples name a bucket, a queue and an account no stack has.

    python -m tools.events              # `make events`: every events/*.json, plus env.json, in out/events/<stack>/
    python -m tools.events FILE.json    # `make invoke`: one event file; prints the path of the copy to send

An event is sent as written but for two things, both read-only (nothing is ever written to the stack):
- the names the samples use for what no stack has (the bucket ``image-pipeline-images``, the
  rendition queue, the account ``123456789012``, the region ``us-east-1``) become the stack's,
  in any event (AWS's and the SAM CLI's examples use the same account and region);
- an S3 event that names an object the stack's images bucket holds under uploads/ describes it as
  S3 announced it: its ETag and size, and the sequencer the stack recorded for that upload (so the
  function is given the upload it already answered, and answers it again idempotently). An object
  that is not there is sent as named, and the function answers for that (e.g. ``source_missing``).
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

from tools.client import ApiError, PipelineClient
from tools.engine import ROOT
from tools.stack import Stack, local_stack

EVENTS = ROOT / "events"
OUT = ROOT / "out" / "events"
# What the bundled events name, and the output (or lookup) of the deployed stack that replaces it.
SAMPLE_BUCKET = "image-pipeline-images"
SAMPLE_ACCOUNT = "123456789012"
SAMPLE_REGION = "us-east-1"
SAMPLE_QUEUE_ARN = f"arn:aws:sqs:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:image-pipeline-RenditionQueue"
# How long to wait for the stack to finish with an upload before describing it (an upload still
# being processed has no recorded sequencer yet, and a redelivery would race its first delivery).
SETTLE_SECONDS = 120
OPEN = frozenset({"PENDING", "PROCESSING"})


def _replace(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, replacements) for k, v in value.items()}
    return value


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


@dataclass
class StackEvents:
    """Rewrites event files for ``stack`` (see the module's docstring)."""

    stack: Stack

    @cached_property
    def bucket(self) -> str | None:
        return self.stack.outputs.get("ImagesBucketName")  # the hub's and consumers' stacks have none

    @cached_property
    def names(self) -> dict[str, str]:
        """Sample name -> the stack's, applied to every string of an event."""
        stack_arn = str(self.stack.description["StackId"])  # arn:aws:cloudformation:<region>:<account>:stack/...
        region, account = stack_arn.split(":")[3:5]
        names = {}
        if queue := self.stack.outputs.get("RenditionQueueUrl"):
            attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
            names[SAMPLE_QUEUE_ARN] = attributes["Attributes"]["QueueArn"]
        if self.bucket:
            names[SAMPLE_BUCKET] = self.bucket
        return {**names, f":{SAMPLE_REGION}:": f":{region}:", SAMPLE_ACCOUNT: account}

    @cached_property
    def _api(self) -> PipelineClient:
        return PipelineClient(self.stack.api_url, self.stack.api_key)

    def for_stack(self, event: Any) -> Any:
        return self._describe_stored(_replace(event, self.names))

    def _describe_stored(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._describe_stored(v) for v in value]
        if not isinstance(value, dict):
            return value
        value = {k: self._describe_stored(v) for k, v in value.items()}
        if isinstance(value.get("bucket"), dict) and isinstance(value.get("object"), dict):
            self._describe_object(value, encoded="s3SchemaVersion" in value)
        body = value.get("body")
        if "messageId" in value and isinstance(body, str) and (message := _json_object(body)) is not None:
            described = self._describe_stored(message)  # an SQS message carrying an S3 event
            if described != message:
                value["body"] = json.dumps(described)
        return value

    def _describe_object(self, part: dict[str, Any], *, encoded: bool) -> None:
        """Point one S3 ``{bucket, object}`` part at the object as stored, when the stack holds it."""
        obj = part["object"]
        key = unquote_plus(str(obj.get("key", ""))) if encoded else str(obj.get("key", ""))
        bucket, upload = self.bucket, key.startswith("uploads/") and not key.endswith("/")
        if bucket is None or part["bucket"].get("name") != bucket or not upload:
            return  # not an upload of this stack: the function will say what it makes of it
        try:
            head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError:
            print(f"s3://{bucket}/{key} is not there: the event is sent as it names it", file=sys.stderr)
            return
        etag = str(head["ETag"]).strip('"')
        obj["eTag" if encoded else "etag"] = etag
        obj["size"] = int(head["ContentLength"])
        if (version := self._recorded_version(key, etag)) is not None:
            obj["sequencer"] = version

    def _recorded_version(self, key: str, etag: str) -> str | None:
        """The S3 sequencer the stack recorded for this upload of ``key``, once it has answered it."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            try:
                found = self._api.list_images(key=key)["images"]
                image = self._api.get_image(found[0]["imageId"]) if found else {}
            except ApiError as error:
                raise SystemExit(f"the stack's API could not describe {key}: {error}") from None
            upload = image.get("upload") or {}
            if upload.get("etag") == etag and image.get("status") not in OPEN:
                return str(upload["version"])
            if time.monotonic() > deadline:
                print(f"the stack has not recorded this upload of {key}: its sequencer is the event's", file=sys.stderr)
                return None
            time.sleep(0.5)


def function_environments(stack: Stack) -> dict[str, dict[str, str]]:
    """Each function's environment variables as deployed, by logical id (SAM's --env-vars shape)."""
    resources = boto3.client("cloudformation").describe_stack_resources(StackName=stack.name)["StackResources"]
    lambda_ = boto3.client("lambda")
    environments = {}
    for resource in resources:
        if resource["ResourceType"] != "AWS::Lambda::Function":
            continue
        configuration = lambda_.get_function_configuration(FunctionName=resource["PhysicalResourceId"])
        environments[resource["LogicalResourceId"]] = dict(configuration.get("Environment", {}).get("Variables", {}))
    return environments


def write_one(events: StackEvents, source: Path, out: Path) -> Path:
    try:
        event = json.loads(source.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"{source} is not an event file: {error}") from None
    out.mkdir(parents=True, exist_ok=True)
    target = out / source.name
    target.write_text(json.dumps(events.for_stack(event), indent=2, ensure_ascii=False) + "\n")
    return target


def write_all(stack: Stack, out: Path) -> list[Path]:
    events = StackEvents(stack)
    written = [write_one(events, source, out) for source in sorted(EVENTS.glob("*.json"))]
    env = out / "env.json"
    env.write_text(json.dumps(function_environments(stack), indent=2, sort_keys=True) + "\n")
    return [*written, env]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("event", nargs="?", type=Path, help="one event file (else every events/*.json)")
    args = parser.parse_args()
    stack = local_stack()
    out = OUT / stack.name
    if args.event is not None:
        print(write_one(StackEvents(stack), args.event, out))
        return
    written = write_all(stack, out)
    print(f"{len(written)} files in {out.relative_to(ROOT)}/ for stack {stack.name}:", file=sys.stderr)
    print(
        f"  sam remote invoke ThumbnailFunction --stack-name {stack.name}"
        f" --event-file {out.relative_to(ROOT)}/s3put.json",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
