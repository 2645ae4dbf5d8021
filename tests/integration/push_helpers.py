"""What the push tests need of the local stack until the tracker publishes status changes
(issue 17) and POST /images takes a callbackUrl and answers a watch object (issue 20, the API's
part): announce a status change on the app bus as the tracker will, give an image a callback URL
as POST /images will, and mint its watch URL as POST /images will."""

import http.server
import itertools
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.notify.watch import client_endpoint, watch_link
from tools.stack import Stack

_versions = itertools.count(int(datetime.now(UTC).timestamp()))  # newer than anything before this run


def next_version() -> int:
    return next(_versions)


def announce(
    stack: Stack,
    image: dict[str, Any],
    status: str,
    *,
    final: bool,
    version: int,
    event_id: str,
    previous: str | None = None,
) -> PipelineEvent:
    """Put an ImageStatusChanged on the app bus, as the tracker publishes it (issue 17's shape)."""
    upload = image.get("upload") or {}
    change = PipelineEvent.new(
        EventType.IMAGE_STATUS_CHANGED,
        image_id=image["imageId"],
        producer="TrackerFunction",
        event_id=event_id,
        causation_id=f"cause-{event_id}",
        data={
            "status": status,
            "previous": previous,
            "reasonCode": image.get("reasonCode") if final else None,
            "reason": image.get("reason") if final else None,
            "upload": {"version": upload.get("version"), "key": upload.get("key")} if upload else None,
            "version": version,
            "final": final,
            **({"latencyMs": 1234} if final else {}),
        },
    )
    response = boto3.client("events").put_events(
        Entries=[
            {
                "EventBusName": stack.outputs["AppBusName"],
                "Source": "image-pipeline",
                "DetailType": change.type.value,
                "Detail": json.dumps(change.detail()),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0, response
    return change


def set_callback(stack: Stack, image_id: str, url: str) -> None:
    """Give the image a callbackUrl, where POST /images will keep it (its record)."""
    boto3.client("dynamodb").update_item(
        TableName=stack.outputs["ImagesTableName"],
        Key={"pk": {"S": f"IMAGE#{image_id}"}, "sk": {"S": "IMAGE"}},
        UpdateExpression="SET callbackUrl = :url",
        ExpressionAttributeValues={":url": {"S": url}},
    )


def secret_value(stack: Stack, output: str) -> str:
    return str(boto3.client("secretsmanager").get_secret_value(SecretId=stack.outputs[output])["SecretString"])


def watch_url(stack: Stack, image_id: str, *, now: datetime | None = None) -> str:
    """The watch URL POST /images will answer for the image (the local engine's form)."""
    key = secret_value(stack, "WatchTokenSecretArn").encode()
    endpoint = client_endpoint(stack.outputs["WatchUrl"], os.environ["AWS_ENDPOINT_URL"])
    return watch_link(image_id, key=key, endpoint=endpoint, now=now or datetime.now(UTC)).url


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers from a script (the last status repeats)."""

    answers: list[int] = field(default_factory=lambda: [204])
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/images?token=receiver-secret"

    @classmethod
    def running(cls, answers: list[int]) -> Iterator["Receiver"]:
        receiver = cls(answers=list(answers))
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    status = receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append(Received(self.path, headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        receiver.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield receiver
        finally:
            server.shutdown()
            server.server_close()
