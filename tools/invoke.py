"""Invoke a function of the deployed local stack with an event file, like `sam local invoke -e`
but without Docker: prints the response and the invocation's logs.

    python -m tools.invoke ThumbnailFunction events/s3put.json

A sample event describes an object or an event that is not in your stack, so the event is made
true before it is sent: S3 events are pointed at the stack's images bucket and at the object as it
is stored (its ETag, size and S3 sequencer; the object is seeded with a sample image first if it
is not there, and the pipeline processes that upload as it would any other); app-bus events are
replaced by the event the stack really recorded of that type for that image. Invoking is then a
redelivery: every function answers it idempotently and every image it touches stays truthful.
"""

import argparse
import base64
import json
import mimetypes
import sys
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import boto3

from tools.client import ApiError, PipelineClient
from tools.stack import Stack, local_stack

SAMPLES = Path(__file__).resolve().parent.parent / "events" / "images"
WAIT_SECONDS = 120


def _sample_for(key: str) -> Path:
    extension = key.rsplit(".", 1)[-1].lower() if "." in key else "jpg"
    return min(SAMPLES.glob(f"*.{extension}"), default=None) or min(SAMPLES.glob("*.jpg"))


class Redelivery:
    """Makes sample events describe what is really in ``stack``."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.bucket = stack.outputs["ImagesBucketName"]
        self.s3 = boto3.client("s3")
        self.client = PipelineClient(stack.api_url, stack.api_key)

    def stored_upload(self, key: str) -> dict[str, Any]:
        """The stored object's upload as the stack recorded it (seeding the object if needed)."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError:
            sample = _sample_for(key)
            content_type = mimetypes.guess_type(sample.name)[0] or "application/octet-stream"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=sample.read_bytes(), ContentType=content_type)
            print(f"seeded s3://{self.bucket}/{key} with {sample.name}", file=sys.stderr)
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        etag = str(head["ETag"]).strip('"')
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = self.client.list_images(key=key)["images"]
            if found:
                image = self.client.get_image(found[0]["imageId"])
                upload = image.get("upload") or {}
                if upload.get("etag") == etag and image["status"] not in {"PENDING", "PROCESSING"}:
                    return {**image, "upload": upload, "size": int(head["ContentLength"])}
            time.sleep(0.5)
        raise SystemExit(f"the stack did not finish processing s3://{self.bucket}/{key} in {WAIT_SECONDS}s")

    def s3_part(self, part: dict[str, Any], *, encoded: bool) -> dict[str, Any]:
        """Point one {bucket, object} part at the stored object; returns its image."""
        obj = part["object"]
        key = unquote_plus(obj["key"]) if encoded else obj["key"]
        image = self.stored_upload(key)
        part["bucket"]["name"] = self.bucket
        if "arn" in part["bucket"]:
            part["bucket"]["arn"] = f"arn:aws:s3:::{self.bucket}"
        obj["key"] = quote_plus(key, safe="/") if encoded else key
        obj["eTag" if encoded else "etag"] = image["upload"]["etag"]
        obj["size"] = image["size"]
        obj["sequencer"] = image["upload"]["version"]
        return image

    def app_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event of the same type the stack recorded for the sample's image (a duplicate)."""
        image_id = event["detail"]["metadata"]["correlationId"]
        record = self._image(image_id)
        if record is None:
            record = self.stored_upload(f"uploads/{image_id}.jpg")
        table = self.stack.outputs["ImagesTableName"]
        items = boto3.client("dynamodb").query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :events)",
            ExpressionAttributeValues={":pk": {"S": f"IMAGE#{image_id}"}, ":events": {"S": "EVENT#"}},
        )["Items"]
        current = f"{image_id}@{record['upload']['version']}" if record.get("upload") else None
        for item in items:
            detail = json.loads(item["detail"]["S"])
            if item["eventType"]["S"] == event["detail-type"] and detail["metadata"].get("causationId") == current:
                return {**event, "detail": detail}
        raise SystemExit(f"{image_id} has no recorded {event['detail-type']} to redeliver")

    def _image(self, image_id: str) -> dict[str, Any] | None:
        """The image as the API describes it; None when the stack has no such image."""
        try:
            return self.client.get_image(image_id)
        except ApiError as error:
            if error.status == HTTPStatus.NOT_FOUND:
                return None
            raise

    def make_true(self, event: Any) -> Any:
        if not isinstance(event, dict):
            return event
        records = event.get("Records")
        if isinstance(records, list) and records and all("body" in r for r in records):  # an SQS batch
            for record in records:
                body = json.loads(record["body"])
                record["body"] = json.dumps(self.make_true(body))
            return event
        if isinstance(records, list) and records and all("s3" in r for r in records):
            for record in records:
                self.s3_part(record["s3"], encoded=True)
            return event
        if event.get("source") == "aws.s3" and isinstance(event.get("detail"), dict):
            self.s3_part(event["detail"], encoded=False)
            event["resources"] = [f"arn:aws:s3:::{self.bucket}"]
            return event
        if "detail-type" in event and isinstance(event.get("detail"), dict) and "metadata" in event["detail"]:
            return self.app_event(event)
        image_id = (event.get("pathParameters") or {}).get("imageId")
        if "httpMethod" in event and image_id and self._image(image_id) is None:
            self.stored_upload(f"uploads/{image_id}.jpg")
        return event


def invoke(stack: Stack, logical_id: str, event: Any) -> tuple[Any, str, bool]:
    payload_in = Redelivery(stack).make_true(event)
    response = boto3.client("lambda").invoke(
        FunctionName=stack.physical_id(logical_id),
        Payload=json.dumps(payload_in).encode(),
        LogType="Tail",
    )
    payload = json.loads(response["Payload"].read() or b"null")
    logs = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    return payload, logs, "FunctionError" not in response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", help="logical id in template.yaml, e.g. ThumbnailFunction")
    parser.add_argument("event", type=Path, help="event file: events/s3put.json, sam local generate-event output...")
    args = parser.parse_args()
    stack = local_stack()
    payload, logs, ok = invoke(stack, args.function, json.loads(args.event.read_text()))
    print("---- logs")
    print(logs.rstrip())
    print("---- response")
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    if not ok:
        sys.exit(f"{args.function} failed: see the logs above")
    if isinstance(payload, dict) and "unsupported" in payload:
        sys.exit(payload["unsupported"])


if __name__ == "__main__":
    main()
