"""Guarantees every template keeps, checked on what CloudFormation would create: the four templates
expanded by AWS::LanguageExtensions and the SAM transform (tests/expand_template.py), with their
conditions decided for each way they are deployed (on AWS alone, on AWS wired to other accounts,
on the local engine). These tests name no resource: a new queue, rule, function, bucket or table
is held to the same rules the day it is added.

The local engine and moto ignore IAM and queue policies, so a dead-letter queue whose policy does
not admit its rule would work in every local test and lose events on AWS: this is where that fails.
"""

import fnmatch
from collections.abc import Iterator
from typing import Any

import pytest

from image_pipeline import catalogue
from tests.template import ACCOUNT, APP, CONSUMERS, HUB, PUSH, REPROCESS, REPROCESS_WIRING, ROOT, Deployed, referenced

HUB_HERE = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/hub-central"
HUB_ELSEWHERE = "arn:aws:events:us-east-1:222222222222:event-bus/hub-central"
# What the push stack is given: the app stack's name and outputs.
APP_OUTPUTS = {
    "AppStackName": "image-pipeline",
    "AppBusName": "image-pipeline-app",
    "ImagesTableName": "image-pipeline-ImagesTable-1A2B3C",
    "ImagesBucketName": "image-pipeline-imagesbucket-1a2b3c",
    "WatchTokenSecretArn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:WatchTokenSecret-AbCdEf",
    "AlarmTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:image-pipeline-AlarmTopic-1A2B3C",
}
# Every way each template is deployed: alone on AWS, wired to other accounts, on the local engine.
SCENARIOS: dict[str, list[dict[str, str]]] = {
    APP: [
        {},
        {"CentralBusArn": HUB_ELSEWHERE, "AlarmEmail": "ops@example.com"},
        {"LocalEmulator": "true", "CentralBusArn": HUB_HERE},
    ],
    PUSH: [APP_OUTPUTS, {**APP_OUTPUTS, "LocalEmulator": "true", "AllowLoopbackCallbacks": "true"}],
    HUB: [
        {},
        {"ProducerAccounts": "image-pipeline=111111111111", "ConsumerAccountIds": "333333333333,444444444444"},
        {"LocalEmulator": "true"},
    ],
    **{
        consumer: [
            {"HubBusArn": HUB_HERE},
            {"HubBusArn": HUB_ELSEWHERE},
            {"HubBusArn": HUB_HERE, "LocalEmulator": "true"},
        ]
        for consumer in CONSUMERS
    },
}
# make reprocess's stack: on AWS listing the bucket in batches, reading an inventory one item at a
# time, and on the local engine.
SCENARIOS[REPROCESS] = [
    REPROCESS_WIRING,
    {**REPROCESS_WIRING, "InventoryBucket": "inventory-bucket", "ItemsPerBatch": "1"},
    {**REPROCESS_WIRING, "LocalEmulator": "true"},
]
# A consumer's own optional parameters, when it has them.
SCENARIOS["consumers/aggregates/template.yaml"][1]["DashboardKeyExpiresAt"] = "1893456000"
DEPLOYMENTS = [Deployed.of(path, **parameters) for path, sets in SCENARIOS.items() for parameters in sets]
# Tables that hold no user data: markers that make work happen once, and expire by themselves.
EPHEMERAL_TABLES = {
    "IdempotencyTable": "Powertools idempotency records of the image jobs, expired after 24 h",
    "RepublishedTable": "event ids the hub already republished, expired after the replay window",
    "WatchConnectionsTable": "who watches which image over the WebSocket API, expired after 2 h",
    "WebhookDeliveriesTable": "which webhook attempt is claimed, expired two days after its delivery ends",
}


def _name(deployed: Deployed) -> str:
    settings = ",".join(f"{k}={v[:24]}" for k, v in deployed.parameters) or "defaults"
    return f"{deployed.path}[{settings}]"


deployments = pytest.mark.parametrize("deployed", DEPLOYMENTS, ids=_name)


# ---------------------------------------------------------------- reading policies
def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _same(node: Any, wanted: Any) -> bool:
    """A template value equals the wanted one, or is a pattern (ArnLike, "*") that covers it."""
    if node == wanted:
        return True
    return isinstance(node, str) and isinstance(wanted, str) and fnmatch.fnmatchcase(wanted, node)


def _covers(actions: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _listed(actions))


def _conditions_hold(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether a request with ``context`` (condition key -> value) satisfies ``condition``. A key
    the request does not carry fails the condition, so an unknown one never admits."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            if key not in context:
                if operator.endswith("IfExists"):
                    continue
                return False
            actual = context[key]
            if operator.startswith(("ArnEquals", "ArnLike", "StringEquals", "StringLike")):
                if not any(_same(option, actual) for option in _listed(expected)):
                    return False
            elif operator == "Bool":
                if str(expected).lower() != str(actual).lower():
                    return False
            else:
                return False
    return True


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_listed(document.get("Statement", [])))


def _queue_policy(deployed: Deployed, queue: str) -> list[dict[str, Any]]:
    statements = []
    for policy in deployed.of_type("AWS::SQS::QueuePolicy").values():
        if {"Ref": queue} in policy["Properties"]["Queues"]:
            statements += _statements(policy["Properties"]["PolicyDocument"])
    return statements


def _admits_rule(deployed: Deployed, queue: str, rule: str) -> bool:
    """The queue's policy lets EventBridge send to it on behalf of this rule."""
    context = {"aws:SourceArn": _arn(rule), "aws:SourceAccount": ACCOUNT}
    return any(
        s.get("Effect") == "Allow"
        and "events.amazonaws.com" in _listed(s.get("Principal", {}).get("Service", []))
        and _covers(s.get("Action"), "sqs:SendMessage")
        and any(_same(r, _arn(queue)) for r in _listed(s.get("Resource")))
        and _conditions_hold(s.get("Condition", {}), context)
        for s in _queue_policy(deployed, queue)
    )


def _rule_targets(deployed: Deployed) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, rule in deployed.of_type("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            yield name, target


def _queues(deployed: Deployed) -> set[str]:
    return set(deployed.of_type("AWS::SQS::Queue"))


def _dead_letter_queues(deployed: Deployed) -> dict[str, str]:
    """Every dead-letter queue of the template, with what it catches."""
    found: dict[str, str] = {}
    for rule, target in _rule_targets(deployed):
        if queue := referenced(target.get("DeadLetterConfig", {}).get("Arn")):
            found[queue] = f"rule {rule}"
    for name, definition in deployed.of_type("AWS::SQS::Queue").items():
        if dlq := referenced(definition["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")):
            found[dlq] = f"redrive of {name}"
    for config in deployed.of_type("AWS::Lambda::EventInvokeConfig").values():
        destination = config["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if (queue := referenced(destination)) in _queues(deployed):
            found[queue] = f"on-failure destination of {referenced(config['Properties']['FunctionName'])}"
    return found


def _role_statements(deployed: Deployed, role: str) -> list[dict[str, Any]]:
    statements = []
    for policy in deployed.properties(role).get("Policies", []):
        statements += _statements(policy["PolicyDocument"])
    for policy in deployed.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += _statements(policy["Properties"]["PolicyDocument"])
    return statements


def _function_role(deployed: Deployed, function: str) -> str:
    role = referenced(deployed.properties(function)["Role"])
    assert role is not None, f"{function}: its role is not in its template"
    return role


# ---------------------------------------------------------------- the guarantees
@deployments
def test_every_rule_target_retries_and_dead_letters_to_a_queue_whose_policy_admits_the_rule(
    deployed: Deployed,
) -> None:
    targets = list(_rule_targets(deployed))
    assert targets or deployed.path == REPROCESS  # make reprocess's stack is started by hand, by no rule
    for rule, target in targets:
        assert "RetryPolicy" in target, f"{rule}: no retry policy"
        dlq = referenced(target.get("DeadLetterConfig", {}).get("Arn"))
        assert dlq in _queues(deployed), f"{rule}: its dead-letter queue is not in its own template"
        assert _admits_rule(deployed, dlq, rule), f"{rule}: {dlq}'s policy does not admit it (lost on AWS)"
        if (fed := referenced(target["Arn"])) in _queues(deployed):  # a queue as the target itself
            assert _admits_rule(deployed, fed, rule), f"{rule}: {fed}'s policy does not admit it"


@deployments
def test_every_dead_letter_queue_is_alarmed_on_its_first_message(deployed: Deployed) -> None:
    alarms = deployed.of_type("AWS::CloudWatch::Alarm").values()
    for queue, catches in _dead_letter_queues(deployed).items():
        watching = [
            a["Properties"]
            for a in alarms
            if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and a["Properties"].get("Namespace") == "AWS/SQS"
            and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}} in a["Properties"]["Dimensions"]
        ]
        assert watching, f"{queue} ({catches}) has no alarm"
        for alarm in watching:
            assert _breaches(alarm, 1), f"{queue}: the alarm misses the first parked message"
            assert not _breaches(alarm, 0), f"{queue}: the alarm fires on an empty queue"
            assert alarm["AlarmActions"], f"{queue}: the alarm tells nobody"


def _breaches(alarm: dict[str, Any], value: float) -> bool:
    threshold, operator = float(alarm["Threshold"]), alarm["ComparisonOperator"]
    return {
        "GreaterThanThreshold": value > threshold,
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }[operator]


@deployments
def test_every_asynchronously_invoked_function_parks_failures_where_its_role_may_send(deployed: Deployed) -> None:
    functions = set(deployed.of_type("AWS::Lambda::Function"))
    invoked = {f for _, t in _rule_targets(deployed) if (f := referenced(t["Arn"])) in functions}
    configs = {
        referenced(c["Properties"]["FunctionName"]): c["Properties"]
        for c in deployed.of_type("AWS::Lambda::EventInvokeConfig").values()
    }
    for target in invoked:
        assert target in configs, f"{target} is invoked by a rule but has no on-failure destination"
    for function, config in configs.items():
        assert function is not None
        destination = referenced(config["DestinationConfig"]["OnFailure"]["Destination"])
        assert destination in _queues(deployed), (
            f"{function}: its on-failure destination is not a queue of its template"
        )
        queue = str(destination)
        statements = _role_statements(deployed, _function_role(deployed, function))
        assert any(
            s["Effect"] == "Allow" and _covers(s["Action"], "sqs:SendMessage") and _arn(queue) in _listed(s["Resource"])
            for s in statements
        ), f"{function}'s role may not send to {queue}: failed invocations would be lost"


@deployments
def test_every_queue_feeding_a_function_outlasts_six_timeouts_reports_items_and_redrives(deployed: Deployed) -> None:
    for mapping in deployed.of_type("AWS::Lambda::EventSourceMapping").values():
        source = mapping["Properties"]
        queue = referenced(source["EventSourceArn"])
        if queue not in _queues(deployed):
            continue
        function = deployed.properties(str(referenced(source["FunctionName"])))
        visibility = int(deployed.properties(queue).get("VisibilityTimeout", 30))
        # AWS: at least six times the function's timeout, plus the batching window
        needed = 6 * int(function["Timeout"]) + int(source.get("MaximumBatchingWindowInSeconds", 0))
        assert visibility >= needed, f"{queue}: visibility {visibility} s < {needed} s"
        assert "ReportBatchItemFailures" in source.get("FunctionResponseTypes", []), (
            f"{queue}: a poison message fails its batch"
        )
        assert referenced(deployed.properties(queue).get("RedrivePolicy", {}).get("deadLetterTargetArn")), queue


@deployments
def test_every_bucket_and_every_table_of_user_data_outlives_its_stack(deployed: Deployed) -> None:
    for name, bucket in deployed.of_type("AWS::S3::Bucket").items():
        assert (bucket.get("DeletionPolicy"), bucket.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name
    for name, table in deployed.of_type("AWS::DynamoDB::Table").items():
        if name in EPHEMERAL_TABLES:
            continue
        assert (table.get("DeletionPolicy"), table.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name
        pitr = table["Properties"].get("PointInTimeRecoverySpecification", {})
        assert pitr.get("PointInTimeRecoveryEnabled") is True, f"{name}: no point-in-time recovery"


@deployments
def test_every_bucket_refuses_requests_without_tls_and_only_those(deployed: Deployed) -> None:
    policies = deployed.of_type("AWS::S3::BucketPolicy").values()
    for name in deployed.of_type("AWS::S3::Bucket"):
        statements = [
            s
            for p in policies
            if p["Properties"]["Bucket"] == {"Ref": name}
            for s in _statements(p["Properties"]["PolicyDocument"])
        ]
        for resource in (_arn(name), {"Fn::Sub": f"${{{name}.Arn}}/*"}):
            assert _denied(statements, resource, secure=False), f"{name}: {resource} is reachable without TLS"
            assert not _denied(statements, resource, secure=True), f"{name}: {resource} is refused over TLS"


def _denied(statements: list[dict[str, Any]], resource: Any, *, secure: bool) -> bool:
    context = {"aws:SecureTransport": "true" if secure else "false"}
    return any(
        s["Effect"] == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and _covers(s["Action"], "s3:GetObject")
        and resource in _listed(s["Resource"])
        and _conditions_hold(s.get("Condition", {}), context)
        for s in statements
    )


@deployments
def test_every_graphql_api_uses_iam_or_a_key_that_expires_when_the_stack_says(deployed: Deployed) -> None:
    for name, api in deployed.of_type("AWS::AppSync::GraphQLApi").items():
        assert api["Properties"]["AuthenticationType"] == "AWS_IAM", f"{name}: its default auth is a key"
    for name in deployed.of_type("AWS::AppSync::ApiKey"):
        expires = deployed.raw["Resources"][name]["Properties"].get("Expires")
        assert referenced(expires) in deployed.raw["Parameters"], f"{name}: AppSync would expire it in 7 days"
    if deployed.of_type("AWS::AppSync::ApiKey"):
        readme = (ROOT / "README.md").read_text()
        assert "DashboardKeyExpiresAt" in readme, "the README must say how the key is rotated"


def _app_bus(deployed: Deployed) -> Any:
    """The app's bus as each template that publishes on it names it: the app its own resource, the
    stacks beside it the bus named by the app's output AppBusName (in the app's account and region)."""
    if deployed.path == APP:
        return _arn("AppBus")
    return f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{deployed.values['AppBusName']}"


@deployments
def test_every_function_may_publish_exactly_the_event_types_the_catalogue_gives_it(deployed: Deployed) -> None:
    # (matched by logical id, in whichever template the function is)
    for function in deployed.of_type("AWS::Lambda::Function"):
        statements = [
            s
            for s in _role_statements(deployed, _function_role(deployed, function))
            if s["Effect"] == "Allow" and _covers(s["Action"], "events:PutEvents")
        ]
        if deployed.path == HUB:  # the hub republishes only under valid.*, on its own bus
            for statement in statements:
                assert statement["Condition"]["StringLike"]["events:source"] == "valid.*", function
            continue
        owned = {
            t.value
            for p in catalogue.PRODUCERS
            if p.function == function and p.template == deployed.path and p.on_bus
            for t in p.publishes
        }
        allowed: set[str] = set()
        for statement in statements:
            assert statement["Resource"] == _app_bus(deployed), f"{function} may publish beyond the app bus"
            condition = statement.get("Condition", {}).get("StringEquals", {})
            assert condition.get("events:source") == catalogue.SOURCE, f"{function} may publish any source"
            assert "events:detail-type" in condition, f"{function} may publish any event type"
            allowed |= set(_listed(condition["events:detail-type"]))
        assert allowed == owned, f"{function} may publish {sorted(allowed)}; the catalogue gives it {sorted(owned)}"


def _images_bucket(deployed: Deployed) -> Any:
    """The images bucket as the template names it: the app's own, or the one a stack beside the
    app is given (the app's output ImagesBucketName); None where the template has no access to it."""
    if deployed.path == APP:
        return _arn("ImagesBucket")
    name = deployed.values.get("ImagesBucketName")
    return f"arn:aws:s3:::{name}" if name else None


@deployments
def test_no_role_may_list_the_images_bucket_beyond_the_uploads(deployed: Deployed) -> None:
    # A listing of outputs/ would name every image's renditions and edits: whoever lists the bucket
    # (a processor telling a vanished upload from a forbidden one, make reprocess) sees uploads/ only.
    bucket = _images_bucket(deployed)
    listers = 0
    for role in deployed.of_type("AWS::IAM::Role"):
        for statement in _role_statements(deployed, role):
            if statement["Effect"] != "Allow" or not _covers(statement["Action"], "s3:ListBucket"):
                continue
            if not any(_same(resource, bucket) for resource in _listed(statement["Resource"])):
                continue
            listers += 1
            condition = statement.get("Condition", {})
            assert _conditions_hold(condition, {"s3:prefix": "uploads/3f9a"}), role
            for elsewhere in ("outputs/3f9a", "", "uploads", "edits/"):
                assert not _conditions_hold(condition, {"s3:prefix": elsewhere}), f"{role} may list {elsewhere!r}"
            assert not _conditions_hold(condition, {}), f"{role} may list the bucket without a prefix"
    if deployed.path in (APP, REPROCESS):  # the processors, and make reprocess, list uploads
        assert listers, "the test found no role that lists the images bucket"
