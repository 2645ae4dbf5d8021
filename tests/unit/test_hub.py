"""The hub's Validator: valid events go out again as valid.<source> (once per event id, in chunks
of 10, retried when EventBridge refuses entries, loudly failed when it keeps refusing), invalid ones
end in the quarantine with their reason, and a valid.* event is never republished."""

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from image_pipeline.aws.hub import DynamoRepublishLog, EventBridgeRepublisher, RepublishFailed, SqsQuarantine
from image_pipeline.hub.settings import ValidatorSettings
from image_pipeline.hub.validation import Producers, Republish, triage, validate_and_republish
from tests import template
from tests.conftest import load_event
from tests.template import Deployed, physical_name

HUB = "hub/template.yaml"
PRODUCERS = Producers.parse("image-pipeline", "", home="123456789012")  # the sample events' account
REMEMBER = timedelta(days=31)


def _event(event_id: str, **changes: Any) -> dict[str, Any]:
    event = load_event("app-thumbnail-created.json")
    event["detail"]["metadata"]["eventId"] = event_id
    event.update(changes)
    return event


@pytest.fixture
def hub() -> Iterator[SimpleNamespace]:
    """The hub's bus, quarantine and table in moto, plus a queue that sees every valid.* event."""
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        bus = physical_name("CentralBus")
        events.create_event_bus(Name=bus)
        table = template.resources("AWS::DynamoDB::Table", HUB)["RepublishedTable"]["Properties"]
        boto3.client("dynamodb").create_table(
            TableName=physical_name("RepublishedTable"),
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            BillingMode=table["BillingMode"],
        )
        quarantine = sqs.create_queue(QueueName="quarantine")["QueueUrl"]
        seen = sqs.create_queue(QueueName="republished")["QueueUrl"]
        seen_arn = sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="valid", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": "valid."}]}))
        events.put_targets(Rule="valid", EventBusName=bus, Targets=[{"Id": "q", "Arn": seen_arn}])
        yield SimpleNamespace(bus=bus, table=physical_name("RepublishedTable"), quarantine=quarantine, seen=seen)


def _drain(queue_url: str) -> list[dict[str, Any]]:
    sqs, bodies = boto3.client("sqs"), list[dict[str, Any]]()
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        bodies.extend(json.loads(m["Body"]) for m in messages)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return bodies


def _sqs_batch(*events: Any) -> dict[str, Any]:
    def body(event: Any) -> str:
        return event if isinstance(event, str) else json.dumps(event)

    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body(e),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inbox",
                "awsRegion": "us-east-1",
            }
            for i, e in enumerate(events)
        ]
    }


@pytest.fixture
def validator(hub: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object) -> Any:
    module = load_handler("Validator", HUB, QUARANTINE_QUEUE_URL=hub.quarantine)
    return lambda event: module.lambda_handler(event, lambda_context)


def test_valid_events_are_republished_as_valid_source_and_a_malformed_one_is_quarantined_with_its_reason(
    hub: SimpleNamespace, validator: Any
) -> None:
    # Given a batch of two valid events and a malformed one (a width that is not a number)
    malformed = _event("bad-1")
    malformed["detail"]["data"]["outputs"][0]["width"] = "wide"
    # When the validator takes it
    summary = validator(_sqs_batch(_event("ok-1"), malformed, _event("ok-2")))
    # Then the valid ones are on the central bus under valid.image-pipeline, unchanged
    republished = _drain(hub.seen)
    assert sorted(e["detail"]["metadata"]["eventId"] for e in republished) == ["ok-1", "ok-2"]
    assert {e["source"] for e in republished} == {"valid.image-pipeline"}
    assert {e["detail-type"] for e in republished} == {"ThumbnailCreated"}
    assert republished[0]["detail"]["data"] == _event("x")["detail"]["data"]
    # and the malformed one is in the quarantine, with the reason and the event as received
    (quarantined,) = _drain(hub.quarantine)
    assert quarantined["reason"] == "schema_mismatch"
    assert "outputs[0].width must be integer" in quarantined["message"]
    assert quarantined["event"] == malformed
    assert summary["quarantined"] == [{"reason": "schema_mismatch", "message": quarantined["message"]}]


def test_a_redelivered_event_is_not_republished_twice(hub: SimpleNamespace, validator: Any) -> None:
    validator(_sqs_batch(_event("once")))
    summary = validator(_sqs_batch(_event("once"), _event("once"), _event("new")))
    assert summary["republished"] == ["new"]
    assert summary["duplicates"] == ["once", "once"]
    assert sorted(e["detail"]["metadata"]["eventId"] for e in _drain(hub.seen)) == ["new", "once"]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_event("loop", source="valid.image-pipeline"), "already_republished"),
        (_event("stranger", source="someone-else"), "unknown_source"),
        (_event("forged", **{"detail-type": "ImageAnalyzed"}), "schema_mismatch"),
        ("{not json", "not_an_event"),
    ],
    ids=["valid-star", "unknown-source", "wrong-data-for-type", "not-json"],
)
def test_what_is_not_a_producers_valid_event_is_quarantined_never_republished(
    hub: SimpleNamespace, validator: Any, event: Any, reason: str
) -> None:
    validator(_sqs_batch(event))
    assert _drain(hub.seen) == []
    (quarantined,) = _drain(hub.quarantine)
    assert quarantined["reason"] == reason


def test_a_forged_producer_is_quarantined() -> None:
    forged = _event("f")
    forged["detail"]["metadata"]["producer"] = "StallSweeper"
    verdict = triage(forged, PRODUCERS)
    assert not isinstance(verdict, Republish)
    assert verdict.reason == "foreign_producer"


def test_republishing_goes_out_in_chunks_of_ten(hub: SimpleNamespace) -> None:
    client = boto3.client("events")
    calls: list[int] = []
    client.meta.events.register(
        "provide-client-params.events.PutEvents", lambda params, **_: calls.append(len(params["Entries"]))
    )
    validate_and_republish(
        [_event(f"e{i:02}") for i in range(23)],
        producers=PRODUCERS,
        republisher=EventBridgeRepublisher(hub.bus, client=client),
        quarantine=SqsQuarantine(hub.quarantine),
        republished=DynamoRepublishLog(hub.table, remember_for=REMEMBER),
    )
    assert calls == [10, 10, 3]
    assert len(_drain(hub.seen)) == 23


def _refusal(entries: int, refused: set[int]) -> dict[str, Any]:
    results = [
        {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} if i in refused else {"EventId": f"id{i}"}
        for i in range(entries)
    ]
    return {"FailedEntryCount": len(refused), "Entries": results}


def test_refused_entries_are_retried_alone_then_the_republish_fails_loudly(hub: SimpleNamespace) -> None:
    republish = [triage(_event(f"r{i}"), PRODUCERS) for i in range(3)]
    assert all(isinstance(r, Republish) for r in republish)
    client = boto3.client("events")
    republisher = EventBridgeRepublisher(hub.bus, client=client, backoff_seconds=0)
    # Given EventBridge refuses the second entry once: only that entry is sent again
    with Stubber(client) as stub:
        stub.add_response("put_events", _refusal(3, {1}))
        stub.add_response("put_events", _refusal(1, set()), expected_params=None)
        republisher.publish(republish)  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
    # Given it keeps refusing: after every retry the call raises, naming the error
    with Stubber(client) as stub:
        stub.add_response("put_events", _refusal(3, {0, 2}))
        for _ in range(3):
            stub.add_response("put_events", _refusal(2, {0, 1}))
        with pytest.raises(
            RepublishFailed, match=r"2 event\(s\) not republished after 4 attempts.*ThrottlingException"
        ):
            republisher.publish(republish)  # type: ignore[arg-type]


def test_a_failed_republish_marks_nothing_so_the_retry_republishes_it(hub: SimpleNamespace) -> None:
    failing = boto3.client("events")
    republished = DynamoRepublishLog(hub.table, remember_for=REMEMBER)
    with Stubber(failing) as stub:
        for _ in range(4):
            stub.add_response("put_events", _refusal(1, {0}))
        failed = validate_and_republish(
            [_event("quarantine-me", source="nobody"), _event("retry-me")],
            producers=PRODUCERS,
            republisher=EventBridgeRepublisher(hub.bus, client=failing, backoff_seconds=0),
            quarantine=SqsQuarantine(hub.quarantine),
            republished=republished,
        )
    # Then only the event that did not go out comes back (the quarantined one is done)
    assert failed.unfinished == [1]
    assert failed.error is not None
    assert "ThrottlingException" in failed.error
    assert failed.republished == []
    assert republished.seen(["retry-me"]) == set()
    outcome = validate_and_republish(
        [_event("retry-me")],
        producers=PRODUCERS,
        republisher=EventBridgeRepublisher(hub.bus),
        quarantine=SqsQuarantine(hub.quarantine),
        republished=republished,
    )
    assert [r.event_id for r in outcome.republished] == ["retry-me"]
    assert republished.seen(["retry-me", "other"]) == {"retry-me"}


def test_the_validator_counts_invalid_events_for_the_alarm(
    hub: SimpleNamespace, validator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = copy.deepcopy(_event("b"))
    bad["detail"].pop("data")
    validator(_sqs_batch(bad, _event("g")))
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (emitted,) = metrics
    assert emitted["InvalidEvents"] == [1.0], emitted
    alarm = template.resources("AWS::CloudWatch::Alarm", HUB)["InvalidEventsAlarm"]["Properties"]
    assert alarm["MetricName"] == "InvalidEvents"
    assert alarm["Namespace"] == emitted["_aws"]["CloudWatchMetrics"][0]["Namespace"]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0


def test_the_republish_log_asks_again_for_the_keys_dynamodb_left_unprocessed() -> None:
    # BatchGetItem may answer part of a request and hand back the rest as UnprocessedKeys (throttling,
    # 16 MB): a key it left out is still "seen" only if asked again, or the event goes out twice.
    client = boto3.client("dynamodb", region_name="us-east-1")
    log = DynamoRepublishLog("republished", remember_for=REMEMBER, client=client)
    ask = {
        "Keys": [{"eventId": {"S": "a"}}, {"eventId": {"S": "b"}}],
        "ConsistentRead": True,
        "ProjectionExpression": "eventId",
    }
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_item",
            {
                "Responses": {"republished": [{"eventId": {"S": "a"}}]},
                "UnprocessedKeys": {"republished": {**ask, "Keys": [{"eventId": {"S": "b"}}]}},
            },
            {"RequestItems": {"republished": ask}},
        )
        stub.add_response(
            "batch_get_item",
            {"Responses": {"republished": [{"eventId": {"S": "b"}}]}, "UnprocessedKeys": {}},
            {"RequestItems": {"republished": {**ask, "Keys": [{"eventId": {"S": "b"}}]}}},
        )
        assert log.seen(["b", "a"]) == {"a", "b"}
        stub.assert_no_pending_responses()


def test_a_replay_of_any_archived_window_republishes_nothing_twice(hub: SimpleNamespace) -> None:
    # The archive keeps producer events ReplayDays; Validator must remember what it republished
    # longer than that, or a replay of an old window sends those events out again.
    deployed = Deployed.of(HUB)
    archive_days = int(deployed.properties("CentralBusArchive")["RetentionDays"])
    environment = deployed.properties("Validator")["Environment"]["Variables"]
    settings = ValidatorSettings.from_env(
        {
            **{k: str(v) for k, v in environment.items() if isinstance(v, (str, int))},
            "CENTRAL_BUS_NAME": "b",
            "QUARANTINE_QUEUE_URL": "q",
            "REPUBLISHED_TABLE": hub.table,
            "PRODUCER_SOURCES": "image-pipeline",
            "HUB_ACCOUNT_ID": "123456789012",
        }
    )
    assert settings.replay_days == archive_days
    log = DynamoRepublishLog(hub.table, remember_for=settings.republished_for)
    before = datetime.now(UTC)
    log.mark(["e1"])
    item = boto3.client("dynamodb").get_item(TableName=hub.table, Key={"eventId": {"S": "e1"}})["Item"]
    assert int(item["expiresAt"]["N"]) > (before + timedelta(days=archive_days)).timestamp()
