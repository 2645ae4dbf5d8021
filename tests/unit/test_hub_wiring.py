"""The multi-account wiring of the four templates: the loop guard (with EventBridge pattern
semantics, moto's pattern engine), the policies and roles that connect the accounts, and the whole
route through moto with a distinct account for the producer, the hub and each consumer.

The graph is read off the templates as CloudFormation creates them (tests/template.py Deployed):
the app forwards to the hub's bus, each consumer subscribes there with a rule of its own, and the
hub names no consumer. The local engine can neither deliver across accounts nor enforce bus
policies; this is where they are checked.
"""

import json
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from image_pipeline.aws.hub import DynamoRepublishLog, EventBridgeRepublisher, SqsQuarantine
from image_pipeline.hub.validation import Producers, Republish, parse_message, triage, validate_and_republish
from tests import template
from tests.conftest import load_event
from tests.template import ROOT, Deployed, referenced

APP, HUB, CONSUMERS = template.APP, template.HUB, template.CONSUMERS
CENTRAL = "arn:aws:events:us-east-1:123456789012:event-bus/hub-central"
PRODUCERS = Producers.parse("image-pipeline", "", home="123456789012")  # the sample events' account
Bus = tuple[str, str]


@pytest.fixture(scope="module")
def deployed() -> dict[str, Deployed]:
    """The one-account deployment `make deploy-local` makes, as CloudFormation would create it."""
    return {
        APP: Deployed.of(APP, CentralBusArn=CENTRAL),
        HUB: Deployed.of(HUB),
        **{path: Deployed.of(path, HubBusArn=CENTRAL) for path in CONSUMERS},
    }


def _bus(path: str, node: Any) -> Bus | None:
    """The bus a rule is on or a target names: one of the template's own, or the hub's by ARN."""
    if node == CENTRAL:
        return (HUB, "CentralBus")
    name = referenced(node)
    return (path, name) if name else None


def _target_bus(deployed: dict[str, Deployed], path: str, arn: Any) -> Bus | None:
    bus = _bus(path, arn)
    if bus is None or bus[1] not in deployed[bus[0]].of_type("AWS::Events::EventBus"):
        return None  # a function, a queue, a stream
    return bus


def _rules(deployed: dict[str, Deployed]) -> list[tuple[str, Bus, dict[str, Any], list[Bus | None]]]:
    """(rule, the bus it is on, its pattern, the bus each target names) across the four templates."""
    found = []
    for path, stack in deployed.items():
        for name, rule in stack.of_type("AWS::Events::Rule").items():
            properties = rule["Properties"]
            if "EventPattern" not in properties or "EventBusName" not in properties:
                continue  # the default bus (S3 uploads) and schedules
            bus = _bus(path, properties["EventBusName"])
            assert bus is not None, name
            targets = [_target_bus(deployed, path, t["Arn"]) for t in properties["Targets"]]
            found.append((f"{path}:{name}", bus, properties["EventPattern"], targets))
    return found


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(cast("Any", event)))


def _event(source: str, detail_type: str = "ThumbnailCreated") -> dict[str, Any]:
    event = load_event("app-thumbnail-created.json")
    return {**event, "source": source, "detail-type": detail_type}


def _route(
    deployed: dict[str, Deployed], start: Bus, event: dict[str, Any]
) -> tuple[list[tuple[Bus, dict[str, Any]]], list[str]]:
    """Follow an event through every matching rule; the hub's validator republishes what it accepts.
    Returns every (bus, event) visited and every rule that reached something other than a bus."""
    visited: list[tuple[Bus, dict[str, Any]]] = []
    reached: list[str] = []
    queue = deque([(start, event)])
    while queue:
        bus, current = queue.popleft()
        visited.append((bus, current))
        assert len(visited) < 20, f"the event loops: {[(b[1], e['source']) for b, e in visited]}"
        for name, rule_bus, pattern, targets in _rules(deployed):
            if rule_bus != bus or not _matches(pattern, current):
                continue
            next_buses = [b for b in targets if b is not None]
            queue.extend((next_bus, current) for next_bus in next_buses)
            if next_buses:
                continue
            reached.append(name.split(":")[-1])
            if name == f"{HUB}:ValidateRule":  # Validator, through HubInbox: its real decision
                verdict = triage(current, PRODUCERS)
                if isinstance(verdict, Republish):
                    queue.append((bus, {**current, "source": verdict.source, "detail": verdict.detail}))
    return visited, reached


# ---------------------------------------------------------------- the loop guard
def test_the_hub_names_no_consumer_and_each_consumer_subscribes_on_the_hubs_bus(deployed: dict[str, Deployed]) -> None:
    hub_text = (ROOT / HUB).read_text()
    for path in CONSUMERS:
        name = Path(path).parent.name
        assert name not in hub_text.lower(), f"hub/template.yaml names the {name} consumer"
        subscriptions = [
            rule for rule, bus, _, _ in _rules(deployed) if rule.startswith(path) and bus == (HUB, "CentralBus")
        ]
        assert len(subscriptions) == 1, f"{path} must own exactly one subscription on the hub's bus"


def test_a_producer_event_is_validated_once_and_each_consumer_gets_it_once_as_valid(
    deployed: dict[str, Deployed],
) -> None:
    produced = _event("image-pipeline")
    visited, reached = _route(deployed, (APP, "AppBus"), produced)
    where = [(bus[1], e["source"]) for bus, e in visited]
    assert where[:3] == [
        ("AppBus", "image-pipeline"),
        ("CentralBus", "image-pipeline"),
        ("CentralBus", "valid.image-pipeline"),
    ]
    assert reached.count("ValidateRule") == 1
    assert reached.count("TrackerFunctionPipelineEvents") == 1
    # every consumer whose subscription takes the event gets it once, as valid.*, and no other
    republished = {**produced, "source": "valid.image-pipeline"}
    for path in CONSUMERS:
        subscribed, _, _ = _subscription(path)
        arrivals = [e for bus, e in visited if bus[0] == path]
        assert len(arrivals) == int(_matches(subscribed, republished)), path
        assert all(e["source"] == "valid.image-pipeline" for e in arrivals)
    assert any(_matches(_subscription(path)[0], republished) for path in CONSUMERS)


def test_a_republished_event_is_never_forwarded_again_nor_revalidated(deployed: dict[str, Deployed]) -> None:
    buses = {bus for _, bus, _, _ in _rules(deployed)}
    for start in buses:
        visited, reached = _route(deployed, start, _event("valid.image-pipeline"))
        assert "ValidateRule" not in reached
        assert (APP, "AppBus") not in [bus for bus, _ in visited[1:]]
        assert [bus for bus, _ in visited].count((HUB, "CentralBus")) <= 1
    for name, _, pattern, targets in _rules(deployed):
        if (HUB, "CentralBus") in targets:
            assert not _matches(pattern, _event("valid.image-pipeline")), name


def test_an_invalid_or_spoofed_event_reaches_no_consumer(deployed: dict[str, Deployed]) -> None:
    broken = _event("image-pipeline")
    broken["detail"]["data"] = {}
    spoofed = {**_event("image-pipeline"), "account": "999999999999"}
    for event in (broken, spoofed):
        visited, _ = _route(deployed, (APP, "AppBus"), event)
        assert [bus[1] for bus, _ in visited] == ["AppBus", "CentralBus"]


def test_the_republished_event_names_the_producers_account(deployed: dict[str, Deployed]) -> None:
    visited, _ = _route(deployed, (APP, "AppBus"), _event("image-pipeline"))
    delivered = [e for bus, e in visited if bus[0] in CONSUMERS]
    assert delivered
    assert all(e["detail"]["metadata"]["producerAccount"] == "123456789012" for e in delivered)


# ---------------------------------------------------------------- policies and roles
def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy["PolicyDocument"]["Statement"]
    return statements if isinstance(statements, list) else [statements]


def test_the_forwarding_role_may_only_put_events_on_the_central_bus() -> None:
    app = Deployed.of(APP, CentralBusArn=CENTRAL)
    role = app.properties("ForwardToHubRole")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": template.ACCOUNT}}
    (policy,) = role["Policies"]
    assert _statements(policy) == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": CENTRAL}]


PRODUCER_ACCOUNTS = "image-pipeline=111111111111,partner-feed=555555555555"


def test_each_producer_account_may_put_only_its_own_sources_on_the_central_bus() -> None:
    hub = Deployed.of(HUB, ProducerSources="image-pipeline,partner-feed", ProducerAccounts=PRODUCER_ACCOUNTS)
    granted = {}
    for policy in hub.of_type("AWS::Events::EventBusPolicy").values():
        statement = policy["Properties"]["Statement"]
        if statement["Action"] != "events:PutEvents":
            continue
        assert statement["Resource"] == {"Fn::GetAtt": ["CentralBus", "Arn"]}
        granted[statement["Principal"]["AWS"]] = statement["Condition"]["StringEquals"]["events:source"]
    assert granted == {"111111111111": "image-pipeline", "555555555555": "partner-feed"}
    # and the validator reads the same map: a source from another listed account is refused
    producers = Producers.parse("image-pipeline,partner-feed", PRODUCER_ACCOUNTS, home="222222222222")
    assert isinstance(triage({**_event("image-pipeline"), "account": "111111111111"}, producers), Republish)
    spoofed = triage({**_event("image-pipeline"), "account": "555555555555"}, producers)
    assert not isinstance(spoofed, Republish)
    assert spoofed.reason == "foreign_account"


def test_no_bus_policy_is_made_locally_or_in_one_account() -> None:
    for hub in (Deployed.of(HUB), Deployed.of(HUB, LocalEmulator="true", ProducerAccounts=PRODUCER_ACCOUNTS)):
        assert hub.of_type("AWS::Events::EventBusPolicy") == {}


def test_consumer_accounts_may_manage_only_the_rules_they_created_on_the_central_bus() -> None:
    hub = Deployed.of(HUB, ConsumerAccountIds="333333333333,444444444444")
    (policy,) = hub.of_type("AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == {"AWS": ["333333333333", "444444444444"]}
    assert "events:PutEvents" not in statement["Action"]
    assert {"events:PutRule", "events:PutTargets", "events:DeleteRule"} <= set(statement["Action"])
    assert statement["Condition"] == {"StringEqualsIfExists": {"events:creatorAccount": "${aws:PrincipalAccount}"}}


@pytest.mark.parametrize("path", CONSUMERS)
def test_a_consumer_in_another_account_admits_only_valid_events_from_the_hubs_account(path: str) -> None:
    elsewhere = "arn:aws:events:us-east-1:222222222222:event-bus/hub-central"
    consumer = Deployed.of(path, HubBusArn=elsewhere)
    (policy,) = consumer.of_type("AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == {"AWS": "222222222222"}
    assert statement["Condition"] == {"StringLike": {"events:source": "valid.*"}}
    role = consumer.properties("SubscriptionRole")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "222222222222"}}
    local = Deployed.of(path, HubBusArn=CENTRAL, LocalEmulator="true")
    assert local.of_type("AWS::Events::EventBusPolicy") == {}  # the engine has none


def test_the_hub_may_republish_only_valid_events_on_its_own_bus() -> None:
    validator = Deployed.of(HUB).properties("ValidatorRole")
    (statement,) = [s for p in validator["Policies"] for s in _statements(p) if s["Action"] == "events:PutEvents"]
    assert statement["Resource"] == {"Fn::GetAtt": ["CentralBus", "Arn"]}
    assert statement["Condition"] == {"StringLike": {"events:source": "valid.*"}}


# ---------------------------------------------------------------- through moto, four accounts
PRODUCER, HUB_ACCOUNT, FIRST_CONSUMER = "111111111111", "222222222222", 333333333333


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


def _subscription(path: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A consumer's subscription pattern, its bus, and its own rule on that bus (the first)."""
    consumer = Deployed.of(path, HubBusArn=CENTRAL)
    rules = consumer.of_type("AWS::Events::Rule")
    subscription = next(r["Properties"] for r in rules.values() if r["Properties"]["EventBusName"] == CENTRAL)
    (target,) = subscription["Targets"]
    bus = str(referenced(target["Arn"]))
    own = next(r["Properties"] for r in rules.values() if r["Properties"]["EventBusName"] == {"Ref": bus})
    return subscription["EventPattern"], bus, own["EventPattern"]


def test_an_event_crosses_the_accounts_producer_hub_and_every_consumer(accounts: Any) -> None:
    role = "arn:aws:iam::{}:role/{}"
    hub = Deployed.of(HUB)
    app = Deployed.of(APP, CentralBusArn=CENTRAL)
    # consumers: each its bus and its own rule on it (to a queue standing in for its function)
    consumer_buses, consumer_queues, subscriptions = {}, {}, {}
    for offset, path in enumerate(CONSUMERS):
        account = str(FIRST_CONSUMER + offset * 111111111111)
        accounts(account)
        subscribed, bus, own = _subscription(path)
        consumer_buses[path] = boto3.client("events").create_event_bus(Name=bus)["EventBusArn"]
        consumer_queues[path] = (account, _capture(f"{bus}-rule", bus, own))
        subscriptions[path] = (account, subscribed)
    # the hub: central bus, ValidateRule to its inbox, and the subscriptions the consumers made there
    accounts(HUB_ACCOUNT)
    central = boto3.client("events").create_event_bus(Name="CentralBus")["EventBusArn"]
    inbox = _capture("ValidateRule", "CentralBus", hub.properties("ValidateRule")["EventPattern"])
    for path, (account, pattern) in subscriptions.items():
        target = {
            "Id": "consumer-bus",
            "Arn": consumer_buses[path],
            "RoleArn": role.format(account, "SubscriptionRole"),
        }
        _capture(f"subscription-{account}", "CentralBus", pattern, [target])
    # the producer: its app bus and the forwarding rule to the hub's bus
    accounts(PRODUCER)
    events = boto3.client("events")
    events.create_event_bus(Name="AppBus")
    forward = {"Id": "central-bus", "Arn": central, "RoleArn": role.format(PRODUCER, "ForwardToHubRole")}
    _capture("ForwardToHubRule", "AppBus", app.properties("ForwardToHubRule")["EventPattern"], [forward])
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

    # Then the hub's inbox has it, from the producer's account, and the hub validates and republishes it
    accounts(HUB_ACCOUNT)
    (arrived,) = _received(inbox)
    assert arrived["source"] == "image-pipeline"
    # moto drops `account` from an event it forwards from bus to bus; EventBridge keeps the sender's
    arrived.setdefault("account", PRODUCER)
    boto3.client("dynamodb").create_table(
        TableName="republished",
        KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    quarantine = boto3.client("sqs").create_queue(QueueName="quarantine")["QueueUrl"]
    outcome = validate_and_republish(
        [parse_message(json.dumps(arrived))],
        producers=Producers.parse("image-pipeline", f"image-pipeline={PRODUCER}", home=HUB_ACCOUNT),
        republisher=EventBridgeRepublisher("CentralBus"),
        quarantine=SqsQuarantine(quarantine),
        republished=DynamoRepublishLog("republished", remember_for=timedelta(days=31)),
    )
    assert len(outcome.republished) == 1
    assert _received(inbox) == []  # the republished event is not validated again
    # and each consumer account that subscribed to it receives it once, as valid.*, naming its producer
    republished = {**arrived, "source": "valid.image-pipeline"}
    for path, (account, queue) in consumer_queues.items():
        accounts(account)
        delivered = _received(queue)
        assert len(delivered) == int(_matches(subscriptions[path][1], republished)), path
        for event in delivered:
            assert event["source"] == "valid.image-pipeline"
            assert event["detail"]["data"] == produced["detail"]["data"]
            assert event["detail"]["metadata"]["producerAccount"] == PRODUCER
