"""Step Functions adapter: starts the EditWorkflow, once per edit.

The execution is named by the edit id. A Standard workflow keeps execution names for 90 days: a
second start of the same edit either returns the running execution (same name and input) or is
refused with ``ExecutionAlreadyExists`` (finished): both mean the edit exists, not an error.
(StartExecution only. StartSyncExecution, an Express-only call, would need botocore's
``Config(inject_host_prefix=False)`` to reach the local engine.)
"""

import json
import os
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from image_pipeline.edits import EditWorkflowInput
from image_pipeline.ports import EditStarter

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import StartExecutionInputTypeDef


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution of ``state_machine_arn`` named ``name`` has."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    if not prefix:
        raise ValueError(f"{state_machine_arn!r} is not a state machine ARN")
    return f"{prefix}:execution:{machine}:{name}"


class StepFunctionsEditStarter(EditStarter):
    def __init__(self, state_machine_arn: str, client: "SFNClient | None" = None) -> None:
        self._arn = state_machine_arn
        self._sfn = client or boto3.client("stepfunctions")

    def start(self, edit: EditWorkflowInput) -> str:
        request: StartExecutionInputTypeDef = {
            "stateMachineArn": self._arn,
            "name": edit.edit_id,
            "input": json.dumps(edit.payload(), separators=(",", ":")),
        }
        # Carry the caller's X-Ray trace into the workflow (Lambda sets this per invocation).
        if trace_header := os.environ.get("_X_AMZN_TRACE_ID"):
            request["traceHeader"] = trace_header
        try:
            response = self._sfn.start_execution(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return execution_arn(self._arn, edit.edit_id)
        return response["executionArn"]
