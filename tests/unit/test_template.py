"""template.yaml is the single source of truth: these hold the code and the wiring to it."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from image_pipeline.keys import OUTPUTS_PREFIX, UPLOADS_PREFIX
from image_pipeline.settings import Settings
from tests import template

# Variables Powertools reads by itself (not the function's settings).
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
IMAGE_FUNCTIONS = {
    "ThumbnailFunction",
    "RenditionWorker",
    "AnalyzeFunction",
    "EditCropFunction",
    "EditFilterFunction",
    "EditCompressFunction",
}


@pytest.mark.parametrize("logical_id", template.function_ids())
def test_environment_matches_the_functions_settings_model(
    logical_id: str, load_handler: Callable[..., ModuleType], aws: object
) -> None:
    # Given the function as Lambda would start it, with the template's environment
    module = load_handler(logical_id)
    settings = module.settings
    # Then its settings model reads exactly the variables the template sets, no more, no less
    assert isinstance(settings, Settings)
    variables = set(template.function_environment(logical_id)) - POWERTOOLS_VARIABLES
    assert variables == type(settings).variable_names()


def test_environment_values_are_strings_as_cloudformation_passes_them() -> None:
    # A bare number in YAML reaches the local engine as an int and breaks the function's start.
    for logical_id in template.function_ids():
        for name, value in template.function_properties(logical_id)["Environment"]["Variables"].items():
            assert isinstance(value, (str, dict)), f"{logical_id}.{name}: quote {value!r}"


def test_every_function_runs_python313_with_a_timeout_a_log_group_and_the_shared_layer() -> None:
    log_groups = [
        r["Properties"]["LogGroupName"]["Fn::Sub"]
        for r in template.resources("AWS::Logs::LogGroup").values()
        if "LogGroupName" in r["Properties"]
    ]
    for logical_id in template.function_ids():
        properties = template.function_properties(logical_id)
        assert properties["Runtime"] == "python3.13"
        timeout = properties["Timeout"]  # a number, or one per place: {"Fn::If": [OnAws, aws, local]}
        assert all(t > 0 for t in (timeout["Fn::If"][1:] if isinstance(timeout, dict) else [timeout])), logical_id
        assert properties["MemorySize"] >= 128
        assert {"Ref": "SharedLayer"} in properties["Layers"]
        assert f"/aws/lambda/${{{logical_id}}}" in log_groups
        uses_pillow = {"Ref": "PillowLayer"} in properties["Layers"]
        assert uses_pillow == (logical_id in IMAGE_FUNCTIONS), logical_id


def test_uploads_fan_out_from_one_rule_that_never_matches_outputs() -> None:
    rule = template.resources("AWS::Events::Rule")["ImageUploadedRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": UPLOADS_PREFIX}]
    assert not OUTPUTS_PREFIX.startswith(UPLOADS_PREFIX)
    targets = {t["Arn"]["Fn::GetAtt"][0] for t in rule["Targets"]}
    assert targets == {"ThumbnailFunction", "RenditionQueue", "AnalyzeFunction", "IntakeFunction"}


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, t) for name, r in template.resources("AWS::Events::Rule").items() for t in r["Properties"]["Targets"]
    ]


def test_every_rule_target_retries_then_dead_letters() -> None:
    for rule, target in _targets():
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, rule
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventTargetDLQ", "Arn"]}, rule


def test_every_asynchronously_invoked_function_has_an_on_failure_destination() -> None:
    async_targets = {t["Arn"].get("Fn::GetAtt", [None])[0] for _, t in _targets()} & set(template.function_ids())
    configured = {
        c["Properties"]["FunctionName"]["Ref"]
        for c in template.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    }
    scheduled = {f for f in template.function_ids() if template.function_properties(f).get("EventInvokeConfig")}
    assert async_targets <= configured
    assert scheduled == {"StallSweeperFunction"}


def test_every_queue_has_a_dead_letter_queue_and_a_visibility_timeout_above_six_function_timeouts() -> None:
    queues = template.resources("AWS::SQS::Queue")
    dead_letter = {name for name in queues if name.endswith("DLQ")}
    for name, queue in queues.items():
        if name in dead_letter:
            continue
        assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] >= 1
    worker = template.function_properties("RenditionWorker")
    source = worker["Events"]["Uploads"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # one image per invocation: a slow image's timeout never counts a receive against a neighbour
    assert source["BatchSize"] == 1
    assert source["ScalingConfig"]["MaximumConcurrency"] >= 2
    assert queues["RenditionQueue"]["Properties"]["VisibilityTimeout"] >= 6 * worker["Timeout"]


def test_the_bucket_is_private_encrypted_tls_only_and_announces_uploads_to_eventbridge() -> None:
    bucket = template.resources("AWS::S3::Bucket")["ImagesBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    policy = template.resources("AWS::S3::BucketPolicy")["ImagesBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_local_engine_switch_leaves_out_only_what_the_engine_cannot_do() -> None:
    resources = template.load()["Resources"].items()
    on_aws_only = {name for name, r in resources if r.get("Condition") == "OnAws"}
    # ministack has no EventBridge archives, and its alarms take one metric (no metric math)
    assert on_aws_only == {"AppBusArchive", "FunctionErrorsAlarm", "FunctionThrottlesAlarm"}
    # the forwarding to the event hub depends on its parameter, not on the engine
    forwarding = {name for name, r in resources if r.get("Condition") == "ForwardsToHub"}
    assert forwarding == {"ForwardToHubRule", "ForwardToHubRole"}
    assert {r.get("Condition") for _, r in resources} == {None, "OnAws", "ForwardsToHub", "HasAlarmEmail"}
    assert template.load()["Conditions"]["OnAws"] == {"Fn::Equals": [{"Ref": "LocalEmulator"}, "false"]}
    # ... nor CodeDeploy: gradual deployments are switched off by the same parameter
    switch = template.load()["Mappings"]["GradualDeployments"]
    assert switch == {"true": {"Enabled": "false"}, "false": {"Enabled": "true"}}


def test_the_api_needs_a_key_and_is_throttled() -> None:
    api = template.resources("AWS::Serverless::Api")["ImagesApi"]["Properties"]
    assert api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["UsagePlan"]["Throttle"]["RateLimit"] > 0
    assert all(s["ThrottlingRateLimit"] > 0 for s in api["MethodSettings"])
