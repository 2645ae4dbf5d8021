"""The catalogue (image_pipeline/catalogue.py) is the one description of the event graph; the code
and template.yaml follow it. These tests read the graph off the template as CloudFormation would
create it and hold it to the catalogue: every job's function is wired to every upload (and never to
an output), the tracker hears every event type, each job has its operation and its response its
schema, and every function is logged and watched. None of them lists the jobs or the responses.
"""

import copy
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

import pytest
from moto.events.models import EventPattern

from image_pipeline import catalogue, contracts
from image_pipeline.aws.upload_jobs import JobRunner
from image_pipeline.catalogue import JOBS, EventType, Job
from tests import template
from tests.conftest import load_event
from tests.template import Deployed, referenced

BUCKET = "images-bucket"
HUB = "arn:aws:events:us-east-1:222222222222:event-bus/hub-central"


@pytest.fixture(scope="module")
def app() -> Deployed:
    """The app as deployed on AWS with forwarding to a hub (every rule exists)."""
    return Deployed.of(template.APP, CentralBusArn=HUB)


@pytest.fixture(scope="module")
def push() -> Deployed:
    """The push beside it, given the app's outputs (names as tests give resources)."""
    given = {
        name: template.resolve({"Ref": name}, template.PUSH)
        for name, spec in template.load(template.PUSH)["Parameters"].items()
        if "Default" not in spec
    }
    return Deployed.of(template.PUSH, **given)


def _matches(deployed: Deployed, pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's pattern semantics (moto's engine), with the bucket's name filled in."""
    concrete = json.loads(json.dumps(pattern).replace(json.dumps({"Ref": "ImagesBucket"}), json.dumps(BUCKET)))
    return bool(EventPattern.load(json.dumps(concrete)).matches_event(cast("Any", event)))


def _created(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    event = load_event("object-created.json")
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    return event


def _rules_reaching(deployed: Deployed, target: str) -> list[dict[str, Any]]:
    return [
        rule["Properties"]
        for rule in deployed.of_type("AWS::Events::Rule").values()
        if any(referenced(t["Arn"]) == target for t in rule["Properties"]["Targets"])
    ]


def _feeds(deployed: Deployed, function: str) -> list[str]:
    """The queues an event source mapping takes to the function."""
    return [
        str(referenced(m["Properties"]["EventSourceArn"]))
        for m in deployed.of_type("AWS::Lambda::EventSourceMapping").values()
        if referenced(m["Properties"]["FunctionName"]) == function
    ]


def _upload_rules(deployed: Deployed, function: str) -> list[dict[str, Any]]:
    """The rules that bring uploads to the function: directly, or through the queue feeding it."""
    rules = _rules_reaching(deployed, function)
    for queue in _feeds(deployed, function):
        rules += _rules_reaching(deployed, queue)
    return rules


# ---------------------------------------------------------------- the jobs
@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.name)
def test_every_upload_reaches_each_job_once_and_no_output_ever_does(app: Deployed, job: Job) -> None:
    # Given any object created under uploads/ by any client, and an output the job writes
    upload, output = _created("uploads/holiday photo.jpg"), _created("outputs/abc/1/thumbnail.jpg")
    rules = _upload_rules(app, job.function)
    # Then exactly one rule of the default bus brings the upload to the job, and none an output
    assert [r for r in rules if "EventBusName" not in r and _matches(app, r["EventPattern"], upload)] != []
    assert len([r for r in rules if _matches(app, r["EventPattern"], upload)]) == 1
    assert not any(_matches(app, r["EventPattern"], output) for r in rules)
    assert not any(_matches(app, r["EventPattern"], _created("uploads/x.jpg", "another-bucket")) for r in rules)
    # And a queued job reads its queue in batches, a direct one is invoked by the rule itself
    assert bool(_feeds(app, job.function)) == job.queued


def test_the_intake_announces_every_upload_and_owns_the_request_every_job_answers(app: Deployed) -> None:
    (announcer,) = [p for p in catalogue.PRODUCERS if EventType.IMAGE_UPLOADED in p.publishes]
    (rule,) = _upload_rules(app, announcer.function)
    assert _matches(app, rule["EventPattern"], _created("uploads/a.png"))
    assert catalogue.PAIRINGS[EventType.IMAGE_UPLOADED] == {job.response for job in JOBS}


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.name)
def test_every_job_has_its_operation_its_handler_and_a_schema_for_its_answer(
    job: Job, load_handler: Callable[..., ModuleType]
) -> None:
    assert job.response.value in {s.detail_type for s in contracts.registered()}
    assert catalogue.owners(job.response) == {job.function}
    # the function's handler runs this job, under this job's name, with an operation for it
    # (processing.OPERATIONS, or the function's own: recognition's backend is the deployment's)
    runners = [v for v in vars(load_handler(job.function)).values() if isinstance(v, JobRunner)]
    assert [runner.job for runner in runners] == [job]
    assert job.name in runners[0].operations


def test_job_names_and_responses_are_unique() -> None:
    assert len({j.name for j in JOBS}) == len(JOBS)
    assert len({j.response for j in JOBS}) == len(JOBS)
    assert len({j.function for j in JOBS}) == len(JOBS)


@pytest.mark.parametrize("detail_type", ["ImageRejected", "ImageProcessingFailed", "UploadSuperseded"])
def test_a_jobs_outcome_names_any_job_of_the_catalogue_and_nothing_else(detail_type: str) -> None:
    detail = copy.deepcopy(load_event("app-thumbnail-created.json")["detail"])
    for job in JOBS:
        detail["metadata"]["producer"] = job.function
        detail["data"] = {"reason": "truncated", "message": "cut short", "job": job.name}
        contracts.validate(detail_type, detail)
        detail["data"]["job"] = f"{job.name}-not"
        with pytest.raises(contracts.ContractViolation, match="job"):
            contracts.validate(detail_type, detail)


# ---------------------------------------------------------------- the app bus
def _app_event(event_type: EventType, source: str = catalogue.SOURCE) -> dict[str, Any]:
    event = load_event("app-thumbnail-created.json")
    return {**event, "source": source, "detail-type": event_type.value}


def test_the_tracker_hears_every_event_type_of_the_catalogue_on_the_app_bus_and_nothing_else(app: Deployed) -> None:
    (rule,) = _rules_reaching(app, "TrackerFunction")
    assert rule["EventBusName"] == {"Ref": "AppBus"}
    for event_type in EventType:
        assert _matches(app, rule["EventPattern"], _app_event(event_type)), event_type
    assert not _matches(app, rule["EventPattern"], _app_event(EventType.THUMBNAIL_CREATED, "valid.image-pipeline"))


def test_every_pipeline_event_is_forwarded_to_the_hub_and_no_republished_one(app: Deployed) -> None:
    (rule,) = [
        r["Properties"]
        for r in app.of_type("AWS::Events::Rule").values()
        if any(t["Arn"] == HUB for t in r["Properties"]["Targets"])
    ]
    for event_type in EventType:
        assert _matches(app, rule["EventPattern"], _app_event(event_type)), event_type
    assert not _matches(app, rule["EventPattern"], _app_event(EventType.THUMBNAIL_CREATED, "valid.image-pipeline"))


def test_the_template_and_the_catalogue_name_the_same_source_and_producers(app: Deployed, push: Deployed) -> None:
    # every producer's function is in the app, or in the push beside it (receipts), once
    for deployed in (app, push):
        assert deployed.raw["Mappings"]["Pipeline"]["Events"]["Source"] == catalogue.SOURCE
    functions = [*app.of_type("AWS::Lambda::Function"), *push.of_type("AWS::Lambda::Function")]
    assert len(set(functions)) == len(functions)
    # a producer's function is in the template it names (the app's, or a stack beside it)
    for producer in catalogue.PRODUCERS:
        assert producer.function in template.function_ids(producer.template), producer
    assert {p.function for p in catalogue.PRODUCERS if catalogue.RECEIPTS & p.publishes} <= set(
        push.of_type("AWS::Lambda::Function")
    )
    assert len({p.name for p in catalogue.PRODUCERS}) == len(catalogue.PRODUCERS)
    assert set(catalogue.VERSIONS) == set(EventType)
    for event_type, version in catalogue.VERSIONS.items():
        assert contracts.SchemaId(event_type.value, version).file.is_file(), event_type


# ---------------------------------------------------------------- every function watched
@pytest.mark.parametrize("stack", ["app", "push"])
def test_every_function_has_a_log_group_with_the_stacks_retention_and_alarms_on_errors_and_throttles(
    stack: str, request: pytest.FixtureRequest
) -> None:
    app: Deployed = request.getfixturevalue(stack)
    groups = [g["Properties"] for g in app.of_type("AWS::Logs::LogGroup").values()]
    alarms = [a["Properties"] for a in app.of_type("AWS::CloudWatch::Alarm").values()]
    for function in app.of_type("AWS::Lambda::Function"):
        group = {"Fn::Sub": ["/aws/lambda/${Name}", {"Name": {"Ref": function}}]}
        assert any(g.get("LogGroupName") in (group, {"Fn::Sub": f"/aws/lambda/${{{function}}}"}) for g in groups), (
            function
        )
        assert all(g["RetentionInDays"] == app.values["LogRetentionInDays"] for g in groups)
        for metric in ("Errors", "Throttles"):
            assert any(
                a["Namespace"] == "AWS/Lambda"
                and a["MetricName"] == metric
                and {"Name": "FunctionName", "Value": {"Ref": function}} in a["Dimensions"]
                and a["AlarmActions"]
                for a in alarms
            ), f"{function}: no {metric} alarm"
