"""Replays are safe: the producers' events replayed from the hub's archive, once and then again,
change no count anywhere. The hub republishes nothing it republished within its replay window, and
a consumer that gets an event again (a redelivery, or a replay older than that window) counts it
once and never moves an image back to an older status."""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from image_pipeline.aws.hub import DynamoRepublishLog
from image_pipeline.aws.stats import DynamoStatsStore
from image_pipeline.catalogue import JOBS, EventType
from image_pipeline.events import PipelineEvent
from image_pipeline.hub.aggregates import aggregate
from image_pipeline.hub.validation import (
    Producers,
    Quarantined,
    QuarantineQueue,
    Republisher,
    validate_and_republish,
)
from tests import samples, template
from tests.template import physical_name

HUB, AGGREGATES = template.HUB, "consumers/aggregates/template.yaml"
ACCOUNT = "123456789012"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


class ToConsumer(Republisher):
    """The central bus and the consumer's subscription, short-circuited: what is republished is
    counted by the aggregates consumer, as its queue would hand it over."""

    def __init__(self, store: DynamoStatsStore) -> None:
        self.store = store
        self.delivered = 0

    def publish(self, events: Any) -> None:
        for republished in events:
            self.delivered += 1
            aggregate(PipelineEvent.from_detail(republished.detail_type, dict(republished.detail)), self.store)


class NoQuarantine(QuarantineQueue):
    def send(self, events: Sequence[Quarantined]) -> None:
        raise AssertionError(f"nothing here breaks its contract: {events}")


def _table(path: str, logical_id: str) -> str:
    properties = template.resources("AWS::DynamoDB::Table", path)[logical_id]["Properties"]
    boto3.client("dynamodb").create_table(
        TableName=physical_name(logical_id),
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )
    return physical_name(logical_id)


@pytest.fixture
def tables() -> Iterator[SimpleNamespace]:
    with mock_aws():
        yield SimpleNamespace(republished=_table(HUB, "RepublishedTable"), stats=_table(AGGREGATES, "StatsTable"))


def _archived_window() -> list[dict[str, Any]]:
    """A day of producer events as the hub's archive keeps them: two images, one re-uploaded after
    a rejection, with the tracker's verdicts."""
    events = [
        samples.event(EventType.IMAGE_UPLOADED, image_id="a" * 32, at=T0),
        *(samples.event(job.response, image_id="a" * 32, at=T0 + timedelta(seconds=1)) for job in JOBS),
        samples.event(
            EventType.IMAGE_STATUS_CHANGED,
            image_id="a" * 32,
            event_id="status:a:1",
            version=1,
            status="COMPLETE",
            final=True,
            latencyMs=1000,
        ),
        samples.event(EventType.IMAGE_REJECTED, image_id="b" * 32, at=T0),
        samples.event(
            EventType.IMAGE_STATUS_CHANGED,
            image_id="b" * 32,
            event_id="status:b:1",
            version=1,
            status="REJECTED",
            final=True,
            latencyMs=10,
            reasonCode="truncated",
        ),
        samples.event(
            EventType.IMAGE_STATUS_CHANGED,
            image_id="b" * 32,
            event_id="status:b:2",
            version=2,
            status="COMPLETE",
            final=True,
            latencyMs=900,
            previous="REJECTED",
        ),
    ]
    return [
        {"source": "image-pipeline", "account": ACCOUNT, "detail-type": e.type.value, "detail": e.detail()}
        for e in events
    ]


def test_replaying_an_archived_window_twice_counts_nothing_twice(tables: SimpleNamespace) -> None:
    store = DynamoStatsStore(tables.stats)
    consumer = ToConsumer(store)
    republished = DynamoRepublishLog(tables.republished, remember_for=timedelta(days=31))
    producers = Producers.parse("image-pipeline", "", home=ACCOUNT)
    window = _archived_window()
    day = T0.date().isoformat()

    def replay() -> Any:
        return validate_and_republish(
            window, producers=producers, republisher=consumer, quarantine=NoQuarantine(), republished=republished
        )

    # Given the window as it first went through
    first = replay()
    counted = store.daily(day)
    assert len(first.republished) == len(window)
    assert {k: v for k, v in counted.items() if k.startswith("images.") and v} == {"images.COMPLETE": 2}
    # When it is replayed, twice, then the hub republishes nothing and no count moves
    for _ in range(2):
        again = replay()
        assert again.republished == []
        assert sorted(again.duplicates) == sorted(e["detail"]["metadata"]["eventId"] for e in window)
    assert store.daily(day) == counted
    assert consumer.delivered == len(window)
    # And past the hub's window, a consumer that gets the events again still counts each once and
    # keeps every image at its latest status
    for event in window:
        aggregate(PipelineEvent.from_detail(event["detail-type"], event["detail"]), store)
    assert store.daily(day) == counted
    assert store.image_status("b" * 32).status.value == "COMPLETE"  # type: ignore[union-attr]
