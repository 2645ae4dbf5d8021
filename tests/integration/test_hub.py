"""The event hub on the local engine, all four stacks in one account as `make deploy-local` puts
them: an image's events are forwarded, validated, republished as valid.* and end counted once in
the aggregates (read through the GraphQL API) and in the archive (read with an Athena query);
a malformed event ends in the quarantine with its reason; duplicates are not counted twice."""

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from image_pipeline.events import EventType, PipelineEvent
from tests.conftest import sample_images
from tests.integration.conftest import settled, upload_image, wait_for
from tools.client import PipelineClient, content_type_for
from tools.engine import LocalEngine
from tools.hub import Aggregates, Archive, today
from tools.stack import Stack

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef


@pytest.fixture(scope="module")
def parts(engine: LocalEngine, stack: Stack) -> dict[str, Stack]:
    return {part: Stack(f"{stack.name}-{part}", endpoint_url=engine.url) for part in ("hub", "aggregates", "history")}


@pytest.fixture(scope="module")
def aggregates(parts: dict[str, Stack]) -> Aggregates:
    return Aggregates(parts["aggregates"])


@pytest.fixture(scope="module")
def archive(parts: dict[str, Stack]) -> Archive:
    return Archive(parts["history"])


def test_an_image_ends_counted_in_the_aggregates_and_in_the_archive(
    client: PipelineClient, parts: dict[str, Stack], aggregates: Aggregates, archive: Archive
) -> None:
    # Given a sample image processed by the pipeline
    path = sample_images()[0]
    image_id = upload_image(client, path.read_bytes(), path.name, content_type_for(path.name))
    assert settled(client, image_id)["status"] == "COMPLETE"
    # Then the aggregates applied the tracker's COMPLETE, and their API serves it and the day's figures
    applied = wait_for(lambda: (s := aggregates.image_status(image_id)) and s["status"] == "COMPLETE" and s, timeout=60)
    assert applied["version"] >= 2  # PENDING, PROCESSING, ... COMPLETE: the versions grew
    day = aggregates.daily(today())
    assert day.images.get("COMPLETE", 0) >= 1
    # and pushed each update to the API's subscription mutation (which the engine accepts; it
    # does not serve subscriptions themselves)
    counted = _logged(parts, image_id, "event counted")
    assert counted
    assert all(line["pushed"] == [today()] for line in counted)
    assert day.events.get("ThumbnailCreated", 0) >= 1
    assert day.percentile(0.5) is not None
    # And the archive keeps its events and the tracker's verdicts, which the Athena query reads
    rows = wait_for(
        lambda: (row := archive.image_statuses([image_id]).get(image_id)) and row["status"] == "COMPLETE" and row,
        timeout=60,
    )
    assert int(str(rows["version"])) == applied["version"]
    # And the report queries (make query) run on the engine's Athena and count it
    by_status = archive.report("images_by_status")
    assert any(r["day"] == today() and r["status"] == "COMPLETE" and int(str(r["images"])) >= 1 for r in by_status)
    (latency,) = [r for r in archive.report("latency_percentiles") if r["day"] == today()]
    assert 0 <= int(str(latency["p50_ms"])) <= int(str(latency["p95_ms"])) <= int(str(latency["max_ms"]))
    # And nothing the pipeline sent broke its contract
    assert _quarantined(parts, lambda m: m["event"]["detail"]["metadata"]["correlationId"] == image_id) == []


def _logged(parts: dict[str, Stack], term: str, message: str) -> list[dict[str, Any]]:
    """The Aggregator's log lines that mention ``term`` and say ``message``."""
    function = parts["aggregates"].physical_id("Aggregator")
    found = boto3.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern=term)
    lines = [json.loads(e["message"]) for e in found.get("events", []) if e["message"].startswith("{")]
    return [line for line in lines if line.get("message") == message]


def _put(bus: str, source: str, event: PipelineEvent, times: int = 1) -> None:
    entry: PutEventsRequestEntryTypeDef = {
        "EventBusName": bus,
        "Source": source,
        "DetailType": event.type.value,
        "Detail": json.dumps(event.detail()),
    }
    response = boto3.client("events").put_events(Entries=[entry] * times)
    assert response["FailedEntryCount"] == 0


def _quarantined(parts: dict[str, Stack], match: Any) -> list[dict[str, Any]]:
    sqs, url, found = boto3.client("sqs"), parts["hub"].outputs["QuarantineQueueUrl"], []
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    for message in messages:
        body = json.loads(message["Body"])
        if isinstance(body.get("event"), dict) and match(body):
            found.append(body)
    return found


@pytest.fixture
def marker() -> str:
    """A value no other test produces, to find this test's counters among the day's."""
    return f"t{uuid.uuid4().hex[:12]}"


def _analyzed(image_id: str, fmt: str) -> PipelineEvent:
    analysis = {"format": fmt, "mediaType": "image/x-test", "width": 4, "height": 3, "bytes": 12}
    return PipelineEvent.new(
        EventType.IMAGE_ANALYZED,
        image_id=image_id,
        producer="AnalyzeFunction",
        causation_id=f"uploads/{image_id}.jpg#1",
        occurred_at=datetime.now(UTC),
        data={"analysis": analysis},
    )


def test_a_malformed_event_is_quarantined_with_its_reason_while_a_valid_one_passes(
    parts: dict[str, Stack], aggregates: Aggregates, marker: str
) -> None:
    central = parts["hub"].outputs["CentralBusName"]
    # Given a valid event and a malformed one (no width) sent to the central bus
    valid = _analyzed(f"{marker}a", marker.upper())
    broken = _analyzed(f"{marker}b", marker.upper())
    broken_detail = broken.detail()
    del broken_detail["data"]["analysis"]["width"]
    _put(central, "image-pipeline", valid)
    boto3.client("events").put_events(
        Entries=[
            {
                "EventBusName": central,
                "Source": "image-pipeline",
                "DetailType": "ImageAnalyzed",
                "Detail": json.dumps(broken_detail),
            }
        ]
    )
    # Then the malformed one is in the quarantine with the reason, as it was sent
    (quarantined,) = wait_for(
        lambda: _quarantined(parts, lambda m: m["event"]["detail"]["metadata"]["eventId"] == broken.event_id),
        timeout=60,
    )
    assert quarantined["reason"] == "schema_mismatch"
    assert "width" in quarantined["message"]
    assert quarantined["event"]["detail"] == broken_detail
    # And the valid one was counted (once), the malformed one not at all
    counted = wait_for(lambda: aggregates.daily(today()).formats.get(marker.upper()), timeout=60)
    assert counted == 1


def test_duplicates_are_not_counted_twice(parts: dict[str, Stack], aggregates: Aggregates, marker: str) -> None:
    central = parts["hub"].outputs["CentralBusName"]
    consumer_bus = parts["aggregates"].outputs["AggregatesBusArn"].rsplit("/", 1)[-1]
    event = _analyzed(f"{marker}d", marker.upper())
    # Given the same event three times on the central bus (the validator republishes it once) and
    # twice more straight onto the consumer's bus as if the hub had redelivered it
    _put(central, "image-pipeline", event, times=3)
    wait_for(lambda: aggregates.daily(today()).formats.get(marker.upper()), timeout=60)
    _put(consumer_bus, "valid.image-pipeline", event, times=2)
    # Then it is counted once: the later deliveries were seen and dropped by the aggregator
    wait_for(lambda: len(_logged(parts, event.event_id, "duplicate event")) >= 2, timeout=60)
    assert len(_logged(parts, event.event_id, "event counted")) == 1
    assert aggregates.daily(today()).formats[marker.upper()] == 1
