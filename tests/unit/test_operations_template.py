"""The template's operations section: every function, queue and DLQ is watched, the dashboard is
valid JSON showing all of them, and the API's gradual deployments roll back on the API alarms."""

import json
import re
from typing import Any

from tests import template

ALARM = "AWS::CloudWatch::Alarm"


def _alarms() -> dict[str, dict[str, Any]]:
    return {name: alarm["Properties"] for name, alarm in template.resources(ALARM).items()}


def _watched_functions(alarm: dict[str, Any], metric: str) -> set[str]:
    return {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for query in alarm["Metrics"]
        if "MetricStat" in query and query["MetricStat"]["Metric"]["MetricName"] == metric
    }


def test_errors_and_throttles_of_every_function_raise_an_alarm() -> None:
    functions = set(template.function_ids())
    assert _watched_functions(_alarms()["FunctionErrorsAlarm"], "Errors") == functions
    assert _watched_functions(_alarms()["FunctionThrottlesAlarm"], "Throttles") == functions


def test_every_queue_and_dead_letter_queue_is_watched() -> None:
    watched = {
        (alarm.get("MetricName"), alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0])
        for alarm in _alarms().values()
        if alarm.get("Namespace") == "AWS/SQS"
    }
    for queue in template.resources("AWS::SQS::Queue"):
        metric = "ApproximateNumberOfMessagesVisible" if queue.endswith("DLQ") else "ApproximateAgeOfOldestMessage"
        assert (metric, queue) in watched, queue


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


def _dashboard() -> tuple[str, dict[str, Any]]:
    body, variables = template.load()["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return body, variables


def test_the_dashboard_is_valid_json_and_shows_every_function_and_queue() -> None:
    body, variables = _dashboard()
    rendered = body
    for name, value in variables.items():
        rendered = rendered.replace(f"${{{name}}}", value["Fn::Sub"])
    placeholders = set(re.findall(r"\$\{([^}]+)\}", rendered))
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", rendered))["widgets"]
    assert len(widgets) >= 10
    for function in template.function_ids():
        assert function in placeholders, function
    for queue in template.resources("AWS::SQS::Queue"):
        assert f"{queue}.QueueName" in placeholders, queue
    for series in ("Errors", "Throttles", "Duration"):
        assert variables[series]["Fn::Sub"].count("${") == len(template.function_ids()), series
    titles = [w["properties"]["title"] for w in widgets]
    assert any("latency" in t.lower() for t in titles)
    assert any("per job" in t for t in titles)
