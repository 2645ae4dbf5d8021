"""The hub's and the consumers' templates hold the same rules as template.yaml: each function's
environment is its settings model, every async path ends in a DLQ, and what the local engine
cannot run is left out only by the LocalEmulator switch."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from image_pipeline.settings import Settings
from tests import template

POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
FUNCTIONS = [(path, f) for path in template.HUB_TEMPLATES for f in template.function_ids(path)]


@pytest.mark.parametrize(("path", "logical_id"), FUNCTIONS)
def test_environment_matches_the_functions_settings_model(
    path: str, logical_id: str, load_handler: Callable[..., ModuleType]
) -> None:
    settings = load_handler(logical_id, path).settings
    assert isinstance(settings, Settings)
    variables = set(template.function_environment(logical_id, path)) - POWERTOOLS_VARIABLES
    assert variables == type(settings).variable_names()


@pytest.mark.parametrize(("path", "logical_id"), FUNCTIONS)
def test_every_function_runs_python313_with_the_shared_layer_and_a_log_group(path: str, logical_id: str) -> None:
    properties = template.function_properties(logical_id, path)
    assert properties["Runtime"] == "python3.13"
    assert {"Ref": "SharedLayer"} in properties["Layers"]
    layer = template.resources("AWS::Serverless::LayerVersion", path)["SharedLayer"]["Properties"]
    assert (template.ROOT / path).parent.joinpath(layer["ContentUri"]).resolve() == template.ROOT / "layers/shared"
    log_groups = [r["Properties"]["LogGroupName"] for r in template.resources("AWS::Logs::LogGroup", path).values()]
    assert {"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"} in log_groups


def _targets(path: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, rule in template.resources("AWS::Events::Rule", path).items():
        for target in rule["Properties"]["Targets"]:
            branches = target["Fn::If"][1:] if "Fn::If" in target else [target]
            found.extend((name, t) for t in branches if isinstance(t, dict) and "Id" in t)
    return found


@pytest.mark.parametrize("path", template.HUB_TEMPLATES)
def test_every_rule_target_retries_then_dead_letters(path: str) -> None:
    targets = _targets(path)
    assert targets
    for rule, target in targets:
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, rule
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].endswith("DLQ"), rule


@pytest.mark.parametrize("path", template.HUB_TEMPLATES)
def test_every_async_function_and_queue_has_somewhere_to_fail_to(path: str) -> None:
    functions = set(template.function_ids(path))
    invoked = {t["Arn"]["Fn::GetAtt"][0] for _, t in _targets(path) if "Fn::GetAtt" in t["Arn"]} & functions
    configured = {
        c["Properties"]["FunctionName"]["Ref"]
        for c in template.resources("AWS::Lambda::EventInvokeConfig", path).values()
        if c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    }
    assert invoked <= configured
    for name, queue in template.resources("AWS::SQS::Queue", path).items():
        if name.endswith("DLQ") or name == "QuarantineQueue":
            continue
        assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] >= 1, name


@pytest.mark.parametrize("path", template.HUB_TEMPLATES)
def test_the_local_engine_switch_guards_only_what_the_engine_rejects(path: str) -> None:
    conditions = template.load(path)["Conditions"]
    assert conditions["OnAws"] == {"Fn::Equals": [{"Ref": "LocalEmulator"}, "false"]}

    def needs_aws(condition: str) -> bool:
        definition = conditions[condition]
        return condition == "OnAws" or {"Condition": "OnAws"} in definition.get("Fn::And", [])

    rejected_locally = {"AWS::Events::EventBusPolicy", "AWS::Events::Archive", "AWS::EventSchemas::Registry"}
    for name, resource in template.load(path)["Resources"].items():
        if resource["Type"] in rejected_locally:
            assert needs_aws(resource["Condition"]), name


def test_the_history_rule_feeds_firehose_on_aws_and_the_bridge_locally_with_one_record_shape() -> None:
    path = "consumers/history/template.yaml"
    (rule,) = template.resources("AWS::Events::Rule", path).values()
    on_aws, local = rule["Properties"]["Targets"]
    assert on_aws["Fn::If"][0] == "OnAws"
    assert on_aws["Fn::If"][1]["Arn"] == {"Fn::GetAtt": ["DeliveryStream", "Arn"]}
    assert local["Fn::If"][0] == "OnLocalEngine"
    assert local["Fn::If"][1]["Arn"] == {"Fn::GetAtt": ["BridgeQueue", "Arn"]}
    (bridge_source,) = template.function_properties("ArchiveBridge", path)["Events"].values()
    assert bridge_source["Properties"]["Queue"] == {"Fn::GetAtt": ["BridgeQueue", "Arn"]}
    assert bridge_source["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert on_aws["Fn::If"][1]["InputTransformer"] == local["Fn::If"][1]["InputTransformer"]
    template_text = on_aws["Fn::If"][1]["InputTransformer"]["InputTemplate"]
    assert template_text.endswith("}\n")  # one JSON object per line in the archive
    columns = template.resources("AWS::Glue::Table", path)["EventsTable"]["Properties"]["TableInput"]
    names = [c["Name"] for c in columns["StorageDescriptor"]["Columns"]]
    assert all(f'"{n}":' in template_text for n in names)
    assert columns["Parameters"]["projection.dt.type"] == "date"
    stream = template.resources("AWS::KinesisFirehose::DeliveryStream", path)["DeliveryStream"]["Properties"]
    assert stream["ExtendedS3DestinationConfiguration"]["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/"


def test_the_aggregator_takes_its_events_in_batches_from_a_queue_for_at_most_two_instances() -> None:
    # Every event is a transaction on the day's item: concurrent ones conflict, so the count rule
    # feeds a queue, and the queue feeds the Aggregator in batches, two instances at most.
    path = "consumers/aggregates/template.yaml"
    (rule,) = template.resources("AWS::Events::Rule", path).values()
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": ["CountQueue", "Arn"]}]
    function = template.function_properties("Aggregator", path)
    (source,) = function["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["CountQueue", "Arn"]}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 2}
    queue = template.resources("AWS::SQS::Queue", path)["CountQueue"]["Properties"]
    timeout = template.load(path)["Globals"]["Function"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ConsumerDLQ", "Arn"]}
    (statement,) = template.resources("AWS::SQS::QueuePolicy", path)["CountQueuePolicy"]["Properties"][
        "PolicyDocument"
    ]["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["CountRule", "Arn"]}}}
    assert not template.resources("AWS::Lambda::Permission", path)  # nothing invokes it directly
