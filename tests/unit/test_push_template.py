"""The push resources of template.yaml, by what they mean: which events reach the notifier and
the webhook queue, loopback callbacks only on the local engine, the secrets generated and read
only by their functions, a WebSocket API that only admits and forgets watchers, and a retry queue
whose timings fit the sender's."""

import json
import re
import string
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from image_pipeline.notify.callbacks import CallbackPolicy
from image_pipeline.notify.delivery import WebhookConfig
from image_pipeline.notify.signing import MAX_SECRET_BYTES, MIN_SECRET_BYTES, WebhookSecret
from image_pipeline.notify.watch import MIN_KEY_BYTES, client_endpoint, management_endpoint
from tests import template
from tests.notify_samples import as_eventbridge, status_changed
from tests.template import ROOT

RESOURCES = template.load()["Resources"]


def _properties(logical_id: str) -> dict[str, Any]:
    return dict(RESOURCES[logical_id]["Properties"])


def _delivered(rule: str, events: list[dict[str, Any]], aws: SimpleNamespace) -> list[str]:
    """The event ids a rule passes, on moto's EventBridge (the rule's pattern, a queue as target)."""
    pattern = json.loads(
        json.dumps(_properties(rule)["EventPattern"]).replace(
            '{"Fn::FindInMap": ["Pipeline", "Events", "Source"]}', '"image-pipeline"'
        )
    )
    sqs, bridge = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName=f"observe-{rule}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bridge.put_rule(Name=rule, EventBusName=aws.AppBus, EventPattern=json.dumps(pattern))
    bridge.put_targets(Rule=rule, EventBusName=aws.AppBus, Targets=[{"Id": "q", "Arn": arn}])
    bridge.put_events(
        Entries=[
            {
                "EventBusName": aws.AppBus,
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
            }
            for e in events
        ]
    )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(json.loads(m["Body"])["detail"]["metadata"]["eventId"] for m in received)


def _changes() -> list[dict[str, Any]]:
    thumbnail = as_eventbridge(status_changed(9, "X", event_id="thumbnail"))
    thumbnail["detail-type"] = "ThumbnailCreated"
    foreign = as_eventbridge(status_changed(1, "COMPLETE", final=True, event_id="foreign"))
    foreign["source"] = "valid.image-pipeline"  # the hub's republish, never this app's own
    return [
        as_eventbridge(status_changed(1, "PROCESSING", event_id="processing")),
        as_eventbridge(status_changed(2, "COMPLETE", final=True, event_id="complete")),
        as_eventbridge(status_changed(1, "RUNNING", edit_id="e" * 32, upload_version=None, event_id="edit-running")),
        as_eventbridge(
            status_changed(2, "FAILED", final=True, edit_id="e" * 32, upload_version=None, event_id="edit-failed")
        ),
        thumbnail,
        foreign,
    ]


def test_every_status_change_reaches_the_notifier_and_only_final_ones_the_webhook_queue(aws: SimpleNamespace) -> None:
    assert _delivered("StatusChangesRule", _changes(), aws) == ["complete", "edit-failed", "edit-running", "processing"]
    assert _delivered("FinalStatusRule", _changes(), aws) == ["complete", "edit-failed"]
    assert _properties("StatusChangesRule")["Targets"][0]["Arn"] == {"Fn::GetAtt": ["NotifierFunction", "Arn"]}
    assert _properties("FinalStatusRule")["Targets"][0]["Arn"] == {"Fn::GetAtt": ["WebhookQueue", "Arn"]}


# ---------------------------------------------------------------- loopback receivers: the local engine only
@pytest.mark.parametrize(
    ("local_emulator", "allow", "allowed"),
    [("false", "true", False), ("false", "false", False), ("true", "true", True), ("true", "false", False)],
)
def test_loopback_callbacks_are_possible_only_on_the_local_engine_when_asked_for(
    local_emulator: str, allow: str, allowed: bool
) -> None:
    value = template.function_properties("WebhookSender")["Environment"]["Variables"]["ALLOW_LOOPBACK_CALLBACKS"]
    name, if_true, if_false = value["Fn::If"]
    on_aws = template.condition(name, parameters={"LocalEmulator": local_emulator})
    chosen = if_true if on_aws else if_false
    resolved = allow if chosen == {"Ref": "AllowLoopbackCallbacks"} else chosen
    assert (resolved == "true") is allowed
    assert template.load()["Parameters"]["AllowLoopbackCallbacks"]["Default"] == "false"


def test_local_deployments_turn_loopback_callbacks_on_so_a_test_receiver_can_get_them() -> None:
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")  # continuation lines joined
    local_params = re.search(r"^LOCAL_PARAMS :=(.*)$", makefile, re.MULTILINE)
    assert local_params is not None
    assert "AllowLoopbackCallbacks=true" in local_params.group(1)


# ---------------------------------------------------------------- secrets
def _generated_alphabet(secret: str) -> str:
    generated = _properties(secret)["GenerateSecretString"]
    excluded = set(generated.get("ExcludeCharacters", ""))
    if generated.get("ExcludePunctuation"):
        excluded |= set(string.punctuation)
    return "".join(c for c in string.ascii_letters + string.digits + string.punctuation if c not in excluded)


def test_the_webhook_secret_is_generated_as_a_key_the_signer_takes() -> None:
    generated = _properties("WebhookSecret")
    assert "SecretString" not in generated  # never a value in the template
    alphabet = _generated_alphabet("WebhookSecret")
    assert set(alphabet) <= set(string.ascii_letters + string.digits + "+/")  # base64, on AWS and locally
    length = generated["GenerateSecretString"]["PasswordLength"]
    key = WebhookSecret.parse((alphabet * length)[:length]).key
    assert MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES
    assert template.load()["Outputs"]["WebhookSecretArn"]["Value"] == {"Ref": "WebhookSecret"}


def test_the_watch_key_is_generated_long_enough_and_apart_from_the_webhook_secret() -> None:
    generated = _properties("WatchTokenSecret")["GenerateSecretString"]
    assert "SecretString" not in _properties("WatchTokenSecret")
    assert generated["PasswordLength"] >= MIN_KEY_BYTES


def _readers(secret: str) -> set[str]:
    readers = set()
    for logical_id in template.function_ids():
        for policy in template.function_properties(logical_id).get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if statement.get("Action") == "secretsmanager:GetSecretValue" and statement["Resource"] == {
                    "Ref": secret
                }:
                    readers.add(logical_id)
    return readers


def test_each_secret_is_read_only_by_the_functions_that_sign_or_check_with_it() -> None:
    assert _readers("WebhookSecret") == {"WebhookSender"}
    assert _readers("WatchTokenSecret") == {"WatchFunction"}  # and ApiFunction, once it hands out watch URLs


# ---------------------------------------------------------------- the WebSocket API
def test_the_watch_api_only_admits_and_forgets_watchers() -> None:
    assert _properties("WatchApi")["ProtocolType"] == "WEBSOCKET"
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"] for r in template.resources("AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == {"$connect", "$disconnect"}  # clients send nothing: no message route
    for route in routes.values():
        assert route["Target"] == {"Fn::Sub": "integrations/${WatchIntegration}"}
    integration = _properties("WatchIntegration")
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert "${WatchFunction.Arn}" in integration["IntegrationUri"]["Fn::Sub"]
    permission = _properties("WatchFunctionFromWatchApi")
    assert permission["FunctionName"] == {"Ref": "WatchFunction"}
    assert permission["SourceArn"]["Fn::Sub"].endswith(":${WatchApi}/*")  # this API only


def test_the_notifier_reaches_the_watch_stage_and_may_post_to_its_connections_only() -> None:
    endpoint = template.function_environment("NotifierFunction")["WATCH_ENDPOINT"]
    api = template.physical_name("WatchApi")
    assert client_endpoint(endpoint) == f"wss://{api}.execute-api.us-east-1.amazonaws.com/v1"
    assert management_endpoint(endpoint, "http://127.0.0.1:4566") == f"http://127.0.0.1:4566/_aws/execute-api/{api}/v1"
    statements = [
        s
        for p in template.function_properties("NotifierFunction")["Policies"]
        if isinstance(p, dict)
        for s in p.get("Statement", [])
    ]
    (manage,) = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
    assert manage["Resource"]["Fn::Sub"].endswith(":${WatchApi}/${ApiStageName}/POST/@connections/*")
    assert _properties("WatchStage")["StageName"] == {"Ref": "ApiStageName"}


# ---------------------------------------------------------------- the retry queue's timings
def test_the_webhook_queue_gives_a_dead_workers_attempt_back_after_its_lease() -> None:
    sender = template.function_properties("WebhookSender")
    config = WebhookConfig(policy=CallbackPolicy(), producer="WebhookSender")
    source = sender["Events"]["Deliveries"]["Properties"]
    visibility = _properties("WebhookQueue")["VisibilityTimeout"]
    # a whole batch of receivers that time out fits in one invocation
    assert source["BatchSize"] * config.timeout_seconds < sender["Timeout"]
    # an attempt's lease outlasts the attempt, and lapses before its message comes back
    assert config.timeout_seconds < config.lease.total_seconds() < visibility
    assert visibility >= 6 * sender["Timeout"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    redrive = _properties("WebhookQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDLQ", "Arn"]}
