"""The hub's and the consumers' templates hold the same rules as template.yaml: each function's
environment is its settings model, every async path ends in a DLQ, and what the local engine
cannot run is left out only by the LocalEmulator switch."""

from collections.abc import Callable
from types import ModuleType

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


@pytest.mark.parametrize("path", template.TEMPLATES)
def test_the_local_engine_switch_guards_only_what_the_engine_rejects(path: str) -> None:
    conditions = template.load(path)["Conditions"]
    assert conditions["OnAws"] == {"Fn::Equals": [{"Ref": "LocalEmulator"}, "false"]}

    def needs_aws(condition: str) -> bool:
        definition = conditions[condition]
        return condition == "OnAws" or {"Condition": "OnAws"} in definition.get("Fn::And", [])

    # what ministack's CloudFormation refuses, and what exists only for a target it does not deliver
    rejected_locally = {"AWS::Events::EventBusPolicy", "AWS::Events::Archive", "AWS::EventSchemas::Registry"}
    only_for_aws_targets = {"RuleToFirehoseRole": "the archive rule's Firehose target (not delivered locally)"}
    for name, resource in template.load(path)["Resources"].items():
        guarded = "Condition" in resource and needs_aws(resource["Condition"])
        expected = resource["Type"] in rejected_locally or name in only_for_aws_targets
        assert guarded == expected, f"{name}: {'guarded' if guarded else 'not guarded'} by LocalEmulator"


def test_the_history_rule_feeds_firehose_on_aws_and_the_bridge_locally_with_one_record_shape() -> None:
    path = "consumers/history/template.yaml"
    rule = template.resources("AWS::Events::Rule", path)["ArchiveRule"]
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
    rule = template.resources("AWS::Events::Rule", path)["CountRule"]
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": ["CountQueue", "Arn"]}]
    function = template.function_properties("Aggregator", path)
    (source,) = function["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["CountQueue", "Arn"]}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert not template.resources("AWS::Lambda::Permission", path)  # nothing invokes it directly
