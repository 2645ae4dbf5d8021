"""Results come back to whoever asked (issue 20), on the local stack: a webhook receiver on
127.0.0.1 gets exactly one signed POST per final status, retried when it first answers 500; a
callback that resolves to the metadata endpoint is refused at send time; a WebSocket watcher hears
each status change in order, the final one with working links; a gone connection is forgotten.
Every push and every attempt is in the image's trace.

The tracker does not publish ImageStatusChanged yet (issue 17), so these tests announce the
changes on the app bus as it will; the image itself is really uploaded and processed."""

import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3
import pytest

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.events import PipelineEvent
from image_pipeline.notify.signing import VerificationFailed, WebhookSecret, verify
from tests.integration.conftest import settled, upload_image, wait_for
from tests.integration.push_helpers import (
    Receiver,
    announce,
    next_version,
    secret_value,
    set_callback,
    watch_url,
)
from tests.integration.test_pipeline import _jpeg
from tests.readme import readme_receiver
from tests.websocket import HandshakeRefused, WebSocket
from tools.client import PipelineClient
from tools.stack import Stack


@pytest.fixture(scope="module")
def image(client: PipelineClient) -> dict[str, Any]:
    """One image, uploaded and processed for real: COMPLETE, with outputs."""
    image_id = upload_image(client, _jpeg(), "told.jpg", "image/jpeg")
    processed = settled(client, image_id)
    assert processed["status"] == "COMPLETE", processed
    return processed


def _told(stack: Stack, image_id: str, kind: str, cause: str) -> list[PipelineEvent]:
    """What the tracker recorded under the image of one kind, caused by one status change."""
    events = DynamoImageLog(stack.outputs["ImagesTableName"]).events(image_id)
    return [e for e in events if e.type.value == kind and e.causation_id == cause]


def _traced(client: PipelineClient, image_id: str, event_ids: set[str]) -> list[dict[str, Any]]:
    """The entries of GET /images/{id}/trace with these event ids."""
    return [e for e in client.get_trace(image_id)["events"] if e["eventId"] in event_ids]


# ---------------------------------------------------------------- webhooks
@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from Receiver.running(answers=[500, 200])


def test_a_receiver_gets_one_signed_post_of_the_final_status_retried_after_a_500(
    client: PipelineClient, stack: Stack, image: dict[str, Any], receiver: Receiver
) -> None:
    # Given an image whose requester gave a callback URL, and a receiver that first answers 500
    set_callback(stack, image["imageId"], receiver.url)
    # (read as the README says: whsec_<the secret's value>)
    secret_text = "whsec_" + secret_value(stack, "WebhookSecretArn").removeprefix("whsec_")
    secret = WebhookSecret.parse(secret_text)
    readme = readme_receiver(secret_text)
    # When the tracker announces the image's final status
    change = announce(stack, image, "COMPLETE", final=True, version=next_version(), event_id=f"it-{uuid.uuid4().hex}")
    # Then the receiver gets it twice: 500, then (after the backoff, through the queue) 200
    wait_for(lambda: len(receiver.received) >= 2, timeout=180, interval=1)
    first, second = receiver.received[:2]
    assert (first.answered, second.answered) == (500, 200)
    for post in (first, second):
        assert post.path == "/hooks/images?token=receiver-secret"
        # signed: the receiver verifies it with the secret from the stack's WebhookSecretArn
        assert verify([secret], post.headers, post.body, now=int(post.headers["webhook-timestamp"])) == change.event_id
        # and so does the README's receiver, which a customer copies
        assert readme.verify(post.headers, post.body)["imageId"] == image["imageId"]
        # with what GET /images/{id} answers
        body = json.loads(post.body)
        assert (body["imageId"], body["status"], body["upload"]) == (image["imageId"], "COMPLETE", image["upload"])
        assert set(body["outputs"]) == set(image["outputs"])
    # and a body changed on the way (or another secret) is one the receiver must reject
    with pytest.raises(ValueError, match="signature"):
        readme.verify(second.headers, second.body.replace(b"COMPLETE", b"REJECTED"))
    with pytest.raises(VerificationFailed):
        verify(
            [secret],
            second.headers,
            second.body.replace(b"COMPLETE", b"REJECTED"),
            now=int(second.headers["webhook-timestamp"]),
        )
    # Each attempt is recorded under the image (status code, attempt, latency) and in its trace
    attempts = wait_for(
        lambda: len(a := _told(stack, image["imageId"], "WebhookAttempted", change.event_id)) >= 2 and a, timeout=60
    )
    assert [(a.data["attempt"], a.data["statusCode"], a.data["outcome"]) for a in attempts] == [
        (1, 500, "retrying"),
        (2, 200, "delivered"),
    ]
    assert all(a.data["latencyMs"] >= 0 for a in attempts)
    traced = _traced(client, image["imageId"], {a.event_id for a in attempts})
    assert [t["source"] for t in traced] == ["WebhookSender", "WebhookSender"]
    # When the same final status is announced again (EventBridge delivers at least once)
    announce(stack, image, "COMPLETE", final=True, version=change.data["version"], event_id=change.event_id)
    # Then no second successful POST is made: the sender logs the duplicate and posts nothing
    logs = boto3.client("logs")
    group = f"/aws/lambda/{stack.physical_id('WebhookSender')}"
    wait_for(
        lambda: any(
            "already delivered" in e["message"] and image["imageId"] in e["message"]
            for e in logs.filter_log_events(logGroupName=group)["events"]
        ),
        timeout=60,
        interval=1,
    )
    assert [r.answered for r in receiver.received] == [500, 200]


def test_a_callback_that_resolves_to_the_metadata_endpoint_is_refused_when_sending(
    client: PipelineClient, stack: Stack, image: dict[str, Any]
) -> None:
    # Given a callback URL aimed at the instance metadata endpoint (say, after DNS rebinding)
    set_callback(stack, image["imageId"], "https://169.254.169.254/latest/meta-data/iam/security-credentials/")
    # When the image's final status is announced
    change = announce(stack, image, "COMPLETE", final=True, version=next_version(), event_id=f"it-{uuid.uuid4().hex}")
    # Then the sender refuses it, and says why under the image (nothing was sent: no status code)
    (attempt,) = wait_for(lambda: _told(stack, image["imageId"], "WebhookAttempted", change.event_id), timeout=60)
    assert (attempt.data["outcome"], attempt.data["statusCode"]) == ("refused", None)
    assert "169.254.169.254" in attempt.data["error"]
    assert "link-local" in attempt.data["error"]
    # and recording it changed nothing about the image's status
    assert client.get_image(image["imageId"])["status"] == "COMPLETE"


# ---------------------------------------------------------------- the WebSocket watch
def _messages(socket: WebSocket, count: int) -> list[dict[str, Any]]:
    return [json.loads(socket.receive(timeout=60)) for _ in range(count)]


def test_a_watcher_hears_each_status_change_in_order_ending_with_working_links(
    client: PipelineClient, stack: Stack, image: dict[str, Any]
) -> None:
    # Given a client watching the image with the URL POST /images hands out
    socket = WebSocket(watch_url(stack, image["imageId"]))
    try:
        first_version, second_version, third_version = next_version(), next_version(), next_version()
        # When the tracker announces PROCESSING, then COMPLETE
        processing = announce(
            stack, image, "PROCESSING", final=False, version=first_version, event_id=f"it-{uuid.uuid4().hex}"
        )
        (first,) = _messages(socket, 1)
        complete = announce(
            stack, image, "COMPLETE", final=True, version=second_version, event_id=f"it-{uuid.uuid4().hex}"
        )
        (second,) = _messages(socket, 1)
        # Then it hears both, in order, the final one with what GET /images/{id} answers
        assert [(m["version"], m["status"], m["final"]) for m in (first, second)] == [
            (first_version, "PROCESSING", False),
            (second_version, "COMPLETE", True),
        ]
        assert "image" not in first
        outputs = second["image"]["outputs"]
        assert set(outputs) == set(image["outputs"])
        # whose links work
        with urllib.request.urlopen(outputs["thumbnail"]["url"], timeout=30) as response:  # noqa: S310 - the engine's S3
            assert response.status == 200
            assert response.read(3) == b"\xff\xd8\xff"
        # A change older than one already pushed (EventBridge keeps no order) is not pushed:
        announce(stack, image, "PROCESSING", final=False, version=first_version, event_id=f"it-{uuid.uuid4().hex}")
        announce(stack, image, "COMPLETE", final=True, version=third_version, event_id=f"it-{uuid.uuid4().hex}")
        (third,) = _messages(socket, 1)
        assert third["version"] == third_version  # the next message is the newer one
        # And each push is recorded under the image, and in its trace
        for change in (processing, complete):
            (pushed,) = wait_for(partial(_told, stack, image["imageId"], "StatusPushed", change.event_id), timeout=60)
            assert (pushed.data["watchers"], pushed.data["delivered"], pushed.data["gone"]) == (1, 1, 0)
            assert [t["source"] for t in _traced(client, image["imageId"], {pushed.event_id})] == ["NotifierFunction"]
    finally:
        socket.close()


def test_a_connection_without_a_valid_token_is_refused(stack: Stack, image: dict[str, Any]) -> None:
    url = watch_url(stack, image["imageId"])
    for bad in (
        url[:-3] + "abc",
        url.split("?")[0],
        watch_url(stack, image["imageId"], now=datetime.now(UTC) - timedelta(hours=1)),
    ):
        with pytest.raises(HandshakeRefused) as refused:
            WebSocket(bad)
        assert refused.value.status == 403


def test_a_connection_that_is_gone_is_forgotten(client: PipelineClient, stack: Stack, image: dict[str, Any]) -> None:
    # Given the table lists a connection that API Gateway no longer has (closed without $disconnect)
    table = stack.physical_id("WatchConnectionsTable")
    dynamodb = boto3.client("dynamodb")
    gone = uuid.uuid4().hex[:16]
    expires = {"N": str(int((datetime.now(UTC) + timedelta(hours=1)).timestamp()))}
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"IMAGE#{image['imageId']}"},
            "sk": {"S": f"CONN#{gone}"},
            "connectionId": {"S": gone},
            "expiresAt": expires,
        },
    )
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"CONN#{gone}"},
            "sk": {"S": "CONN"},
            "imageId": {"S": image["imageId"]},
            "expiresAt": expires,
        },
    )
    # When a status change is pushed (410 Gone from the @connections API)
    change = announce(stack, image, "COMPLETE", final=True, version=next_version(), event_id=f"it-{uuid.uuid4().hex}")
    # Then the connection is forgotten, and the push's record says one was gone
    (pushed,) = wait_for(lambda: _told(stack, image["imageId"], "StatusPushed", change.event_id), timeout=60)
    assert pushed.data["gone"] >= 1
    key = {"pk": {"S": f"CONN#{gone}"}, "sk": {"S": "CONN"}}
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
