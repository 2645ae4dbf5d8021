"""The EditStarter port: one contract, run against the Step Functions adapter (on moto) and the
test fake. Starting an edit twice starts one workflow."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from image_pipeline.aws.stepfunctions import StepFunctionsEditStarter, execution_arn
from image_pipeline.edits import EditSource, EditWorkflowInput, edit_requested, parse_edit_request
from image_pipeline.ports import EditStarter
from tests.fakes import RecordingEditStarter

IMAGE = "0123456789abcdef0123456789abcdef"
SOURCE = EditSource(bucket="images", key=f"uploads/{IMAGE}.jpg", etag='"v1"')
ROLE = "arn:aws:iam::123456789012:role/edit-workflow"


def _edit(body: dict[str, object], source: EditSource = SOURCE) -> EditWorkflowInput:
    requested = edit_requested(
        IMAGE, source, parse_edit_request(body), producer="test", now=datetime(2026, 11, 22, tzinfo=UTC)
    )
    return EditWorkflowInput.from_requested(requested)


SEPIA = _edit({"operations": [{"filter": "sepia"}]})


@pytest.fixture
def state_machine(aws: object) -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = boto3.client("stepfunctions").create_state_machine(
        name="EditWorkflow", definition=json.dumps(definition), roleArn=ROLE, type="STANDARD"
    )
    return str(machine["stateMachineArn"])


Executions = Callable[[], list[str]]


@pytest.fixture(params=["stepfunctions", "fake"])
def starter(request: pytest.FixtureRequest, aws: object) -> Iterator[tuple[EditStarter, Executions]]:
    if request.param == "fake":
        fake = RecordingEditStarter()
        yield fake, fake.executions
        return
    machine = request.getfixturevalue("state_machine")
    sfn = boto3.client("stepfunctions")

    def executions() -> list[str]:
        return sorted(e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"])

    yield StepFunctionsEditStarter(machine), executions


def test_an_edit_starts_once_however_often_it_is_asked_for(starter: tuple[EditStarter, Executions]) -> None:
    port, executions = starter
    first = port.start(SEPIA)
    again = port.start(SEPIA)  # while it runs
    assert again == first
    assert executions() == [first]


def test_an_edit_that_finished_is_not_started_again(state_machine: str) -> None:
    starter = StepFunctionsEditStarter(state_machine)
    first = starter.start(SEPIA)
    sfn = boto3.client("stepfunctions")
    sfn.stop_execution(executionArn=first)  # finished (AWS refuses the name for 90 days)
    assert starter.start(SEPIA) == first
    assert len(sfn.list_executions(stateMachineArn=state_machine)["executions"]) == 1


def test_different_edits_start_different_workflows(starter: tuple[EditStarter, Executions]) -> None:
    port, executions = starter
    new_version = SOURCE.model_copy(update={"etag": '"v2"'})
    started = {
        port.start(SEPIA),
        port.start(_edit({"operations": [{"filter": "blur"}]})),
        port.start(_edit({"operations": [{"filter": "sepia"}]}, new_version)),
    }
    assert len(started) == 3
    assert sorted(started) == executions()


def test_the_execution_is_named_by_the_edit_and_gets_the_workflow_input(state_machine: str) -> None:
    started = StepFunctionsEditStarter(state_machine).start(SEPIA)
    assert started == execution_arn(state_machine, SEPIA.edit_id)
    execution = boto3.client("stepfunctions").describe_execution(executionArn=started)
    assert execution["name"] == SEPIA.edit_id
    assert json.loads(execution["input"]) == SEPIA.payload()


def test_the_trace_header_of_the_caller_goes_along(state_machine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("stepfunctions")
    calls: list[dict[str, object]] = []
    client.meta.events.register("provide-client-params.states.StartExecution", lambda params, **_: calls.append(params))
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    StepFunctionsEditStarter(state_machine, client=client).start(SEPIA)
    assert calls[0]["traceHeader"] == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"


def test_other_errors_are_not_mistaken_for_an_edit_already_started(aws: object) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nothing-here"
    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        StepFunctionsEditStarter(missing).start(SEPIA)


def test_execution_arns_follow_the_state_machines() -> None:
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:stack-EditWorkflow-AB12"
    assert execution_arn(machine, "e1") == "arn:aws:states:eu-west-1:123456789012:execution:stack-EditWorkflow-AB12:e1"
    with pytest.raises(ValueError, match="not a state machine ARN"):
        execution_arn("arn:aws:lambda:eu-west-1:123456789012:function:f", "e1")
