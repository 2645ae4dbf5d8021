"""Consumer B counts each validated event exactly once, and each image once when it reaches its
final status (by the tracker's own event pairing), whatever the order and however often events
are redelivered."""

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from image_pipeline.aws.stats import DynamoStatsStore
from image_pipeline.aws.stats_api import AppSyncStatsPush
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.hub.aggregates import (
    DailyStats,
    PushFailed,
    StatsPush,
    aggregate,
    event_counters,
    latency_bucket,
)
from tests import template
from tests.conftest import load_event
from tests.template import physical_name

AGGREGATES = "consumers/aggregates/template.yaml"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
DAY = "2026-11-22"


@pytest.fixture
def store() -> Iterator[DynamoStatsStore]:
    with mock_aws():
        table = template.resources("AWS::DynamoDB::Table", AGGREGATES)["StatsTable"]["Properties"]
        boto3.client("dynamodb").create_table(
            TableName=physical_name("StatsTable"),
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            BillingMode=table["BillingMode"],
        )
        yield DynamoStatsStore(physical_name("StatsTable"))


def _answers(image: str, *, rejected: bool = False, seconds: float = 2.0) -> list[PipelineEvent]:
    upload = f"uploads/{image}.jpg#0001"

    def event(kind: EventType, producer: str, at: float, data: dict[str, Any]) -> PipelineEvent:
        return PipelineEvent.new(
            kind,
            image_id=image,
            producer=producer,
            causation_id=upload,
            occurred_at=T0 + timedelta(seconds=at),
            data=data,
        )

    outputs = [
        {
            "name": "thumbnail",
            "key": "outputs/x",
            "format": "JPEG",
            "mediaType": "image/jpeg",
            "width": 1,
            "height": 1,
            "bytes": 100,
        }
    ]
    analysis = {"analysis": {"format": "PNG", "mediaType": "image/png", "width": 9, "height": 9, "bytes": 5000}}
    if rejected:
        reject = {"reason": "truncated", "message": "cut short", "job": "thumbnail"}
        return [
            event(EventType.THUMBNAIL_CREATED, "ThumbnailFunction", 0.5, {"outputs": outputs}),
            event(EventType.IMAGE_REJECTED, "AnalyzeFunction", seconds, reject),
        ]
    return [
        event(EventType.THUMBNAIL_CREATED, "ThumbnailFunction", 0.5, {"outputs": outputs}),
        event(EventType.IMAGE_ANALYZED, "AnalyzeFunction", 1.0, analysis),
        event(EventType.RENDITIONS_CREATED, "RenditionWorker", 0.5 + seconds, {"outputs": outputs * 3}),
    ]


def _day(store: DynamoStatsStore) -> DailyStats:
    return DailyStats.from_counters(DAY, store.daily(DAY))


def test_an_image_is_counted_once_when_its_last_answer_arrives(store: DynamoStatsStore) -> None:
    events = _answers("img1")
    results = [aggregate(e, store) for e in events]
    assert [r.final is not None for r in results] == [False, False, True]
    day = _day(store)
    assert day.images == {"COMPLETE": 1}
    assert day.events == {"ImageAnalyzed": 1, "RenditionsCreated": 1, "ThumbnailCreated": 1}
    assert day.formats == {"PNG": 1}
    assert (day.bytes_in, day.bytes_out) == (5000, 400)
    assert day.latency == {"le_2000": 1}  # 0.5 s -> 2.5 s: 2000 ms from the first answer to the last


def test_duplicates_and_any_order_do_not_double_count(store: DynamoStatsStore) -> None:
    # Given two images' events delivered shuffled, each of them three times
    events = _answers("img1") + _answers("img2", seconds=40) + _answers("img3", rejected=True)
    deliveries = events * 3
    random.Random(8).shuffle(deliveries)  # noqa: S311 - a repeatable shuffle, not a secret
    results = [aggregate(e, store) for e in deliveries]
    # Then every event and every image is counted exactly once
    assert sum(not r.duplicate for r in results) == len(events)
    day = _day(store)
    assert day.events == {"ImageAnalyzed": 2, "ImageRejected": 1, "RenditionsCreated": 2, "ThumbnailCreated": 3}
    assert day.images == {"COMPLETE": 2, "REJECTED": 1}
    assert day.rejects == {"truncated": 1}
    assert day.bytes_out == 2 * 400 + 100
    assert sum(day.latency.values()) == 3


def test_the_final_step_repairs_an_attempt_that_died_after_counting_the_event(store: DynamoStatsStore) -> None:
    # Given the last answer was counted but the function died before counting the image
    *first, last = _answers("img1")
    for event in first:
        aggregate(event, store)
    store.record(last, event_counters(last))
    assert _day(store).images == {}
    # When the event is redelivered, the image is counted (once) and the event is not
    assert aggregate(last, store).duplicate is True
    assert aggregate(last, store).duplicate is True
    assert _day(store).images == {"COMPLETE": 1}
    assert _day(store).events["RenditionsCreated"] == 1


def test_p50_and_p95_are_read_from_the_histogram() -> None:
    latencies = [300] * 10 + [1500] * 8 + [45_000, 400_000]
    counters: dict[str, int] = {}
    for latency in latencies:
        key = latency_bucket(latency)
        counters[key] = counters.get(key, 0) + 1
    day = DailyStats.from_counters(DAY, counters)
    assert day.percentile(0.5) == 500  # the 10th of 20 is in (250, 500]
    assert day.percentile(0.95) == 60_000  # the 19th is 45 s
    assert day.percentile(1.0) is None  # unbounded: past the last bucket
    assert DailyStats.from_counters(DAY, {}).percentile(0.5) is None


class RecordingPush(StatsPush):
    def __init__(self, fail: bool = False) -> None:
        self.pushed: list[tuple[str, dict[str, int]]] = []
        self.fail = fail

    def push(self, day: str, counters: Any) -> None:
        if self.fail:
            raise PushFailed("AppSync said no")
        self.pushed.append((day, dict(counters)))


def test_each_update_is_pushed_to_the_subscription_with_the_days_counters(store: DynamoStatsStore) -> None:
    push = RecordingPush()
    events = _answers("img1")
    for event in events:
        aggregate(event, store, push)
    aggregate(events[0], store, push)  # a duplicate changes nothing: nothing to push
    assert [day for day, _ in push.pushed] == [DAY, DAY, DAY]
    assert push.pushed[-1][1] == store.daily(DAY)
    assert push.pushed[-1][1]["images.COMPLETE"] == 1


def test_a_failed_push_loses_no_count(store: DynamoStatsStore, caplog: pytest.LogCaptureFixture) -> None:
    results = [aggregate(e, store, RecordingPush(fail=True)) for e in _answers("img1")]
    assert [r.pushed for r in results] == [(), (), ()]
    assert _day(store).images == {"COMPLETE": 1}
    assert "could not push the 2026-11-22 stats: AppSync said no" in caplog.text


def test_the_push_is_the_publish_mutation_signed_with_the_functions_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    url = "https://abc.appsync-api.us-east-1.amazonaws.com/graphql"
    request = AppSyncStatsPush(url, "abc").signed_request(DAY, {"images.COMPLETE": 2})
    assert request.full_url == url
    assert request.get_header("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/appsync/aws4_request" in request.get_header("Authorization", "")
    body = json.loads(request.data)  # type: ignore[arg-type]
    assert "publishDailyStats" in body["query"]
    assert body["variables"] == {"date": DAY, "counters": json.dumps({"images.COMPLETE": 2})}
    # on the local engine the same mutation goes to the path it serves GraphQL on
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    local = AppSyncStatsPush(url, "abc").signed_request(DAY, {})
    assert local.full_url == "http://127.0.0.1:4566/v1/apis/abc/graphql"


def test_the_aggregator_counts_each_queued_event_once_and_fails_a_broken_record_alone(
    store: DynamoStatsStore, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    module = load_handler("Aggregator", AGGREGATES)
    push = RecordingPush()
    # Given CountQueue's batch: an image's three answers as the rule puts them on the queue, one of
    # them delivered twice, and a record that is not a pipeline event
    delivered = [
        {"detail-type": event.type.value, "source": "valid.image-pipeline", "detail": event.detail()}
        for event in _answers("img9")
    ]
    template = load_event("sqs-rendition-batch.json")["Records"][0]
    bodies = [*delivered, delivered[0], {"detail-type": "ImageAnalyzed", "source": "valid.image-pipeline"}]
    records = [{**template, "messageId": f"m{index}", "body": json.dumps(body)} for index, body in enumerate(bodies)]
    result = module.lambda_handler({"Records": records}, lambda_context, adapters=(store, push))
    # Then only the broken record comes back, and the image is counted once
    assert result == {"batchItemFailures": [{"itemIdentifier": "m4"}]}
    assert _day(store).images == {"COMPLETE": 1}
    assert push.pushed[-1] == (DAY, store.daily(DAY))
