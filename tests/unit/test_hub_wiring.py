"""The multi-account wiring of the four templates: the loop guard (with EventBridge pattern
semantics, moto's pattern engine), the policies and roles that connect the accounts, and the whole
route through moto with a distinct account for the producer, the hub and each consumer.

The local engine cannot deliver across accounts nor enforce bus policies; this is where they are checked.
"""

import json
from collections import deque
from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from image_pipeline.aws.hub import DynamoRepublishLog, EventBridgeRepublisher, SqsQuarantine
from image_pipeline.hub.validation import Republish, parse_message, triage, validate_and_republish
from tests import template
from tests.conftest import load_event

APP, HUB = template.APP, "hub/template.yaml"
AGGREGATES, HISTORY = "consumers/aggregates/template.yaml", "consumers/history/template.yaml"
# the parameter that carries each bus's ARN into another template -> (template, bus logical id)
BUS_PARAMETERS = {
    "CentralBusArn": (HUB, "CentralBus"),
    "AggregatesBusArn": (AGGREGATES, "AggregatesBus"),
    "HistoryBusArn": (HISTORY, "HistoryBus"),
}
BUSES = {(APP, "AppBus"), *BUS_PARAMETERS.values()}
Bus = tuple[str, str]


def _resolve(value: Any, path: str) -> Any:
    """Template values with parameters at their defaults (lists split) and mappings looked up."""
    if isinstance(value, list):
        return [
            item
            for v in value
            for item in (
                _resolve(v, path)
                if isinstance(v, dict) and "Ref" in v and _is_list_parameter(v["Ref"], path)
                else [_resolve(v, path)]
            )
        ]
    if isinstance(value, dict):
        if "Ref" in value and _is_list_parameter(value["Ref"], path):
            return template.load(path)["Parameters"][value["Ref"]]["Default"].split(",")
        if "Ref" in value or "Fn::FindInMap" in value:
            return template.resolve(value, path)
        return {k: _resolve(v, path) for k, v in value.items()}
    return value


def _is_list_parameter(name: str, path: str) -> bool:
    parameter = template.load(path).get("Parameters", {}).get(name, {})
    return bool(parameter.get("Type") == "CommaDelimitedList")


def _rules() -> list[tuple[str, Bus, dict[str, Any], list[dict[str, Any]]]]:
    """(rule, the bus it is on, its pattern, its targets) across the four templates."""
    found = []
    for path in (APP, HUB, AGGREGATES, HISTORY):
        for name, rule in template.resources("AWS::Events::Rule", path).items():
            properties = rule["Properties"]
            if "EventBusName" not in properties or "EventPattern" not in properties:
                continue  # the default bus (S3 uploads) and schedules
            bus = (path, properties["EventBusName"]["Ref"])
            targets = [t for t in properties["Targets"] if "Id" in t] + [
                branch for t in properties["Targets"] if "Fn::If" in t for branch in t["Fn::If"][1:] if "Id" in branch
            ]
            found.append((name, bus, _resolve(properties["EventPattern"], path), targets))
    return found


def _target_bus(target: dict[str, Any]) -> Bus | None:
    arn = target["Arn"]
    return BUS_PARAMETERS.get(arn.get("Ref", "")) if isinstance(arn, dict) else None


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's pattern semantics, as moto implements them."""
    return EventPattern.load(json.dumps(pattern)).matches_event(cast("Any", event))


def _event(source: str, detail_type: str = "ThumbnailCreated") -> dict[str, Any]:
    event = load_event("app-thumbnail-created.json")
    return {**event, "source": source, "detail-type": detail_type}


def _route(start: Bus, event: dict[str, Any]) -> tuple[list[tuple[Bus, dict[str, Any]]], list[str]]:
    """Follow an event through every matching rule; the hub's validator republishes what it accepts.
    Returns every (bus, event) visited and every non-bus target reached (by rule name)."""
    visited: list[tuple[Bus, dict[str, Any]]] = []
    reached: list[str] = []
    queue = deque([(start, event)])
    while queue:
        bus, current = queue.popleft()
        visited.append((bus, current))
        assert len(visited) < 20, f"the event loops: {[(b[1], e['source']) for b, e in visited]}"
        for name, rule_bus, pattern, targets in _rules():
            if rule_bus != bus or not _matches(pattern, current):
                continue
            next_buses = [b for t in targets if (b := _target_bus(t)) is not None]
            queue.extend((next_bus, current) for next_bus in next_buses)
            if next_buses:
                continue
            reached.append(name)  # a function or a stream (ArchiveRule: one target per !If branch)
            if name == "ValidateRule":  # Validator, through HubInbox: its real decision
                verdict = triage(current, frozenset(_resolve({"Ref": "ProducerSources"}, HUB)))
                if isinstance(verdict, Republish):
                    queue.append((bus, {**current, "source": verdict.source}))
    return visited, reached


# ---------------------------------------------------------------- the loop guard
def test_the_template_buses_are_the_ones_the_rules_connect() -> None:
    assert {bus for _, bus, _, _ in _rules()} == BUSES
    assert {b for _, _, _, targets in _rules() for t in targets if (b := _target_bus(t))} == BUSES - {(APP, "AppBus")}


def test_a_producer_event_is_validated_once_and_each_consumer_gets_it_once_as_valid() -> None:
    visited, reached = _route((APP, "AppBus"), _event("image-pipeline"))
    where = [(bus[1], e["source"]) for bus, e in visited]
    assert where == [
        ("AppBus", "image-pipeline"),
        ("CentralBus", "image-pipeline"),
        ("CentralBus", "valid.image-pipeline"),
        ("AggregatesBus", "valid.image-pipeline"),
        ("HistoryBus", "valid.image-pipeline"),
    ]
    assert sorted(reached) == ["ArchiveRule", "CountRule", "PipelineEventsRule", "ValidateRule"]


def test_a_republished_event_is_never_forwarded_again_nor_revalidated() -> None:
    for start in BUSES:
        visited, reached = _route(start, _event("valid.image-pipeline"))
        assert "ValidateRule" not in reached
        assert (APP, "AppBus") not in [bus for bus, _ in visited[1:]]
        assert [bus for bus, _ in visited].count((HUB, "CentralBus")) <= 1
    # and no rule that forwards to the central bus matches a valid.* event at all
    for name, _, pattern, targets in _rules():
        if any(_target_bus(t) == (HUB, "CentralBus") for t in targets):
            assert not _matches(pattern, _event("valid.image-pipeline")), name


def test_an_invalid_event_reaches_no_consumer() -> None:
    broken = _event("image-pipeline")
    broken["detail"]["data"] = {}
    visited, reached = _route((APP, "AppBus"), broken)
    assert [bus[1] for bus, _ in visited] == ["AppBus", "CentralBus"]
    assert "CountRule" not in reached
    assert "ArchiveRule" not in reached


# ---------------------------------------------------------------- policies and roles
def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy["PolicyDocument"]["Statement"]
    return statements if isinstance(statements, list) else [statements]


def test_the_forwarding_role_may_only_put_events_on_the_central_bus() -> None:
    role = template.resources("AWS::IAM::Role")["ForwardToHubRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Policies"]
    assert _statements(policy) == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Ref": "CentralBusArn"}}
    ]
    rule = template.resources("AWS::Events::Rule")["ForwardToHubRule"]["Properties"]
    (target,) = rule["Targets"]
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardToHubRole", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventTargetDLQ", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_the_central_bus_admits_only_the_listed_accounts_or_the_organisation_for_the_producer_sources() -> None:
    policies = template.resources("AWS::Events::EventBusPolicy", HUB)
    conditions = template.load(HUB)["Conditions"]
    assert set(policies) == {"ProducerAccountsPolicy", "OrganizationPolicy"}
    for name, policy in policies.items():
        properties = policy["Properties"]
        statement = properties["Statement"]
        # only on AWS (the local engine rejects bus policies) and only when the parameter is given
        assert {"Condition": "OnAws"} in conditions[policy["Condition"]]["Fn::And"], name
        assert statement["Action"] == "events:PutEvents"
        assert statement["Resource"] == {"Fn::GetAtt": ["CentralBus", "Arn"]}
        assert statement["Condition"]["StringEquals"]["events:source"] == {"Ref": "ProducerSources"}, name
        if statement["Principal"] == "*":  # never bare: the organisation's accounts only
            assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == {"Ref": "OrganizationId"}
        else:
            assert statement["Principal"] == {"AWS": {"Ref": "ProducerAccountIds"}}


@pytest.mark.parametrize(("path", "bus"), [(AGGREGATES, "AggregatesBus"), (HISTORY, "HistoryBus")])
def test_each_consumer_bus_admits_only_valid_events_from_the_hub_account(path: str, bus: str) -> None:
    (policy,) = template.resources("AWS::Events::EventBusPolicy", path).values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:root"}}
    assert statement["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}
    assert statement["Condition"] == {"StringLike": {"events:source": "valid.*"}}


def test_the_hub_may_republish_only_valid_events_and_deliver_only_to_the_consumer_buses() -> None:
    validator = template.function_properties("Validator", HUB)["Policies"][0]["Statement"]
    (put,) = [s for s in validator if s["Action"] == "events:PutEvents"]
    assert put["Resource"] == {"Fn::GetAtt": ["CentralBus", "Arn"]}
    assert put["Condition"] == {"StringLike": {"events:source": "valid.*"}}
    role = template.resources("AWS::IAM::Role", HUB)["DeliverToConsumersRole"]["Properties"]
    (statement,) = _statements(role["Policies"][0])
    assert statement["Action"] == "events:PutEvents"
    assert [r["Fn::If"][1] for r in statement["Resource"]] == [{"Ref": "AggregatesBusArn"}, {"Ref": "HistoryBusArn"}]
    for name in ("DeliverToAggregatesRule", "DeliverToHistoryRule"):
        (target,) = template.resources("AWS::Events::Rule", HUB)[name]["Properties"]["Targets"]
        assert target["RoleArn"] == {"Fn::GetAtt": ["DeliverToConsumersRole", "Arn"]}


# ---------------------------------------------------------------- through moto, four accounts
PRODUCER, HUB_ACCOUNT, AGGREGATES_ACCOUNT, HISTORY_ACCOUNT = (
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
)


@pytest.fixture
def accounts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():

        def use(account: str) -> None:
            monkeypatch.setenv("MOTO_ACCOUNT_ID", account)

        yield use


def _capture(rule: str, bus: str, pattern: dict[str, Any], targets: list[dict[str, Any]] | None = None) -> str:
    """The rule as the template defines it; its target a queue of this account unless given."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue = sqs.create_queue(QueueName=f"{rule}-seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=cast("Any", targets or [{"Id": "seen", "Arn": arn}]))
    return queue


def _received(queue: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def _pattern(path: str, rule: str) -> dict[str, Any]:
    return dict(_resolve(template.resources("AWS::Events::Rule", path)[rule]["Properties"]["EventPattern"], path))


def test_an_event_crosses_four_accounts_producer_hub_and_both_consumers(accounts: Any) -> None:
    role = "arn:aws:iam::{}:role/{}"
    # consumers: each its bus and its rule (to a queue standing in for Aggregator / Firehose)
    consumer_buses, consumer_queues = {}, {}
    for account, path, bus, rule in (
        (AGGREGATES_ACCOUNT, AGGREGATES, "AggregatesBus", "CountRule"),
        (HISTORY_ACCOUNT, HISTORY, "HistoryBus", "ArchiveRule"),
    ):
        accounts(account)
        consumer_buses[bus] = boto3.client("events").create_event_bus(Name=bus)["EventBusArn"]
        consumer_queues[bus] = _capture(rule, bus, _pattern(path, rule))
    # the hub: central bus, ValidateRule to its inbox, delivery rules to the consumers' buses
    accounts(HUB_ACCOUNT)
    central = boto3.client("events").create_event_bus(Name="CentralBus")["EventBusArn"]
    inbox = _capture("ValidateRule", "CentralBus", _pattern(HUB, "ValidateRule"))
    for rule, bus in (("DeliverToAggregatesRule", "AggregatesBus"), ("DeliverToHistoryRule", "HistoryBus")):
        target = {"Id": bus, "Arn": consumer_buses[bus], "RoleArn": role.format(HUB_ACCOUNT, "DeliverToConsumersRole")}
        _capture(rule, "CentralBus", _pattern(HUB, rule), [target])
    # the producer: its app bus and the forwarding rule to the hub's bus
    accounts(PRODUCER)
    events = boto3.client("events")
    events.create_event_bus(Name="AppBus")
    forward = {"Id": "central-bus", "Arn": central, "RoleArn": role.format(PRODUCER, "ForwardToHubRole")}
    _capture("ForwardToHubRule", "AppBus", _pattern(APP, "ForwardToHubRule"), [forward])
    produced = load_event("app-thumbnail-created.json")
    events.put_events(
        Entries=[
            {
                "EventBusName": "AppBus",
                "Source": produced["source"],
                "DetailType": produced["detail-type"],
                "Detail": json.dumps(produced["detail"]),
            }
        ]
    )

    # Then the hub's inbox has it, from the producer's rule, and the hub validates and republishes it
    accounts(HUB_ACCOUNT)
    (arrived,) = _received(inbox)
    assert arrived["source"] == "image-pipeline"
    boto3.client("dynamodb").create_table(
        TableName="republished",
        KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    quarantine = boto3.client("sqs").create_queue(QueueName="quarantine")["QueueUrl"]
    outcome = validate_and_republish(
        [parse_message(json.dumps(arrived))],
        producer_sources=frozenset({"image-pipeline"}),
        republisher=EventBridgeRepublisher("CentralBus"),
        quarantine=SqsQuarantine(quarantine),
        republished=DynamoRepublishLog("republished"),
    )
    assert len(outcome.republished) == 1
    assert _received(inbox) == []  # the republished event is not validated again
    # and each consumer account receives it once, as valid.image-pipeline, with its envelope intact
    for account, bus in ((AGGREGATES_ACCOUNT, "AggregatesBus"), (HISTORY_ACCOUNT, "HistoryBus")):
        accounts(account)
        (delivered,) = _received(consumer_queues[bus])
        assert delivered["source"] == "valid.image-pipeline"
        assert delivered["detail"] == produced["detail"]
