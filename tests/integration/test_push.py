"""Results come back to whoever asked (issue 20), on the local stacks (the app and the push beside
it), with real uploads: POST /images with a callbackUrl, the upload, the tracker's own
ImageStatusChanged, then exactly one signed COMPLETE POST to a receiver on 127.0.0.1, retried
after its first 500; a WebSocket client opened on the watch URL POST /images answered hears the
image's status changes ending in COMPLETE with working links; GET ?wait=20 answers at completion.
Every push and every attempt is in the image's trace. Faked only where the engine cannot be made
to misbehave: a status change delivered after a newer one, and a callback host re-pointed after
POST /images checked it."""

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from image_pipeline.catalogue import EventType
from image_pipeline.notify.signing import VerificationFailed, WebhookSecret, verify
from image_pipeline.notify.watch import watch_link
from tests import samples
from tests.integration.conftest import wait_for
from tests.integration.push_helpers import (
    Receiver,
    final_status,
    push_stack,
    put_on_app_bus,
    recorded,
    repoint_callback,
    webhook_secret,
)
from tests.integration.test_pipeline import _jpeg
from tests.readme import readme_receiver
from tests.websocket import HandshakeRefused, WebSocket
from tools.client import ApiError, PipelineClient
from tools.stack import Stack


def _upload(client: PipelineClient, created: dict[str, Any], name: str = "told.jpg") -> str:
    client.upload(created, _jpeg(), name, "image/jpeg")
    return str(created["imageId"])


def _traced(client: PipelineClient, image_id: str, event_ids: set[str]) -> list[dict[str, Any]]:
    return [e for e in client.get_trace(image_id)["events"] if e["eventId"] in event_ids]


def _watch(url: str) -> WebSocket:
    """A WebSocket opened on a watch URL (the handshake waits for $connect: a cold WatchFunction
    on a busy engine takes seconds)."""
    return WebSocket(url, timeout=60)


def _sender_log(stack: Stack) -> list[str]:
    group = f"/aws/lambda/{push_stack(stack).physical_id('WebhookSender')}"
    return [e["message"] for e in boto3.client("logs").filter_log_events(logGroupName=group)["events"]]


# ---------------------------------------------------------------- webhooks
@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from Receiver.running(answers=[500, 204])


def test_a_receiver_gets_one_signed_complete_post_per_upload_retried_after_a_500(
    client: PipelineClient, stack: Stack, receiver: Receiver
) -> None:
    # Given a requester that gave a callback URL, and a receiver that first answers 500
    created = client.create_image("told.jpg", "image/jpeg", callback_url=receiver.url)
    secret_text = webhook_secret(stack)  # read as the README says: whsec_<the secret's value>
    secret, readme = WebhookSecret.parse(secret_text), readme_receiver(secret_text)
    # When the image is uploaded and processed
    image_id = _upload(client, created)
    # Then the receiver gets the final status twice: 500, then (after the backoff, through the queue) 204
    wait_for(lambda: len(receiver.received) >= 2, timeout=180, interval=1)
    change = final_status(stack, image_id)
    image = client.get_image(image_id)
    first, second = receiver.received[:2]
    assert (first.answered, second.answered) == (500, 204)
    for post in (first, second):
        assert post.path == "/hooks/images?token=receiver-secret"
        # signed: verified with the secret from the push stack's WebhookSecretArn, as the tracker's change
        webhook_id = verify([secret], post.headers, post.body, now=int(post.headers["webhook-timestamp"]))
        assert webhook_id == change.event_id
        # and by the README's receiver, which a customer copies
        assert readme.verify(post.headers, post.body)["imageId"] == image_id
        # carrying what GET /images/{id} answers: COMPLETE, this upload, its outputs
        body = json.loads(post.body)
        assert (body["imageId"], body["status"], body["upload"]) == (image_id, "COMPLETE", image["upload"])
        assert set(body["outputs"]) == set(image["outputs"])
    # A body changed on the way (or another secret) is one the receiver must reject
    tampered = second.body.replace(b"COMPLETE", b"REJECTED")
    with pytest.raises(ValueError, match="signature"):
        readme.verify(second.headers, tampered)
    with pytest.raises(VerificationFailed):
        verify([secret], second.headers, tampered, now=int(second.headers["webhook-timestamp"]))
    # Each attempt is recorded under the image (attempt, status code, latency) and in its trace
    attempts = wait_for(
        lambda: len(a := recorded(stack, image_id, "WebhookAttempted", change.event_id)) >= 2 and a, timeout=60
    )
    assert [(a.data["attempt"], a.data["statusCode"], a.data["outcome"]) for a in attempts] == [
        (1, 500, "retrying"),
        (2, 204, "delivered"),
    ]
    assert all(a.data["latencyMs"] >= 0 for a in attempts)
    assert [t["source"] for t in _traced(client, image_id, {a.event_id for a in attempts})] == ["WebhookSender"] * 2
    # and recording them changed nothing: the image is COMPLETE, announced once as such
    assert client.get_image(image_id)["status"] == "COMPLETE"
    assert [e.data["status"] for e in recorded(stack, image_id, "ImageStatusChanged")][-1] == "COMPLETE"
    # When EventBridge delivers the same final status again (at least once)
    put_on_app_bus(stack, change)
    # Then no second successful POST is made: the sender says so, and posts nothing
    wait_for(lambda: any("already delivered" in m and image_id in m for m in _sender_log(stack)), timeout=60)
    assert [r.answered for r in receiver.received] == [500, 204]


def test_a_callback_url_into_the_cloud_is_refused_when_asked_and_when_re_pointed_before_sending(
    client: PipelineClient, stack: Stack
) -> None:
    metadata = "https://169.254.169.254/latest/meta-data/iam/security-credentials/"
    # POST /images refuses it outright, naming the field
    with pytest.raises(ApiError) as refused:
        client.create_image("a.jpg", "image/jpeg", callback_url=metadata)
    assert refused.value.status == 400
    assert [e["field"] for e in refused.value.body["errors"]] == ["callbackUrl"]
    # Given an accepted callback whose host now resolves to the metadata endpoint (DNS rebinding)
    created = client.create_image("rebound.jpg", "image/jpeg", callback_url="https://93.184.216.34/hooks")
    repoint_callback(stack, created["imageId"], metadata)
    # When the image is processed
    image_id = _upload(client, created, "rebound.jpg")
    # Then the sender refuses to send, and says why under the image (nothing was sent: no status code)
    (attempt,) = wait_for(lambda: recorded(stack, image_id, "WebhookAttempted"), timeout=120)
    assert (attempt.data["outcome"], attempt.data["statusCode"]) == ("refused", None)
    assert "169.254.169.254" in attempt.data["error"]
    assert "link-local" in attempt.data["error"]
    assert client.get_image(image_id)["status"] == "COMPLETE"


# ---------------------------------------------------------------- the WebSocket watch
def _messages_until_final(socket: WebSocket, edit_id: str | None = None) -> list[dict[str, Any]]:
    """What the socket hears until the final status of the image (or of one of its edits)."""
    messages: list[dict[str, Any]] = []
    while not (messages and messages[-1]["final"] and messages[-1].get("editId") == edit_id):
        messages.append(json.loads(socket.receive(timeout=120)))
    return messages


def test_a_watcher_hears_the_images_status_changes_in_order_ending_complete_with_working_links(
    client: PipelineClient, stack: Stack
) -> None:
    # Given a client watching an image on the URL POST /images answered, opened before the upload
    created = client.create_image("watched.jpg", "image/jpeg")
    engine = os.environ["AWS_ENDPOINT_URL"].replace("http", "ws", 1)  # the engine's path form of the stage
    assert created["watch"]["url"].startswith(f"{engine}/_aws/execute-api/{push_stack(stack).outputs['WatchApiId']}/")
    socket = _watch(created["watch"]["url"])
    try:
        # When it is uploaded and processed
        image_id = _upload(client, created, "watched.jpg")
        messages = _messages_until_final(socket)
    finally:
        socket.close()
    # Then it heard each status change the tracker announced, in order, ending in COMPLETE (all but
    # PENDING, when that was announced before the socket opened)
    # (a change may come twice: the tracker announces at least once, and a client drops repeats by eventId)
    heard = list(dict.fromkeys((m["version"], m["status"]) for m in messages))

    def announced_so_far() -> list[tuple[int, str]]:  # as the tracker recorded its own, which may lag the pushes
        return sorted({(e.data["version"], e.data["status"]) for e in recorded(stack, image_id, "ImageStatusChanged")})

    announced = wait_for(lambda: set(heard) <= set(a := announced_so_far()) and a)
    assert heard == announced[len(announced) - len(heard) :]
    assert [status for _, status in announced[: len(announced) - len(heard)]] in ([], ["PENDING"])
    assert heard[-1][1] == "COMPLETE"
    assert [m["final"] for m in messages] == [False] * (len(messages) - 1) + [True]
    assert [m["version"] for m in messages] == sorted(m["version"] for m in messages)  # never going back
    # the final one with what GET /images/{id} answers, only it
    final = messages[-1]
    assert all("image" not in m for m in messages[:-1])
    assert set(final["image"]["outputs"]) == set(client.get_image(image_id)["outputs"])
    # whose links work
    url = final["image"]["outputs"]["thumbnail"]["url"]
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the engine's S3
        assert response.status == 200
        assert response.read(3) == b"\xff\xd8\xff"
    # And each push is recorded under the image, and in its trace
    versions = {version for version, _ in heard}

    def pushed_each_heard_version() -> list[Any]:
        pushes = recorded(stack, image_id, "StatusPushed")
        return pushes if versions <= {p.data["version"] for p in pushes} else []

    pushes = wait_for(pushed_each_heard_version, timeout=60)
    assert sorted(
        {(p.data["version"], p.data["delivered"], p.data["gone"]) for p in pushes if p.data["version"] in versions}
    ) == [(version, 1, 0) for version, _ in heard]
    # (a change it did not hear was delivered to no one: PENDING, pushed during the handshake and
    # overtaken by PROCESSING before a retry reached the watcher, is recorded as "opening")
    assert all(p.data["delivered"] == 0 for p in pushes if p.data["version"] not in versions)
    assert {t["source"] for t in _traced(client, image_id, {p.event_id for p in pushes})} == {"NotifierFunction"}


def test_a_status_change_delivered_after_a_newer_one_is_never_pushed(client: PipelineClient, stack: Stack) -> None:
    # Given a watched image that the pipeline completed
    created = client.create_image("late.jpg", "image/jpeg")
    socket = _watch(created["watch"]["url"])
    try:
        image_id = _upload(client, created, "late.jpg")
        final = _messages_until_final(socket)[-1]

        # When EventBridge delivers an older change after it (it keeps no order), then a newer one
        def change(version: int, status: str, *, final: bool) -> Any:
            return samples.event(
                EventType.IMAGE_STATUS_CHANGED,
                image_id=image_id,
                event_id=f"late-{uuid.uuid4().hex}",
                version=version,
                status=status,
                final=final,
                latencyMs=None,
            )

        older = change(final["version"] - 1, "PROCESSING", final=False)
        newer = change(final["version"] + 1, "COMPLETE", final=True)
        put_on_app_bus(stack, older)
        put_on_app_bus(stack, newer)
        # Then the next change it hears is the newer one: the watcher never sees a status go back
        # (the final one may come again first: the tracker announces at least once)
        while (message := json.loads(socket.receive(timeout=60)))["eventId"] == final["eventId"]:
            pass
        assert (message["version"], message["eventId"]) == (final["version"] + 1, newer.event_id)
    finally:
        socket.close()


def test_a_connection_without_a_valid_token_is_refused(client: PipelineClient, stack: Stack) -> None:
    created = client.create_image("refused.jpg", "image/jpeg")
    url, image_id = created["watch"]["url"], created["imageId"]
    stage, token = url.split("?token=")
    other = client.create_image("other.jpg", "image/jpeg")["imageId"]
    key = boto3.client("secretsmanager").get_secret_value(SecretId=stack.outputs["WatchTokenSecretArn"])
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    expired = watch_link(image_id, key=key["SecretString"].encode(), endpoint=stage, now=an_hour_ago).url
    for bad in (
        url[:-3] + "abc",  # not this stack's signature
        stage,  # no token
        f"{stage}?token={token.replace(image_id, other)}",  # another image's id on this image's token
        expired,
    ):
        with pytest.raises(HandshakeRefused) as refused:
            _watch(bad)
        assert refused.value.status == 403
    _watch(url).close()  # and the URL as given is admitted


def test_a_connection_that_is_gone_is_forgotten_and_one_still_opening_is_kept(
    client: PipelineClient, stack: Stack
) -> None:
    # Given an image the table says two connections watch that API Gateway does not have (410):
    # one admitted long ago (gone, with no $disconnect), one $connect admitted just now (its
    # handshake, as far as the notifier can tell, is still going on)
    created = client.create_image("gone.jpg", "image/jpeg")
    image_id, gone, opening = str(created["imageId"]), uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    table = push_stack(stack).physical_id("WatchConnectionsTable")
    dynamodb = boto3.client("dynamodb")
    expires = {"N": str(int((datetime.now(UTC) + timedelta(hours=1)).timestamp()))}
    for connection_id, admitted in ((gone, datetime.now(UTC) - timedelta(minutes=5)), (opening, datetime.now(UTC))):
        watching = {"pk": {"S": f"IMAGE#{image_id}"}, "sk": {"S": f"CONN#{connection_id}"}}
        dynamodb.put_item(
            TableName=table,
            Item={
                **watching,
                "connectionId": {"S": connection_id},
                "admittedAt": {"S": admitted.isoformat()},
                "expiresAt": expires,
            },
        )
        connection = {"pk": {"S": f"CONN#{connection_id}"}, "sk": {"S": "CONN"}}
        dynamodb.put_item(TableName=table, Item={**connection, "imageId": {"S": image_id}, "expiresAt": expires})
    # When the image is processed and its status changes are pushed (410 Gone from @connections)
    _upload(client, created, "gone.jpg")

    def pushed_up_to_the_final_status() -> list[Any]:
        pushes = recorded(stack, image_id, "StatusPushed")
        return pushes if any(e.data["final"] for e in pushes) else []

    pushes = wait_for(pushed_up_to_the_final_status, timeout=120)
    # Then no push reached either; each push that met the gone one forgot it, each that met the
    # opening one tried it again and said so (PENDING may be pushed while the test still writes them)
    counts = [(e.data["watchers"], e.data["delivered"], e.data["gone"], e.data.get("opening", 0)) for e in pushes]
    assert all(delivered == 0 and watchers == gone + opening for watchers, delivered, gone, opening in counts), counts
    assert 1 in {gone for _, _, gone, _ in counts}, counts
    assert {gone for _, _, gone, _ in counts} <= {0, 1}, counts
    assert {opening for *_, opening in counts} <= {0, 1}, counts
    final = next(e for e in pushes if e.data["final"])
    assert final.data.get("opening") == 1  # kept through every push before it

    def still_watching(connection_id: str) -> bool:
        key = {"pk": {"S": f"CONN#{connection_id}"}, "sk": {"S": "CONN"}}
        return "Item" in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)

    assert (still_watching(gone), still_watching(opening)) == (False, True)


# ---------------------------------------------------------------- a request that waits
def test_a_request_that_waits_is_answered_with_the_final_status_when_the_image_completes(
    client: PipelineClient, stack: Stack
) -> None:
    # Given an upload on its way
    image_id = _upload(client, client.create_image("waited.jpg", "image/jpeg"), "waited.jpg")
    # When a script asks for it, waiting up to 20 s
    image = client.get_image(image_id, wait=20)
    answered = datetime.now(UTC)
    # Then the answer is the final status, given when the image completed (not when the wait ran out)
    assert image["status"] == "COMPLETE"
    completed = final_status(stack, image_id).occurred_at
    late = (answered - completed).total_seconds()
    print(f"?wait=20 answered {late:.3f} s after the tracker announced COMPLETE")  # the figure the README gives
    assert late < 10


# ---------------------------------------------------------------- edits
@pytest.fixture
def accepting() -> Iterator[Receiver]:
    yield from Receiver.running(answers=[204])


def test_an_edit_is_pushed_to_its_images_watchers_and_its_final_status_posted_back(
    client: PipelineClient, stack: Stack, accepting: Receiver
) -> None:
    # Given a processed image whose requester gave a callback URL, and a client watching it
    created = client.create_image("edited.jpg", "image/jpeg", callback_url=accepting.url)
    socket = _watch(created["watch"]["url"])
    try:
        image_id = _upload(client, created, "edited.jpg")
        _messages_until_final(socket)
        wait_for(lambda: len(accepting.received) == 1, timeout=120)  # the image's own COMPLETE
        # When an edit of it is asked for, with the URL it answers (the image's)
        accepted = client.request_edit(image_id, {"operations": [{"filter": "sepia"}], "format": "png"})
        assert accepted["watch"]["url"].split("?")[0] == created["watch"]["url"].split("?")[0]
        edit_id = accepted["editId"]
        messages = [m for m in _messages_until_final(socket, edit_id) if m.get("editId") == edit_id]
    finally:
        socket.close()
    # Then the watcher hears the edit's own changes (versions of its own), the final one with the edit
    assert [(m["type"], m["status"], m["final"]) for m in messages][-1] == ("EditStatusChanged", "COMPLETE", True)
    versions = list(dict.fromkeys(m["version"] for m in messages))  # (a repeat comes with the same version)
    assert versions == sorted(versions)
    assert messages[-1]["edit"]["output"]["url"]
    assert messages[-1]["statusUrl"] == f"images/{image_id}/edits/{edit_id}"
    # and the receiver gets one signed POST of what GET .../edits/{editId} answers
    wait_for(lambda: len(accepting.received) == 2, timeout=120)
    posted = accepting.received[1]
    body = json.loads(posted.body)
    assert (body["editId"], body["status"]) == (edit_id, "COMPLETE")
    secret = WebhookSecret.parse(webhook_secret(stack))
    (final,) = wait_for(  # the tracker records its own announcement when the bus brings it back: it may lag
        lambda: [
            e for e in recorded(stack, image_id, "EditStatusChanged") if e.data["editId"] == edit_id and e.data["final"]
        ]
    )
    assert verify([secret], posted.headers, posted.body, now=int(posted.headers["webhook-timestamp"])) == final.event_id
