"""reprocess/template.yaml as CloudFormation would create it: on AWS the workflow reads an S3
Inventory manifest when one is configured and batches items (ItemBatcher) and writes results to S3
(ResultWriter); on the local engine it lists the bucket, one item per child, which is all the
engine runs. Each child, interpreted here with the real item function over in-memory ports, asks,
waits, checks and ends in Fail with the reason of a failed item."""

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from image_pipeline.catalogue import EventType
from image_pipeline.reprocessing import Reprocessor, step
from tests import samples, template
from tests.fakes import InMemoryImageLog, RecordingFeed, RecordingPublisher
from tests.template import ACCOUNT, PSEUDO_PARAMETERS, REPROCESS, REPROCESS_WIRING, Deployed, referenced
from tools.reprocess import WIRED_OUTPUTS, WIRED_PARAMETERS

PSEUDO = {**PSEUDO_PARAMETERS, "AWS::AccountId": ACCOUNT}
EXPRESS_LIMIT_SECONDS = 300


def deployed(**parameters: str) -> Deployed:
    return Deployed.of(REPROCESS, **{**REPROCESS_WIRING, **parameters})


def _rendered(node: Any, stack: Deployed) -> str:
    """An Fn::Sub as CloudFormation renders it: its variables (conditions decided), the stack's
    parameters, the pseudo parameters; a resource attribute becomes a recognisable placeholder."""
    node = stack.value(node)
    if isinstance(node, str):
        return node
    argument = node["Fn::Sub"]
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    values = {name: _rendered(value, stack) for name, value in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        name = match[1]
        if name in values:
            return values[name]
        if name in stack.values:
            return str(stack.values[name])
        if name in PSEUDO:
            return PSEUDO[name]
        return f"<{name}>"  # Resource.Attribute

    return re.sub(r"\$\{([^}!]+)\}", substitute, text)


def definition(stack: Deployed) -> dict[str, Any]:
    return dict(json.loads(_rendered(stack.properties("ReprocessWorkflow")["DefinitionString"], stack)))


def uploads_map(stack: Deployed) -> dict[str, Any]:
    return dict(definition(stack)["States"]["Uploads"])


# ---------------------------------------------------------------- the AWS-only parts
def test_on_aws_it_lists_the_uploads_batches_them_and_writes_the_outcomes_to_s3() -> None:
    mapped = uploads_map(deployed())
    assert mapped["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": REPROCESS_WIRING["ImagesBucketName"], "Prefix.$": "$.prefix"},
    }
    assert mapped["ItemBatcher"] == {"MaxItemsPerBatch": 20}
    assert mapped["ResultWriter"]["Parameters"] == {
        "Bucket": REPROCESS_WIRING["ImagesBucketName"],
        "Prefix": "reprocess-results",
    }
    assert mapped["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}


def test_with_an_inventory_it_reads_the_manifest_make_reprocess_names() -> None:
    stack = deployed(InventoryBucket="inventory-bucket", ItemsPerBatch="1")
    mapped = uploads_map(stack)
    assert mapped["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "MANIFEST"},
        "Parameters": {"Bucket": "inventory-bucket", "Key.$": "$.manifestKey"},
    }
    assert "ItemBatcher" not in mapped  # one item per child: each fails alone
    assert _allows(stack, "s3:GetObject", "arn:aws:s3:::inventory-bucket/inventory/manifest.json")
    assert not _allows(deployed(), "s3:GetObject", "arn:aws:s3:::inventory-bucket/inventory/manifest.json")


def test_the_local_engine_gets_only_what_it_runs() -> None:
    mapped = uploads_map(deployed(LocalEmulator="true", InventoryBucket="inventory-bucket", ItemsPerBatch="50"))
    assert mapped["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert not {"ItemBatcher", "ResultWriter"} & set(mapped)


@pytest.mark.parametrize(("concurrency", "tolerated"), [("1", "0"), ("37", "12"), ("10000", "100")])
def test_the_runs_knobs_are_the_stacks_parameters_as_numbers(concurrency: str, tolerated: str) -> None:
    mapped = uploads_map(deployed(MaxConcurrency=concurrency, ToleratedFailurePercentage=tolerated))
    assert (mapped["MaxConcurrency"], mapped["ToleratedFailurePercentage"]) == (int(concurrency), int(tolerated))


def test_an_item_stops_waiting_before_its_express_child_would_time_out() -> None:
    parameters = template.load(REPROCESS)["Parameters"]
    child = uploads_map(deployed())["ItemProcessor"]["States"]
    item_timeout = template.function_properties("ReprocessItemFunction", REPROCESS)["Timeout"]
    worst = parameters["AnswerTimeoutSeconds"]["MaxValue"] + child["Wait"]["Seconds"] + item_timeout
    assert worst < EXPRESS_LIMIT_SECONDS


# ---------------------------------------------------------------- a child, run with the real item function
class Child:
    """The child state machine of the definition, interpreted (Task, Choice, Wait, Pass, Fail)."""

    def __init__(self, processor: dict[str, Any], call: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.states, self.start, self.call = processor["States"], processor["StartAt"], call
        self.waited = 0

    def run(self, data: Any) -> Any:
        name = self.start
        while True:
            state = self.states[name]
            kind = state["Type"]
            if kind == "Fail":
                raise ChildFailed(state["Error"], _path(data, state["CausePath"]))
            if kind == "Task":
                payload = {
                    k.removesuffix(".$"): _path(data, v) if k.endswith(".$") else v
                    for k, v in state["Parameters"]["Payload"].items()
                }
                data = _path({"Payload": self.call(payload)}, state["OutputPath"])
            elif kind == "Wait":
                self.waited += state["Seconds"]
            elif kind == "Pass":
                data = {k.removesuffix(".$"): _path(data, v) for k, v in state["Parameters"].items()}
            elif kind == "Choice":
                chosen = [c["Next"] for c in state["Choices"] if _path(data, c["Variable"]) > c["NumericGreaterThan"]]
                name = chosen[0] if chosen else state["Default"]
                continue
            if state.get("End"):
                return data
            name = state["Next"]


class ChildFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def _path(data: Any, path: str) -> Any:
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            data = data[part]
    return data


T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def _child(answer: EventType | None, **answered: Any) -> tuple[Child, InMemoryImageLog]:
    images = InMemoryImageLog()
    upload = samples.event(EventType.IMAGE_UPLOADED, event_id=f"{samples.IMAGE}@0A1B2C3D4E5F678901", at=T0)
    images.append(upload)
    reprocessor = Reprocessor(
        images, RecordingPublisher(), RecordingFeed(), "bbbbbbbbbbbb", timedelta(seconds=300), timedelta(seconds=20)
    )
    clock = {"now": T0 + timedelta(hours=1)}

    def call(payload: dict[str, Any]) -> dict[str, Any]:
        result = step(payload, reprocessor, now=clock["now"])
        clock["now"] += timedelta(seconds=2)
        if payload["action"] == "request" and answer is not None:  # the job answers the request
            (item,) = result["items"]
            images.append(samples.event(answer, causation_id=item["request"], at=clock["now"], **answered))
        return result

    return Child(uploads_map(deployed())["ItemProcessor"], call), images


ITEM = {"item": {"Key": f"uploads/{samples.IMAGE}.jpg", "Etag": '"e"'}, "run": "run-1"}


def test_a_child_asks_waits_checks_and_ends_with_its_outcome() -> None:
    child, _ = _child(EventType.RENDITIONS_CREATED, specVersion="bbbbbbbbbbbb", reprocess=True)
    assert child.run(ITEM) == {"outcomes": {"rendered": 1}}
    assert child.waited == 2


def test_a_child_whose_image_the_job_refuses_fails_with_the_reason() -> None:
    child, _ = _child(EventType.IMAGE_REJECTED, reason="truncated", message="cut short", reprocess=True)
    with pytest.raises(ChildFailed) as failed:
        child.run(ITEM)
    assert failed.value.error == "ReprocessItemFailed"
    assert failed.value.cause == f"uploads/{samples.IMAGE}.jpg: truncated (cut short)"


def test_a_child_that_gets_no_answer_gives_up_after_the_answer_timeout() -> None:
    child, _ = _child(None)
    with pytest.raises(ChildFailed, match="stalled"):
        child.run(ITEM)
    assert child.waited > 20


# ---------------------------------------------------------------- rights and wiring
def _statements(stack: Deployed, role: str) -> list[dict[str, Any]]:
    found = []
    for policy in stack.properties(role).get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


def _allows(stack: Deployed, action: str, resource: str, role: str = "ReprocessWorkflowRole") -> bool:
    return any(
        s["Effect"] == "Allow"
        and action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        and any(re.fullmatch(_rendered(r, stack).replace("*", ".*"), resource) for r in _listed(s["Resource"]))
        for s in _statements(stack, role)
    )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_workflow_may_run_its_children_and_list_only_the_uploads() -> None:
    stack = deployed()
    own = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{PSEUDO['AWS::StackName']}-ReprocessWorkflow"
    assert _allows(stack, "states:StartExecution", own)
    assert not _allows(stack, "states:StartExecution", f"{own}-not")
    assert _rendered(stack.properties("ReprocessWorkflow")["StateMachineName"], stack) == own.rsplit(":", 1)[1]
    (listing,) = [s for s in _statements(stack, "ReprocessWorkflowRole") if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "uploads/*"}}
    (invoke,) = [s for s in _statements(stack, "ReprocessWorkflowRole") if s["Action"] == "lambda:InvokeFunction"]
    assert {referenced(r) or _rendered(r, stack) for r in invoke["Resource"]} == {
        "ReprocessItemFunction",
        "<ReprocessItemFunction.Arn>:*",
    }


def test_the_item_function_may_only_read_and_append_the_image_log_and_feed_the_renditions_queue() -> None:
    stack = deployed()
    role = str(referenced(stack.properties("ReprocessItemFunction")["Role"]))
    by_action = {a: s for s in _statements(stack, role) for a in _listed(s["Action"]) if not a.startswith("sts:")}
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{REPROCESS_WIRING['ImagesTableName']}"
    assert {a for a in by_action if a.startswith("dynamodb:")} == {"dynamodb:Query", "dynamodb:PutItem"}
    assert _rendered(by_action["dynamodb:PutItem"]["Resource"], stack) == table
    assert by_action["sqs:SendMessage"]["Resource"] == REPROCESS_WIRING["RenditionQueueArn"]


def test_the_app_stack_gives_every_parameter_the_reprocess_stack_needs() -> None:
    app, reprocess = template.load(), template.load(REPROCESS)
    required = {name for name, spec in reprocess["Parameters"].items() if "Default" not in spec}
    assert required == set(WIRED_OUTPUTS)
    assert set(WIRED_OUTPUTS) <= set(app["Outputs"])
    assert set(WIRED_PARAMETERS) <= set(app["Parameters"]) & set(reprocess["Parameters"])
    source = app["Mappings"]["Pipeline"]["Events"]["Source"]
    assert reprocess["Mappings"]["Pipeline"]["Events"]["Source"] == source
