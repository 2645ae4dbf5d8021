"""Invoke a function of the deployed local stack with an event file, like `sam local invoke -e`
but without Docker: prints the response and the invocation's logs.

    python -m tools.invoke ThumbnailFunction events/s3put.json

S3 events are retargeted at the stack's images bucket, and the object they name is seeded with a
sample image if it is not there yet, so the bundled events work against any deployment.
"""

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

import boto3

from tools.stack import Stack, local_stack

SAMPLES = Path(__file__).resolve().parent.parent / "events" / "images"


def _s3_parts(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The {bucket, object} parts of an S3 event, EventBridge or classic shape."""
    if event.get("source") == "aws.s3":
        return [event["detail"]]
    return [record["s3"] for record in event.get("Records", []) if "s3" in record]


def _retarget(event: dict[str, Any], bucket: str) -> list[dict[str, Any]]:
    """Point the event's S3 parts (also inside SQS message bodies) at ``bucket``; return them."""
    records = event.get("Records", [])
    if records and all("body" in record for record in records):  # an SQS batch
        parts = []
        for record in records:
            body = json.loads(record["body"])
            parts += _retarget(body, bucket)
            record["body"] = json.dumps(body)
        return parts
    parts = _s3_parts(event)
    for part in parts:
        part["bucket"]["name"] = bucket
        if "arn" in part["bucket"]:
            part["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    return parts


def _seed(parts: list[dict[str, Any]], bucket: str) -> None:
    """Upload a sample image wherever the event names an object that is not there yet."""
    s3 = boto3.client("s3")
    for part in parts:
        key = part["object"]["key"]
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        if any(o["Key"] == key for o in listed):
            continue
        extension = key.rsplit(".", 1)[-1]
        sample = min(SAMPLES.glob(f"*.{extension}"), default=None) or min(SAMPLES.glob("*.jpg"))
        image_id = key.rsplit("/", 1)[-1].split(".")[0]
        s3.put_object(Bucket=bucket, Key=key, Body=sample.read_bytes(), Metadata={"image-id": image_id})
        print(f"seeded s3://{bucket}/{key} with {sample.name}", file=sys.stderr)


def invoke(stack: Stack, logical_id: str, event: dict[str, Any]) -> tuple[Any, str, bool]:
    bucket = stack.outputs["ImagesBucketName"]
    _seed(_retarget(event, bucket), bucket)
    response = boto3.client("lambda").invoke(
        FunctionName=stack.physical_id(logical_id),
        Payload=json.dumps(event).encode(),
        LogType="Tail",
    )
    payload = json.loads(response["Payload"].read() or b"null")
    logs = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    return payload, logs, "FunctionError" not in response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", help="logical id in template.yaml, e.g. ThumbnailFunction")
    parser.add_argument("event", type=Path, help="event file, e.g. events/s3put.json")
    args = parser.parse_args()
    stack = local_stack()
    payload, logs, ok = invoke(stack, args.function, json.loads(args.event.read_text()))
    print("---- logs")
    print(logs.rstrip())
    print("---- response")
    print(json.dumps(payload, indent=2))
    if not ok:
        sys.exit(f"{args.function} failed: see the logs above")


if __name__ == "__main__":
    main()
