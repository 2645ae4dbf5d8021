"""Operations on the deployed template: the API calls ApiFunction's published alias (with no
CodeDeploy on the local engine), the dashboard and alarms exist, and a processed image leaves
its per-job metrics in the function's logs."""

import json
from typing import Any

import boto3

from tests import template
from tests.integration.conftest import settled, upload_image, wait_for
from tests.integration.test_pipeline import _jpeg
from tools.client import PipelineClient
from tools.stack import Stack


def _resource_types(stack: Stack) -> dict[str, str]:
    pages = boto3.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack.name)
    return {r["LogicalResourceId"]: r["ResourceType"] for page in pages for r in page["StackResourceSummaries"]}


def test_the_api_calls_the_live_alias_of_the_latest_version(stack: Stack) -> None:
    api = boto3.client("apigateway")
    function = stack.physical_id("ApiFunction")
    (alias,) = boto3.client("lambda").list_aliases(FunctionName=function)["Aliases"]
    assert alias["Name"] == "live"
    assert alias["FunctionVersion"] != "$LATEST"  # a published version
    routes = 0
    for resource in api.get_resources(restApiId=stack.outputs["ApiId"])["items"]:
        for method in resource.get("resourceMethods") or {}:
            integration = api.get_integration(
                restApiId=stack.outputs["ApiId"], resourceId=resource["id"], httpMethod=method
            )
            if integration["type"] == "MOCK":  # only CORS preflights are answered by the gateway itself
                assert method == "OPTIONS", resource["path"]
                continue
            assert f"function:{function}:live/invocations" in integration["uri"], resource["path"]
            routes += 1
    assert routes >= 3
    # locally the deployment is all at once: nothing of CodeDeploy was created
    assert not [t for t in _resource_types(stack).values() if t.startswith("AWS::CodeDeploy::")]


def test_the_dashboard_and_every_alarm_the_engine_supports_are_deployed(stack: Stack) -> None:
    types = _resource_types(stack)
    declared = template.resources("AWS::CloudWatch::Alarm")
    expected = {name for name, alarm in declared.items() if alarm.get("Condition") != "OnAws"}
    assert {name for name, kind in types.items() if kind == "AWS::CloudWatch::Alarm"} == expected
    dashboard = boto3.client("cloudwatch").get_dashboard(DashboardName=stack.outputs["DashboardName"])
    widgets = json.loads(dashboard["DashboardBody"])["widgets"]
    titles = " ".join(w["properties"]["title"] for w in widgets)
    for wanted in ("API latency", "Function errors", "Dead-letter", "Stalled", "Processing time per job"):
        assert wanted in titles


def _metric_records(stack: Stack, function: str, metric: str) -> list[dict[str, Any]]:
    group = f"/aws/lambda/{stack.physical_id(function)}"
    events = boto3.client("logs").filter_log_events(logGroupName=group)["events"]
    records = []
    for event in events:
        text = event["message"]
        if f'"{metric}"' in text and '"_aws"' in text:
            records.append(json.loads(text[text.index("{") :]))
    return records


def test_a_processed_image_leaves_its_job_metrics_in_the_logs(client: PipelineClient, stack: Stack) -> None:
    image_id = upload_image(client, _jpeg(), "metered.jpg", "image/jpeg")
    assert settled(client, image_id)["status"] == "COMPLETE"
    processed = wait_for(lambda: _metric_records(stack, "ThumbnailFunction", "ImagesProcessed"), timeout=30)
    assert {(r["job"], r["service"]) for r in processed} == {("thumbnail", "image-pipeline")}
    sized = _metric_records(stack, "RenditionWorker", "BytesOut")
    assert sized
    assert all(r["job"] == "renditions" for r in sized)
    assert _metric_records(stack, "ApiFunction", "ColdStart")
