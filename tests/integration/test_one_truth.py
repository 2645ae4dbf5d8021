"""One truth per image, on the local stack: for a day that re-uploads an image after its rejection,
leaves an upload URL unused until it expires, stalls an upload, delivers a verdict twice and edits
an image, the API, the aggregates (GraphQL imageStatus and the day's counters) and the archive
(Athena: image_status.sql, images_by_status.sql) name the same status for every image."""

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from image_pipeline.catalogue import EventType, job
from image_pipeline.events import PipelineEvent
from tests.conftest import load_event
from tests.integration.conftest import STALL_TIMEOUT_SECONDS, settled, upload_image, wait_for
from tests.integration.test_pipeline import _jpeg
from tools.client import PipelineClient
from tools.engine import LocalEngine
from tools.hub import Aggregates, Archive, today
from tools.stack import Stack

ANALYSIS = job("analysis")  # the job this test cuts off to stall an upload


@pytest.fixture(scope="module")
def consumers(engine: LocalEngine, stack: Stack) -> tuple[Aggregates, Archive]:
    aggregates = Aggregates(Stack(f"{stack.name}-aggregates", endpoint_url=engine.url))
    return aggregates, Archive(Stack(f"{stack.name}-history", endpoint_url=engine.url))


def _put(stack: Stack, *events: PipelineEvent) -> None:
    """Events put on the app bus as their producers put them (the engine checks no IAM)."""
    entries = [
        {
            "EventBusName": stack.outputs["AppBusName"],
            "Source": "image-pipeline",
            "DetailType": e.type.value,
            "Detail": json.dumps(e.detail()),
        }
        for e in events
    ]
    assert boto3.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0  # type: ignore[arg-type]


def _status(client: PipelineClient, image_id: str) -> str:
    return str(client.get_image(image_id)["status"])


def _by_key(client: PipelineClient, key: str, status: str) -> str:
    def found() -> str | None:
        images = client.list_images(key=key)["images"]
        return images[0]["imageId"] if images and images[0]["status"] == status else None

    return str(wait_for(found, timeout=90))


def _stalled_upload(client: PipelineClient, stack: Stack) -> str:
    """An upload whose analysis never answers, past its deadline, swept."""
    events = boto3.client("events")
    rule = stack.physical_id(f"{ANALYSIS.function}Uploaded")
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])  # the analyzer is "down"
    try:
        image_id = upload_image(client, _jpeg((320, 200)), "never-analysed.jpg", "image/jpeg")
        wait_for(lambda: client.get_image(image_id)["missing"] == [ANALYSIS.response.value], timeout=90)
        time.sleep(STALL_TIMEOUT_SECONDS + 1)
        boto3.client("lambda").invoke(
            FunctionName=stack.physical_id("StallSweeperFunction"),
            Payload=json.dumps(load_event("schedule.json")).encode(),
        )
        wait_for(lambda: _status(client, image_id) == "STALLED", timeout=60)
    finally:
        events.put_targets(Rule=rule, Targets=targets)
    return image_id


def _expired(client: PipelineClient, stack: Stack) -> str:
    """An upload URL nobody used, which the sweeper ends EXPIRED (its verdict, sent twice)."""
    created = client.create_image("never-sent.jpg", "image/jpeg")
    image_id = str(created["imageId"])
    trace = client.get_trace(image_id)
    (requested,) = [e for e in trace["events"] if e["type"] == "UploadRequested"]
    expired = PipelineEvent.new(
        EventType.UPLOAD_EXPIRED,
        image_id=image_id,
        producer="StallSweeper",
        event_id=f"expired:{requested['eventId']}",
        causation_id=requested["eventId"],
        occurred_at=datetime.now(UTC),
        data={"expiresAt": created["uploadExpiresAt"], "key": f"uploads/{image_id}.jpg"},
    )
    _put(stack, expired, expired)  # a duplicate delivery changes nothing
    wait_for(lambda: _status(client, image_id) == "EXPIRED", timeout=60)
    return image_id


def _agreement(client: PipelineClient, consumers: tuple[Aggregates, Archive], ids: list[str]) -> dict[str, Any]:
    aggregates, archive = consumers
    api = {i: _status(client, i) for i in ids}
    graphql = {i: (aggregates.image_status(i) or {}).get("status") for i in ids}
    athena = {i: r["status"] for i, r in archive.image_statuses(ids).items()}
    day = today()
    counters = aggregates.daily(day).images
    by_status = {str(r["status"]): int(str(r["images"])) for r in archive.report("images_by_status") if r["day"] == day}
    return {"api": api, "graphql": graphql, "athena": athena, "counters": counters, "byStatus": by_status}


def _agreed(seen: dict[str, Any]) -> bool:
    return bool(seen["api"] == seen["graphql"] == seen["athena"] and seen["counters"] == seen["byStatus"])


def _until_agreed(
    client: PipelineClient, consumers: tuple[Aggregates, Archive], ids: list[str], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not _agreed(seen := _agreement(client, consumers, ids)) and time.monotonic() < deadline:
        time.sleep(2)
    assert _agreed(seen), f"they disagree: {json.dumps(seen, indent=1)}"
    return seen


def test_the_api_the_aggregates_and_the_archive_name_the_same_status_for_every_image(
    client: PipelineClient, stack: Stack, consumers: tuple[Aggregates, Archive]
) -> None:
    s3, bucket = boto3.client("s3"), stack.outputs["ImagesBucketName"]
    # Given an image written with the AWS CLI's S3 call, rejected, then uploaded again right
    key = f"uploads/truth-{uuid.uuid4().hex[:8]}/flip.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=b"this is text, not a JPEG")
    reuploaded = _by_key(client, key, "REJECTED")
    s3.put_object(Bucket=bucket, Key=key, Body=_jpeg())
    assert _by_key(client, key, "COMPLETE") == reuploaded
    # and edited (an edit has a status of its own: the image stays COMPLETE)
    edit = client.request_edit(reuploaded, {"operations": [{"filter": "sepia"}], "format": "webp"})
    wait_for(lambda: client.get_edit(reuploaded, edit["editId"])["status"] == "COMPLETE", timeout=120)
    # and an upload URL nobody used, an upload that stalled, and one that simply completes
    expired = _expired(client, stack)
    stalled = _stalled_upload(client, stack)
    complete = upload_image(client, _jpeg((400, 300)), "plain.jpg", "image/jpeg")
    assert settled(client, complete)["status"] == "COMPLETE"
    ids = [reuploaded, expired, stalled, complete]
    # Then every consumer says, image by image, what the API says; and the day's counters of the
    # aggregates are the archive's images_by_status for the day, status by status
    seen = _until_agreed(client, consumers, ids, timeout=120)
    assert seen["api"] == {reuploaded: "COMPLETE", expired: "EXPIRED", stalled: "STALLED", complete: "COMPLETE"}
    # And the re-upload moved its image out of REJECTED everywhere (it was counted there first)
    aggregates, _ = consumers
    applied = aggregates.image_status(reuploaded)
    assert applied is not None
    assert applied["version"] >= 3  # PROCESSING, REJECTED, PROCESSING, COMPLETE (some may coincide)
