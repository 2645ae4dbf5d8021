"""The template's operations section: every function, queue and DLQ is watched, the dashboard is
valid JSON showing all of them, and the API's gradual deployments roll back on the API alarms."""

import json
import re
from typing import Any

from tests import template
from tests.template import Deployed, referenced

ALARM = "AWS::CloudWatch::Alarm"


def _alarms() -> dict[str, dict[str, Any]]:
    return {name: alarm["Properties"] for name, alarm in template.resources(ALARM).items()}


def test_every_queue_feeding_a_function_is_watched_for_a_backlog() -> None:
    # (dead-letter queues, every function's errors and throttles: test_invariants, test_event_graph)
    deployed = Deployed.of(template.APP)
    watched = {
        referenced(alarm["Properties"]["Dimensions"][0]["Value"])
        for alarm in deployed.of_type(ALARM).values()
        if alarm["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
    }
    for mapping in deployed.of_type("AWS::Lambda::EventSourceMapping").values():
        assert referenced(mapping["Properties"]["EventSourceArn"]) in watched


def test_every_alarm_notifies_the_alarm_topic_which_can_mail_someone() -> None:
    for name, alarm in _alarms().items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["TreatMissingData"] == "notBreaching", name
    subscription = template.load()["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert template.load()["Parameters"]["AlarmEmail"]["Default"] == ""


def test_the_api_deploys_gradually_and_rolls_back_on_the_api_alarms() -> None:
    api = template.function_properties("ApiFunction")
    assert api["AutoPublishAlias"] == "live"
    preference = api["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "ApiDeploymentStrategy"}
    assert preference["Enabled"] == {"Fn::FindInMap": ["GradualDeployments", {"Ref": "LocalEmulator"}, "Enabled"]}
    rollback_on = {alarm["Ref"] for alarm in preference["Alarms"]}
    assert rollback_on == {"ApiServerErrorsAlarm", "ApiLatencyAlarm", "ApiFunctionErrorsAlarm"}
    assert all(template.load()["Resources"][alarm].get("Condition") is None for alarm in rollback_on)
    strategies = template.load()["Parameters"]["ApiDeploymentStrategy"]
    assert strategies["Default"].startswith("Canary")
    assert "AllAtOnce" in strategies["AllowedValues"]
    # the switch is decided before SAM expands DeploymentPreference, from the stack's parameters
    assert template.load()["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]


def test_the_api_alarms_watch_the_p90_latency_and_server_errors_of_this_api() -> None:
    alarms = _alarms()
    for name in ("ApiServerErrorsAlarm", "ApiLatencyAlarm"):
        dimensions = {d["Name"]: d["Value"] for d in alarms[name]["Dimensions"]}
        assert dimensions == {"ApiName": {"Ref": "AWS::StackName"}, "Stage": {"Ref": "ApiStageName"}}
    assert alarms["ApiServerErrorsAlarm"]["MetricName"] == "5XXError"
    assert alarms["ApiLatencyAlarm"]["ExtendedStatistic"] == "p90"


def _dashboard() -> str:
    body = template.load()["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return str(body)


def test_the_dashboard_is_valid_json_and_finds_every_function_and_job_by_search() -> None:
    body = _dashboard()
    rendered = re.sub(r"\$\{[^}]+\}", "x", body.replace("${AWS::StackName}", "STACK"))
    widgets = json.loads(rendered)["widgets"]
    assert len(widgets) >= 10
    metrics = [m for w in widgets for row in w["properties"]["metrics"] for m in row if isinstance(m, dict)]
    searches = [m["expression"] for m in metrics if "expression" in m]
    # the stack's functions (named after it), whatever they are: a new one appears without an edit
    for metric in ("Errors", "Throttles", "Duration"):
        assert any(f'MetricName="{metric}"' in e and "STACK" in e for e in searches), metric
    for metric in ("ProcessingTime", "ImagesProcessed", "ImagesRejected"):
        assert any(f'MetricName="{metric}"' in e and "job" in e for e in searches), metric
    for queue in {q for q in template.resources("AWS::SQS::Queue") if not q.endswith("DLQ")}:
        assert f"${{{queue}.QueueName}}" in body, queue
