"""The EditWorkflow as template.yaml and its definition file declare it: every Lambda it names
exists and may be invoked, transient Lambda errors are retried with backoff and jitter, a refused
image is routed by a Choice, and every other failure ends in the Catch that records it.

The local engine reports every Lambda error as ``Runtime.HandlerError``, so routing by error
name can only be proven here, on the definition."""

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from image_pipeline.edits import EDITS_WORK_PREFIX
from image_pipeline.keys import UPLOADS_PREFIX
from tests import template
from tests.template import ROOT

TRANSIENT_LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
IMAGE_STEPS = {"Crop": "EditCropFunction", "Filter": "EditFilterFunction", "Compress": "EditCompressFunction"}
PUBLISH_STEPS = ("PublishCompleted", "PublishRejected", "RecordFailure")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _workflow() -> dict[str, Any]:
    return dict(template.resources("AWS::Serverless::StateMachine")["EditWorkflow"]["Properties"])


@cache
def _definition_text() -> str:
    return (ROOT / str(_workflow()["DefinitionUri"])).read_text()


def _definition() -> dict[str, Any]:
    return dict(json.loads(_definition_text()))


def _tasks() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in _definition()["States"].items():
        if state["Type"] == "Task":
            yield name, state


def _function_of(task: dict[str, Any]) -> str:
    """The template function a task invokes, through its definition substitution."""
    (placeholder,) = PLACEHOLDER.findall(task["Arguments"]["FunctionName"])
    substitution = _workflow()["DefinitionSubstitutions"][placeholder]
    logical_id, attribute = substitution["Fn::GetAtt"]
    assert attribute == "Arn"
    return str(logical_id)


def test_the_workflow_is_a_standard_state_machine_with_logging_and_tracing() -> None:
    workflow = _workflow()
    assert workflow["Type"] == "STANDARD"  # idempotent start by name; the reason is in template.yaml
    assert workflow["Tracing"] == {"Enabled": True}
    assert workflow["Logging"]["Level"] == "ALL"
    (destination,) = workflow["Logging"]["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert template.resources("AWS::Logs::LogGroup")[log_group]["Properties"]["RetentionInDays"]
    assert _definition()["QueryLanguage"] == "JSONata"
    assert _definition()["TimeoutSeconds"] > 0


def test_every_placeholder_is_substituted_and_every_substitution_used() -> None:
    assert set(PLACEHOLDER.findall(_definition_text())) == set(_workflow()["DefinitionSubstitutions"])


def test_every_lambda_the_workflow_names_exists_and_may_be_invoked_by_it() -> None:
    functions = set(template.function_ids())
    invocable = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in _workflow()["Policies"] if "LambdaInvokePolicy" in p
    }
    named = {_function_of(task) for _, task in _tasks()}
    assert named == {*IMAGE_STEPS.values(), "EditPublishFunction"}
    assert named <= functions
    assert named == invocable  # least privilege: exactly these
    for name, function in IMAGE_STEPS.items():
        assert _function_of(_definition()["States"][name]) == function
    for name in PUBLISH_STEPS:
        assert _function_of(_definition()["States"][name]) == "EditPublishFunction"


def test_each_kind_of_step_is_its_own_function_sharing_the_pillow_layer() -> None:
    for function in IMAGE_STEPS.values():
        layers = template.function_properties(function)["Layers"]
        assert {"Ref": "PillowLayer"} in layers
        assert {"Ref": "SharedLayer"} in layers
    assert {"Ref": "PillowLayer"} not in template.function_properties("EditPublishFunction")["Layers"]
    code = {template.function_properties(f)["CodeUri"] for f in [*IMAGE_STEPS.values(), "EditPublishFunction"]}
    assert len(code) == 4


def test_every_task_retries_only_lambdas_transient_errors_with_backoff_and_jitter() -> None:
    for name, task in _tasks():
        assert task["Resource"] == "arn:aws:states:::lambda:invoke", name
        (retry,) = task["Retry"]
        assert set(retry["ErrorEquals"]) == TRANSIENT_LAMBDA_ERRORS, name  # never States.ALL: no retry of a bug
        assert retry["MaxAttempts"] >= 2, name
        assert retry["BackoffRate"] > 1, name
        assert retry["JitterStrategy"] == "FULL", name
        assert retry["MaxDelaySeconds"] >= retry["IntervalSeconds"], name


def test_every_task_outlasts_its_functions_timeout() -> None:
    for name, task in _tasks():
        assert task["TimeoutSeconds"] > template.function_properties(_function_of(task))["Timeout"], name


def test_every_failure_but_the_recording_one_is_caught_and_recorded() -> None:
    states = _definition()["States"]
    for name, task in _tasks():
        if name == "RecordFailure":
            assert "Catch" not in task  # nothing left to record it: the execution fails (and alarms)
            continue
        (catch,) = task["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        assert catch["Next"] == "RecordFailure", name
        # The failing step, its error and its cause go to the record
        assert "$states.errorOutput.Error" in catch["Output"], name
        assert "$states.errorOutput.Cause" in catch["Output"], name
    assert states["RecordFailure"]["Arguments"]["Payload"]["outcome"] == "failed"
    assert states[states["RecordFailure"]["Next"]]["Type"] == "Fail"


def test_a_refused_image_is_routed_by_a_choice_not_retried() -> None:
    states = _definition()["States"]
    for name in IMAGE_STEPS:
        routing = states[states[name]["Next"]]
        assert routing["Type"] == "Choice", name
        (rule,) = routing["Choices"]
        assert rule["Condition"] == "{% $states.input.outcome = 'rejected' %}", name
        assert rule["Next"] == "PublishRejected", name
        # The next step's input; AWS applies a Choice's own Assign on every branch (the engine
        # only on Default), so it must hold for a rejection too, which has no image.
        assert routing["Assign"]["image"] == "{% $exists($states.input.image) ? $states.input.image : $image %}"
        assert "$append($steps" in routing["Assign"]["steps"]  # the edit's step timeline
    assert states["PublishRejected"]["Arguments"]["Payload"]["outcome"] == "rejected"
    assert states[states["PublishRejected"]["Next"]]["Type"] == "Succeed"


def test_stages_run_in_order_and_skip_what_the_edit_does_not_ask_for() -> None:
    states = _definition()["States"]
    path, name = [], _definition()["StartAt"]
    while name not in path and "End" not in states[name] and states[name]["Type"] not in {"Succeed", "Fail"}:
        path.append(name)
        state = states[name]
        name = state.get("Default") or state["Next"]
    assert [n for n in path if states[n]["Type"] == "Task"] == ["Compress", "PublishCompleted"]  # skipping both
    assert states["HasCrop"]["Choices"][0] == {"Condition": "{% $exists($edit.operations.crop) %}", "Next": "Crop"}
    assert states["HasFilter"]["Choices"][0] == {
        "Condition": "{% $exists($edit.operations.filter) %}",
        "Next": "Filter",
    }
    assert states["Cropped"]["Default"] == "HasFilter"
    assert states["Filtered"]["Default"] == "Compress"
    assert states["Compressed"]["Default"] == "PublishCompleted"


def test_every_transition_names_a_state_and_every_state_is_reachable() -> None:
    definition = _definition()
    states = definition["States"]
    targets = {definition["StartAt"]}
    for state in states.values():
        targets |= {state[k] for k in ("Next", "Default") if k in state}
        targets |= {rule["Next"] for rule in state.get("Choices", [])}
        targets |= {catch["Next"] for catch in state.get("Catch", [])}
    assert targets == set(states)


def test_pixels_never_enter_the_state_only_references() -> None:
    for name in IMAGE_STEPS:
        payload = _definition()["States"][name]["Arguments"]["Payload"]
        assert payload["image"] == "{% $image %}", name
        # the crop also gets the faces recognition found (references to nothing: a few boxes)
        faces = {"faces"} if name == "Crop" else set()
        assert set(payload) == {"imageId", "editId", "image", "operations", "format", *faces}, name
    assert _definition()["States"]["Begin"]["Assign"]["image"] == "{% $states.input.source %}"
    assert _definition()["States"]["PublishCompleted"]["Arguments"]["Payload"]["steps"] == "{% $steps %}"


# ---------------------------------------------------------------- the definition through cfn-lint
def _lint(definition: dict[str, Any]) -> list[str]:
    """cfn-lint's state machine rules (E3601...) on the definition, inlined as CloudFormation
    would hold it after SAM's transform (SAM reads DefinitionUri, which cfn-lint cannot see)."""
    substitutions = {
        key: f"arn:aws:lambda:us-east-1:123456789012:function:{key}" for key in _workflow()["DefinitionSubstitutions"]
    }
    document = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "EditWorkflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/edit-workflow",
                    "StateMachineType": "STANDARD",
                    "Definition": definition,
                    "DefinitionSubstitutions": substitutions,
                },
            }
        },
    }
    return [str(match) for match in lint(json.dumps(document), config=ManualArgs(regions=["us-east-1"]))]


def test_the_definition_passes_cfn_lint() -> None:
    assert _lint(_definition()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["States"]["Done"].update(Type="Succeeds"),
        lambda d: d["States"]["Crop"].pop("Resource"),
        lambda d: d["States"]["Crop"]["Retry"][0].update(MaxAttempts=-1),
        lambda d: d["States"]["HasCrop"].pop("Choices"),
    ],
    ids=["unknown-state-type", "task-without-resource", "negative-retry", "choice-without-rules"],
)
def test_cfn_lint_would_catch_a_broken_definition(breakage: Any) -> None:
    broken = copy.deepcopy(_definition())
    breakage(broken)
    assert _lint(broken)


# ---------------------------------------------------------------- storage and permissions
def test_intermediates_live_where_no_upload_rule_looks_and_expire() -> None:
    assert not EDITS_WORK_PREFIX.startswith(UPLOADS_PREFIX)
    bucket = template.resources("AWS::S3::Bucket")["ImagesBucket"]["Properties"]
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-edit-intermediates"]["Prefix"] == EDITS_WORK_PREFIX
    assert rules["expire-edit-intermediates"]["ExpirationInDays"] >= 1


def _s3_grants(function: str) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for policy in template.function_properties(function)["Policies"]:
        for statement in policy.get("Statement", []):
            if str(statement["Action"]).startswith("s3:"):
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                grants.setdefault(statement["Action"], set()).update(r["Fn::Sub"] for r in resources)
    return grants


def test_image_steps_read_sources_and_intermediates_and_write_only_intermediates() -> None:
    for function in IMAGE_STEPS.values():
        assert _s3_grants(function) == {
            "s3:GetObject": {"${ImagesBucket.Arn}/uploads/*", "${ImagesBucket.Arn}/edits/*"},
            "s3:PutObject": {"${ImagesBucket.Arn}/edits/*"},
        }


def test_publish_reads_intermediates_and_writes_only_outputs() -> None:
    assert _s3_grants("EditPublishFunction") == {
        "s3:GetObject": {"${ImagesBucket.Arn}/edits/*"},
        "s3:PutObject": {"${ImagesBucket.Arn}/outputs/*"},
    }


def test_a_failed_workflow_raises_an_alarm() -> None:
    alarm = template.resources("AWS::CloudWatch::Alarm")["EditWorkflowFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "EditWorkflow"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
