"""The aggregates consumer counts each validated event exactly once, and each image in the status
the tracker last announced for it (never one it works out for itself), whatever the order and
however often events are redelivered."""

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from image_pipeline import catalogue
from image_pipeline.aws.stats import DynamoStatsStore
from image_pipeline.aws.stats_api import AppSyncStatsPush
from image_pipeline.catalogue import ImageStatus
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.hub.aggregates import (
    TOP_LABELS,
    DailyStats,
    PushFailed,
    StatsPush,
    aggregate,
    event_counters,
    latency_bucket,
)
from tests import samples, template
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


def _answers(image: str) -> list[PipelineEvent]:
    """An image's answers, one per job, as their producers publish them."""
    return [
        samples.event(job.response, image_id=image, causation_id=f"{image}@0001", at=T0 + timedelta(seconds=1))
        for job in catalogue.JOBS
    ]


def _announced(image: str, version: int, status: str, *, latency: int | None = None, day: str = DAY) -> PipelineEvent:
    """The tracker's ImageStatusChanged for ``image``."""
    final = ImageStatus(status) in catalogue.FINAL
    return samples.event(
        EventType.IMAGE_STATUS_CHANGED,
        image_id=image,
        event_id=f"status:{image}:{version}",
        at=T0 + timedelta(seconds=version),
        status=status,
        version=version,
        previous=None,
        final=final,
        latencyMs=latency if final else None,
        createdAt=f"{day}T09:30:00+00:00",
        reasonCode="truncated" if status == "REJECTED" else None,
    )


def _day(store: DynamoStatsStore, day: str = DAY) -> DailyStats:
    return DailyStats.from_counters(day, store.daily(day))


def test_each_event_is_counted_once_by_type_and_what_it_carries(store: DynamoStatsStore) -> None:
    events = _answers("img1")
    assert [aggregate(e, store).duplicate for e in [*events, *events]] == [False] * len(events) + [True] * len(events)
    day = _day(store)
    assert day.events == {job.response.value: 1 for job in catalogue.JOBS}
    assert day.formats == {"JPEG": 1}


def test_an_image_is_counted_in_the_status_the_tracker_announced_and_moves_with_it(store: DynamoStatsStore) -> None:
    aggregate(_announced("img1", 1, "PROCESSING"), store)
    assert _day(store).images == {"PROCESSING": 1}
    result = aggregate(_announced("img1", 2, "COMPLETE", latency=1800), store)
    assert result.status is not None
    assert result.status.status is ImageStatus.COMPLETE
    assert _day(store).images == {"COMPLETE": 1}  # moved, not added
    assert _day(store).latency == {"le_2000": 1}
    assert store.image_status("img1") == result.status


def test_every_status_is_kept_and_only_the_latest_version_of_each_image_counts(store: DynamoStatsStore) -> None:
    # Given the announcements of five images, shuffled and each delivered three times: a re-upload
    # after a rejection, an upload that expired, one stalled, one complete, one still processing
    announcements = [
        _announced("reuploaded", 1, "PROCESSING"),
        _announced("reuploaded", 2, "REJECTED"),
        _announced("reuploaded", 3, "PROCESSING"),
        _announced("reuploaded", 4, "COMPLETE", latency=900),
        _announced("expired", 1, "PENDING"),
        _announced("expired", 2, "EXPIRED"),
        _announced("stalled", 1, "PROCESSING"),
        _announced("stalled", 2, "STALLED"),
        _announced("complete", 1, "PROCESSING"),
        _announced("complete", 2, "COMPLETE", latency=40_000),
        _announced("processing", 1, "PROCESSING"),
    ]
    deliveries = announcements * 3
    random.Random(8).shuffle(deliveries)  # noqa: S311 - a repeatable shuffle, not a secret
    for event in deliveries:
        aggregate(event, store)
    # Then each image counts once, in its latest announced status, whatever the order
    assert _day(store).images == {"COMPLETE": 2, "EXPIRED": 1, "PROCESSING": 1, "STALLED": 1}
    assert _day(store).latency == {"le_1000": 1, "le_60000": 1}
    assert {i: store.image_status(i).status.value for i in ("reuploaded", "expired", "stalled")} == {  # type: ignore[union-attr]
        "reuploaded": "COMPLETE",
        "expired": "EXPIRED",
        "stalled": "STALLED",
    }


def test_a_late_or_repeated_announcement_changes_nothing(store: DynamoStatsStore) -> None:
    aggregate(_announced("img1", 2, "COMPLETE", latency=500), store)
    before = store.daily(DAY)
    late = aggregate(_announced("img1", 1, "PROCESSING"), store)  # an older version arrives last
    assert late.status is not None
    assert late.status.version == 2
    assert store.daily(DAY) == {**before, "events.ImageStatusChanged": 2}


def test_an_image_is_counted_on_the_day_it_was_created_whenever_its_status_changes(store: DynamoStatsStore) -> None:
    aggregate(_announced("img1", 1, "PROCESSING", day="2026-11-21"), store)
    aggregate(_announced("img1", 2, "COMPLETE", latency=100, day="2026-11-21"), store)
    assert _day(store, "2026-11-21").images == {"COMPLETE": 1}
    assert _day(store).images == {}


def test_a_redelivery_repairs_an_attempt_that_counted_the_event_but_not_the_status(store: DynamoStatsStore) -> None:
    # Given the announcement was counted as an event, but the function died before applying it
    announcement = _announced("img1", 1, "COMPLETE", latency=700)
    store.record(announcement, event_counters(announcement))
    assert _day(store).images == {}
    # When it is redelivered, the status is applied (once) and the event not counted again
    assert aggregate(announcement, store).duplicate is True
    assert aggregate(announcement, store).duplicate is True
    assert _day(store).images == {"COMPLETE": 1}
    assert _day(store).events == {"ImageStatusChanged": 1}


def _recognized(labels: list[tuple[str, float]], score: float | None = 0.01) -> PipelineEvent:
    recognition: dict[str, Any] = {
        "backend": "rekognition" if score is not None else "off",
        "labels": [{"name": name, "confidence": confidence, "parents": []} for name, confidence in labels],
        "faces": [],
        "moderation": {"flagged": False, "score": score, "threshold": 0.8, "labels": []},
    }
    return samples.event(
        EventType.IMAGE_RECOGNIZED, causation_id=f"{samples.IMAGE}@0001", at=T0, recognition=recognition
    )


@pytest.mark.parametrize("count", [TOP_LABELS - 1, TOP_LABELS, TOP_LABELS + 1])
def test_a_recognized_image_counts_as_passed_with_its_most_confident_labels(count: int) -> None:
    # Given labels listed least confident first
    labels = [(f"Label{i}", 0.6 + i / 100) for i in range(count)]
    counters = event_counters(_recognized(labels))
    # Then the top few (by confidence) are counted, once each, beside the verdict
    counted = sorted(name for name in counters if name.startswith("labels."))
    assert counted == sorted(f"labels.{name}" for name, _ in labels[-TOP_LABELS:])
    assert counters["moderation.passed"] == 1


def test_a_backend_that_scores_nothing_counts_as_unchecked_not_passed() -> None:
    counters = event_counters(_recognized([], score=None))
    assert counters == {"events.ImageRecognized": 1, "moderation.unchecked": 1}


def test_a_moderation_rejection_counts_as_flagged_and_any_other_rejection_does_not(store: DynamoStatsStore) -> None:
    flagged = samples.event(EventType.IMAGE_REJECTED, at=T0, reason="moderation", job="recognition")
    truncated = samples.event(EventType.IMAGE_REJECTED, at=T0)
    for event in (flagged, truncated, _recognized([("Dog", 0.9), ("Animal", 0.95)])):
        aggregate(event, store)
    day = _day(store)
    assert day.rejects == {"moderation": 1, "truncated": 1}
    assert day.moderation == {"flagged": 1, "passed": 1}
    assert day.labels == {"Animal": 1, "Dog": 1}
    shown = DailyStats.from_counters(DAY, {"labels.Dog": 2, "labels.Cat": 2, "labels.Animal": 3}).to_dict()
    assert list(shown["topLabels"].items()) == [("Animal", 3), ("Cat", 2), ("Dog", 2)]  # most first, ties by name


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
    events = [*_answers("img1"), _announced("img1", 1, "COMPLETE", latency=100)]
    for event in events:
        aggregate(event, store, push)
    aggregate(events[0], store, push)  # a duplicate changes nothing: nothing to push
    assert [day for day, _ in push.pushed] == [DAY] * len(events)
    assert push.pushed[-1][1] == store.daily(DAY)
    assert push.pushed[-1][1]["images.COMPLETE"] == 1


def test_a_failed_push_loses_no_count(store: DynamoStatsStore, caplog: pytest.LogCaptureFixture) -> None:
    events = [*_answers("img1"), _announced("img1", 1, "COMPLETE", latency=100)]
    results = [aggregate(e, store, RecordingPush(fail=True)) for e in events]
    assert all(r.pushed == () for r in results)
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
    # Given CountQueue's batch: an image's answers and its announced status as the rule puts them on
    # the queue, one of them delivered twice, and a record that is not a pipeline event
    delivered = [
        {"detail-type": event.type.value, "source": "valid.image-pipeline", "detail": event.detail()}
        for event in [*_answers("img9"), _announced("img9", 1, "COMPLETE", latency=100)]
    ]
    template = load_event("sqs-rendition-batch.json")["Records"][0]
    bodies = [*delivered, delivered[0], {"detail-type": "ImageAnalyzed", "source": "valid.image-pipeline"}]
    records = [{**template, "messageId": f"m{index}", "body": json.dumps(body)} for index, body in enumerate(bodies)]
    result = module.lambda_handler({"Records": records}, lambda_context, adapters=(store, push))
    # Then only the broken record comes back, and the image is counted once
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{len(bodies) - 1}"}]}
    assert _day(store).images == {"COMPLETE": 1}
    assert push.pushed[-1] == (DAY, store.daily(DAY))
