"""What the push tests need of the local stacks: the push stack beside the app, its secret read
as the README says, a webhook receiver on 127.0.0.1, the tracker's record of an image, and the
two things a test must fake because the engine cannot be made to do them: a status change that
EventBridge delivers after a newer one, and a callback host that is re-pointed after POST /images
checked it (DNS rebinding)."""

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3

from image_pipeline import catalogue
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.events import PipelineEvent
from tools.stack import Stack


def push_stack(app: Stack) -> Stack:
    """The push stack `make deploy-local` deploys beside the app."""
    return Stack(f"{app.name}-push", endpoint_url=app.endpoint_url)


def webhook_secret(app: Stack) -> str:
    """The signing secret as the README reads it: whsec_ + the secret's value (output WebhookSecretArn)."""
    arn = push_stack(app).outputs["WebhookSecretArn"]
    value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    return "whsec_" + str(value).removeprefix("whsec_")


def recorded(app: Stack, image_id: str, kind: str, cause: str | None = None) -> list[PipelineEvent]:
    """What the tracker recorded under the image of one type (caused by ``cause``, if given)."""
    events = DynamoImageLog(app.outputs["ImagesTableName"]).events(image_id)
    return [e for e in events if e.type.value == kind and (cause is None or e.causation_id == cause)]


def final_status(app: Stack, image_id: str) -> PipelineEvent:
    """The tracker's announcement of the image's final status (the latest it stored)."""
    announcement = DynamoImageLog(app.outputs["ImagesTableName"]).announcement(image_id)
    assert announcement is not None, image_id
    assert announcement.event.data["final"], announcement
    return announcement.event


def put_on_app_bus(app: Stack, event: PipelineEvent) -> None:
    """Put an event on the app bus as its producer would (EventBridge may deliver it again, or late)."""
    response = boto3.client("events").put_events(
        Entries=[
            {
                "EventBusName": app.outputs["AppBusName"],
                "Source": catalogue.SOURCE,
                "DetailType": event.type.value,
                "Detail": json.dumps(event.detail()),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0, response


def repoint_callback(app: Stack, image_id: str, url: str) -> None:
    """The image's callbackUrl as if its host were re-pointed after POST /images checked it."""
    boto3.client("dynamodb").update_item(
        TableName=app.outputs["ImagesTableName"],
        Key={"pk": {"S": f"IMAGE#{image_id}"}, "sk": {"S": "IMAGE"}},
        UpdateExpression="SET callbackUrl = :url",
        ExpressionAttributeValues={":url": {"S": url}},
    )


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
