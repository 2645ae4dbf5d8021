"""The push stack (push/template.yaml) and the app's side of it, by what they mean once deployed
(both templates as SAM expands them): which events reach the notifier and the webhook queue, that
the app's API finds the push's watch URL and nothing else, loopback callbacks only on the local
engine, each secret generated as its user needs it and read only by the functions that sign or
check with it, a WebSocket API that only admits and forgets watchers, and a retry queue whose
timings fit the sender's."""

import itertools
import json
import re
import string
from typing import Any, cast

import pytest
from moto.events.models import EventPattern

from image_pipeline import catalogue
from image_pipeline.catalogue import EventType
from image_pipeline.notify.callbacks import CallbackPolicy
from image_pipeline.notify.delivery import WebhookConfig
from image_pipeline.notify.signing import MAX_SECRET_BYTES, MIN_SECRET_BYTES, WebhookSecret
from image_pipeline.notify.watch import MIN_KEY_BYTES, client_endpoint, management_endpoint
from image_pipeline.settings import ApiSettings, WebhookSettings
from tests import samples, template
from tests.notify_samples import as_eventbridge, status_changed
from tests.template import ACCOUNT, APP, PUSH, ROOT, Deployed, referenced

APP_STACK = "my-images"
# The push as `make deploy-local` and the README deploy it: the app stack's name and outputs.
GIVEN = {
    "AppStackName": APP_STACK,
    "AppBusName": f"{APP_STACK}-app",
    "ImagesTableName": f"{APP_STACK}-ImagesTable-1A2B3C",
    "ImagesBucketName": f"{APP_STACK}-imagesbucket-1a2b3c",
    "WatchTokenSecretArn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:WatchTokenSecret-AbCdEf",
    "AlarmTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:{APP_STACK}-AlarmTopic-1A2B3C",
}


@pytest.fixture(scope="module")
def push() -> Deployed:
    return Deployed.of(PUSH, **GIVEN)


def _rules_to(deployed: Deployed, target: str) -> list[dict[str, Any]]:
    return [
        rule["Properties"]
        for rule in deployed.of_type("AWS::Events::Rule").values()
        if any(referenced(t["Arn"]) == target for t in rule["Properties"]["Targets"])
    ]


def _matches(rule: dict[str, Any], event: dict[str, Any]) -> bool:
    return bool(EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(cast("Any", event)))


def _every_event_type() -> list[dict[str, Any]]:
    """One event of every type of the catalogue as its producer puts it on the app bus, plus the
    hub's republish of a final status (never this app's own)."""
    events = [as_eventbridge(samples.event(t)) for t in EventType]
    republished = as_eventbridge(status_changed(1, "COMPLETE", final=True))
    republished["source"] = f"valid.{catalogue.SOURCE}"
    return [*events, republished]


def _status_changes() -> list[dict[str, Any]]:
    return [
        as_eventbridge(status_changed(1, "PROCESSING")),
        as_eventbridge(status_changed(2, "COMPLETE", final=True)),
        as_eventbridge(status_changed(1, "RUNNING", edit_id="e" * 32)),
        as_eventbridge(status_changed(2, "FAILED", final=True, edit_id="e" * 32)),
    ]


# ---------------------------------------------------------------- what reaches the notifier and the sender
def test_every_status_change_on_the_app_bus_reaches_the_notifier_and_nothing_else(push: Deployed) -> None:
    (rule,) = _rules_to(push, "NotifierFunction")
    assert rule["EventBusName"] == GIVEN["AppBusName"]
    for change in _status_changes():
        assert _matches(rule, change), change["detail"]["data"]
    heard = {e["detail-type"] for e in _every_event_type() if _matches(rule, e) and e["source"] == catalogue.SOURCE}
    assert heard == {EventType.IMAGE_STATUS_CHANGED, EventType.EDIT_STATUS_CHANGED}
    assert not any(_matches(rule, e) for e in _every_event_type() if e["source"] != catalogue.SOURCE)


def test_only_final_status_changes_reach_the_webhook_queue(push: Deployed) -> None:
    (queue,) = [m["Properties"] for m in push.of_type("AWS::Lambda::EventSourceMapping").values()]
    assert referenced(queue["FunctionName"]) == "WebhookSender"
    (rule,) = _rules_to(push, str(referenced(queue["EventSourceArn"])))
    assert rule["EventBusName"] == GIVEN["AppBusName"]
    final = [e for e in _status_changes() if e["detail"]["data"]["final"]]
    assert [e for e in _status_changes() if _matches(rule, e)] == final
    # (the samples of both are final; the hub's republish is not this app's own)
    passed = sorted((e["source"], e["detail-type"]) for e in _every_event_type() if _matches(rule, e))
    assert passed == [
        (catalogue.SOURCE, EventType.EDIT_STATUS_CHANGED),
        (catalogue.SOURCE, EventType.IMAGE_STATUS_CHANGED),
    ]


# ---------------------------------------------------------------- the app finds the push
def test_the_apps_api_reads_exactly_the_parameter_the_push_writes_its_watch_url_to(push: Deployed) -> None:
    app = Deployed.of(APP)
    (parameter,) = push.of_type("AWS::SSM::Parameter").values()
    # the app deployed as stack X reads /X/push/watch-url; the push given AppStackName=X writes it
    api = app.properties("ApiFunction")["Environment"]["Variables"]
    written = Deployed.of(PUSH, **{**GIVEN, "AppStackName": "test-stack"}).of_type("AWS::SSM::Parameter")
    assert [p["Properties"]["Name"] for p in written.values()] == [api["WATCH_URL_PARAMETER"]]
    assert parameter["Properties"]["Name"] == f"/{APP_STACK}/push/watch-url"
    # ... may read it and no other parameter
    reads = [
        s
        for s in _role_statements(app, "ApiFunction")
        if s["Effect"] == "Allow" and any(str(a).startswith("ssm:") for a in _listed(s["Action"]))
    ]
    assert reads == [
        {
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{api['WATCH_URL_PARAMETER']}",
        }
    ]
    # and what it finds is the stage the notifier pushes on, in the form the settings take
    notifier = push.properties("NotifierFunction")["Environment"]["Variables"]
    assert parameter["Properties"]["Value"] == notifier["WATCH_ENDPOINT"] == push.raw["Outputs"]["WatchUrl"]["Value"]


def _makefile_variable(name: str) -> str:
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")  # continuation lines joined
    found = re.search(rf"^{name} :=(.*)$", makefile, re.MULTILINE)
    assert found is not None, name
    return found.group(1)


def test_the_push_is_given_every_parameter_it_needs_from_the_app_stack() -> None:
    # The push's required parameters are the app's name and outputs of the same names, as the
    # local deploy (Makefile) and the README's AWS commands give them; StallTimeoutSeconds is the app's.
    declared, app = template.load(PUSH)["Parameters"], template.load(APP)
    from_outputs = set(_makefile_variable("PUSH_FROM_APP").split())
    assert {name for name, spec in declared.items() if "Default" not in spec} == {"AppStackName", *from_outputs}
    assert from_outputs <= set(app["Outputs"])
    assert "StallTimeoutSeconds=$(STALL_TIMEOUT_SECONDS)" in _makefile_variable("PUSH_PARAMS")
    assert "StallTimeoutSeconds=$(STALL_TIMEOUT_SECONDS)" in _makefile_variable("LOCAL_PARAMS")
    assert declared["StallTimeoutSeconds"]["Default"] == app["Parameters"]["StallTimeoutSeconds"]["Default"]
    readme = (ROOT / "README.md").read_text()
    (command,) = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.DOTALL) if "push/template.yaml" in b]
    assert all(f" {name}" in command for name in from_outputs)
    assert "AppStackName=" in command
    assert "StallTimeoutSeconds=" in command


# ---------------------------------------------------------------- loopback receivers: the local engine only
@pytest.mark.parametrize(("local_emulator", "allow"), list(itertools.product(["false", "true"], repeat=2)))
def test_loopback_callbacks_are_possible_only_on_the_local_engine_when_asked_for(
    local_emulator: str, allow: str
) -> None:
    wanted = local_emulator == allow == "true"
    parameters = {"LocalEmulator": local_emulator, "AllowLoopbackCallbacks": allow}
    # the sender (where it POSTs) and the API (what it accepts) decide alike
    sender = Deployed.of(PUSH, **GIVEN, **parameters).properties("WebhookSender")["Environment"]["Variables"]
    api = Deployed.of(APP, **parameters).properties("ApiFunction")["Environment"]["Variables"]
    for variables, settings in ((sender, WebhookSettings), (api, ApiSettings)):
        assert settings.model_fields["allow_loopback_callbacks"].annotation is bool
        assert (variables["ALLOW_LOOPBACK_CALLBACKS"] == "true") is wanted
    assert template.load(PUSH)["Parameters"]["AllowLoopbackCallbacks"]["Default"] == "false"
    assert template.load(APP)["Parameters"]["AllowLoopbackCallbacks"]["Default"] == "false"


def test_local_deployments_turn_loopback_callbacks_on_so_a_test_receiver_can_get_them() -> None:
    for variable in ("LOCAL_PARAMS", "PUSH_PARAMS"):  # the app's and the push's
        assert "AllowLoopbackCallbacks=true" in _makefile_variable(variable), variable


# ---------------------------------------------------------------- secrets
def _generated(deployed: Deployed, secret: str) -> tuple[str, int]:
    """The alphabet and length a generated secret's value is drawn from."""
    properties = deployed.properties(secret)
    assert "SecretString" not in properties  # never a value in the template
    generated = properties["GenerateSecretString"]
    excluded = set(generated.get("ExcludeCharacters", ""))
    if generated.get("ExcludePunctuation"):
        excluded |= set(string.punctuation)
    alphabet = "".join(c for c in string.ascii_letters + string.digits + string.punctuation if c not in excluded)
    return alphabet, int(generated["PasswordLength"])


def test_the_webhook_secret_is_generated_as_a_key_the_signer_takes(push: Deployed) -> None:
    alphabet, length = _generated(push, "WebhookSecret")
    assert set(alphabet) <= set(string.ascii_letters + string.digits + "+/")  # base64, on AWS and locally
    key = WebhookSecret.parse((alphabet * length)[:length]).key
    assert MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES
    assert push.raw["Outputs"]["WebhookSecretArn"]["Value"] == {"Ref": "WebhookSecret"}


def test_the_watch_key_is_the_apps_generated_long_enough_and_apart_from_the_webhook_secret() -> None:
    app = Deployed.of(APP)
    _, length = _generated(app, "WatchTokenSecret")
    assert length >= MIN_KEY_BYTES
    assert app.raw["Outputs"]["WatchTokenSecretArn"]["Value"] == {"Ref": "WatchTokenSecret"}
    assert "WebhookSecret" not in app.resources  # receivers hold that one: it must not mint watch tokens


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(deployed: Deployed, function: str) -> list[dict[str, Any]]:
    role = deployed.properties(str(referenced(deployed.properties(function)["Role"])))
    return [s for policy in role.get("Policies", []) for s in _listed(policy["PolicyDocument"]["Statement"])]


def _readers(deployed: Deployed, secret: Any) -> set[str]:
    return {
        function
        for function in deployed.of_type("AWS::Lambda::Function")
        for s in _role_statements(deployed, function)
        if s["Effect"] == "Allow"
        and "secretsmanager:GetSecretValue" in _listed(s["Action"])
        and s["Resource"] == secret
    }


def test_each_secret_is_read_only_by_the_functions_that_sign_or_check_with_it(push: Deployed) -> None:
    app = Deployed.of(APP)
    assert _readers(push, {"Ref": "WebhookSecret"}) == {"WebhookSender"}  # signs webhooks
    # the watch key: the app's API signs tokens, the push's $connect checks them (given the app's output)
    assert _readers(app, {"Ref": "WatchTokenSecret"}) == {"ApiFunction"}
    assert _readers(push, GIVEN["WatchTokenSecretArn"]) == {"WatchFunction"}
    every = {
        f
        for d in (app, push)
        for f in d.of_type("AWS::Lambda::Function")
        for s in _role_statements(d, f)
        if "secretsmanager:GetSecretValue" in _listed(s["Action"])
    }
    assert every == {"WebhookSender", "ApiFunction", "WatchFunction"}


# ---------------------------------------------------------------- the WebSocket API
def test_the_watch_api_only_admits_and_forgets_watchers_through_the_watch_function(push: Deployed) -> None:
    (api,) = push.of_type("AWS::ApiGatewayV2::Api")
    assert push.properties(api)["ProtocolType"] == "WEBSOCKET"
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in push.of_type("AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == {"$connect", "$disconnect"}  # clients send nothing: no message route
    (integration,) = push.of_type("AWS::ApiGatewayV2::Integration")
    for route in routes.values():
        assert route["Target"] == {"Fn::Sub": f"integrations/${{{integration}}}"}
    assert "${WatchFunction.Arn}" in push.properties(integration)["IntegrationUri"]["Fn::Sub"]
    (permission,) = [
        p["Properties"]
        for p in push.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert permission["FunctionName"] == {"Ref": "WatchFunction"}
    assert permission["SourceArn"]["Fn::Sub"].endswith(f":${{{api}}}/*")  # this API only


def test_the_notifier_posts_to_its_stages_connections_only(push: Deployed) -> None:
    endpoint = template.function_environment("NotifierFunction", PUSH)["WATCH_ENDPOINT"]
    api, stage = template.physical_name("WatchApi"), template.physical_name("WatchStage")
    assert client_endpoint(endpoint) == f"wss://{api}.execute-api.us-east-1.amazonaws.com/{stage}"
    local = management_endpoint(endpoint, "http://127.0.0.1:4566")
    assert local == f"http://127.0.0.1:4566/_aws/execute-api/{api}/{stage}"
    (manage,) = [s for s in _role_statements(push, "NotifierFunction") if "execute-api" in str(s["Action"])]
    assert manage["Action"] == "execute-api:ManageConnections"
    assert manage["Resource"]["Fn::Sub"].endswith(":${WatchApi}/${WatchStage}/POST/@connections/*")


# ---------------------------------------------------------------- the retry queue's timings
def test_the_webhook_queue_gives_a_dead_workers_attempt_back_after_its_lease(push: Deployed) -> None:
    sender = push.properties("WebhookSender")
    (source,) = [m["Properties"] for m in push.of_type("AWS::Lambda::EventSourceMapping").values()]
    queue = push.properties(str(referenced(source["EventSourceArn"])))
    config = WebhookConfig(policy=CallbackPolicy(), producer="WebhookSender")
    # a whole batch of receivers that time out fits in one invocation
    assert source["BatchSize"] * config.timeout_seconds < sender["Timeout"]
    # an attempt's lease outlasts the attempt, and lapses before its message comes back
    assert config.timeout_seconds < config.lease.total_seconds() < queue["VisibilityTimeout"]
    # a retry's longest single wait (an SQS delay) fits the queue's retention many times over
    assert queue["MessageRetentionPeriod"] >= 4 * 24 * 3600


def test_the_readme_names_every_parameter_of_the_push() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Results come back", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("| `"))
    for name, spec in template.load(PUSH)["Parameters"].items():
        assert f"`{name}`" in table, name
        assert (
            "Default" not in spec
            or f"`{spec['Default']}`" in table
            or name
            in {
                "Architecture",
                "LogRetentionInDays",
                "LocalEmulator",
            }
        ), name
