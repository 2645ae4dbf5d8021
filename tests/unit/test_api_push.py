"""POST /images and the push: an optional callbackUrl, checked before anything is recorded (a
refusal is a 400 naming the field) and kept on the image's record; the watch object when a push
stack is deployed beside the app (its URL found in SSM), null when none is. Through the real
handler and adapters (moto), as Lambda runs it."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.notify.callbacks import MAX_URL_LENGTH
from image_pipeline.notify.watch import TOKEN_TTL, check_watch_token
from tests import template
from tests.conftest import load_event
from tests.fakes import RecordingEditStarter, RecordingPublisher
from tests.notify_fakes import WATCH_KEY as WATCH_KEY_OF_FAKES
from tests.notify_fakes import FakeResolver, api_push
from tests.notify_samples import IMAGE, processed_image

PUBLIC = "https://93.184.216.34/hooks/images"  # a public address: no lookup needed
STAGE = "wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1"
WATCH_KEY = "w" * 64
Call = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def api(aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object) -> Call:
    module = load_handler("ApiFunction")

    def call(body: dict[str, Any], **handler: Any) -> tuple[int, dict[str, Any]]:
        event = load_event("api-post-images.json")
        event["body"] = json.dumps(body)
        response = module.lambda_handler(event, lambda_context, **handler)
        return int(response["statusCode"]), json.loads(response["body"])

    return call


def _images(aws: SimpleNamespace) -> list[str]:
    return [r.image_id for r in DynamoImageLog(aws.ImagesTable).list_images(limit=100).images]


def _with_callback(url: str) -> dict[str, Any]:
    return {"filename": "a.jpg", "contentType": "image/jpeg", "callbackUrl": url}


# ---------------------------------------------------------------- callbackUrl
def test_a_callback_url_is_kept_on_the_images_record(api: Call, aws: SimpleNamespace) -> None:
    status, created = api(_with_callback(PUBLIC))
    assert status == 201
    record = DynamoImageLog(aws.ImagesTable).get_image(created["imageId"])
    assert record is not None
    assert record.callback_url == PUBLIC
    # and without one there is none
    _, plain = api({"filename": "a.jpg", "contentType": "image/jpeg"})
    plain_record = DynamoImageLog(aws.ImagesTable).get_image(plain["imageId"])
    assert plain_record is not None
    assert plain_record.callback_url is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.216.34/hooks", "https"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),  # the instance metadata endpoint
        ("https://10.0.0.7/hooks", "private"),
        ("https://127.0.0.1/hooks", "loopback"),
        ("http://127.0.0.1:8080/hooks", "https"),  # loopback receivers: only where the stack allows them
        ("https://93.184.216.34:22/hooks", "port 22"),
        ("https://93.184.216.34:1023/hooks", "port 1023"),  # just below the unprivileged ports
        ("https://user:pw@93.184.216.34/hooks", "user info"),
        ("https://0x7f.1/hooks", "non-standard"),
        ("https://rebound.example.com/hooks", "private"),  # a name that resolves to a private address
        ("https://nowhere.example.com/hooks", "does not resolve"),
        ("ftp://93.184.216.34/hooks", "https"),
    ],
)
def test_a_callback_url_the_stack_may_not_call_is_refused_naming_the_field_and_nothing_is_recorded(
    api: Call, aws: SimpleNamespace, url: str, why: str
) -> None:
    resolver = FakeResolver({"rebound.example.com": ["93.184.216.34", "10.1.2.3"]})
    status, body = api(_with_callback(url), push=api_push(resolver=resolver))
    assert status == 400
    assert body["code"] == "INVALID_REQUEST"
    (problem,) = body["errors"]
    assert problem["field"] == "callbackUrl"
    assert why in problem["reason"]
    assert _images(aws) == []


def test_a_callback_url_at_the_length_limit_is_taken_and_one_character_more_is_refused(
    api: Call, aws: SimpleNamespace
) -> None:
    longest = PUBLIC + "/" + "a" * (MAX_URL_LENGTH - len(PUBLIC) - 1)
    assert len(longest) == MAX_URL_LENGTH
    assert api(_with_callback(longest))[0] == 201
    status, body = api(_with_callback(longest + "a"))
    assert status == 400
    assert [e["field"] for e in body["errors"]] == ["callbackUrl"]
    assert len(_images(aws)) == 1


@pytest.mark.parametrize("port", [1024, 65535, 443])
def test_a_callback_on_an_unprivileged_port_or_443_is_taken(api: Call, port: int) -> None:
    assert api(_with_callback(f"https://93.184.216.34:{port}/hooks"))[0] == 201


def test_a_host_name_is_checked_by_every_address_it_resolves_to(api: Call) -> None:
    resolver = FakeResolver({"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})
    assert api(_with_callback("https://hooks.example.com/images"), push=api_push(resolver=resolver))[0] == 201
    assert resolver.lookups == ["hooks.example.com"]


def test_loopback_receivers_are_taken_only_where_the_deployment_allows_them(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    event = load_event("api-post-images.json")
    event["body"] = json.dumps(_with_callback("http://127.0.0.1:8080/hooks"))
    # (the template's defaults: no; the local engine's deployment: AllowLoopbackCallbacks=true)
    assert template.function_environment("ApiFunction")["ALLOW_LOOPBACK_CALLBACKS"] == "false"
    refused = load_handler("ApiFunction").lambda_handler(event, lambda_context)
    assert refused["statusCode"] == 400
    local = load_handler("ApiFunction", ALLOW_LOOPBACK_CALLBACKS="true").lambda_handler(event, lambda_context)
    assert local["statusCode"] == 201


# ---------------------------------------------------------------- the watch object
def test_without_a_push_stack_there_is_no_watch_object(api: Call) -> None:
    status, created = api({"filename": "a.jpg", "contentType": "image/jpeg"})
    assert status == 201
    assert created["watch"] is None


def test_with_a_push_stack_the_watch_url_is_its_stage_with_a_token_for_this_image_only(
    api: Call, aws: SimpleNamespace
) -> None:
    # Given the push stack deployed beside the app: its stage's URL where the app's API looks
    environment = template.function_environment("ApiFunction")
    boto3.client("ssm").put_parameter(Name=environment["WATCH_URL_PARAMETER"], Value=STAGE, Type="String")
    boto3.client("secretsmanager").create_secret(Name=environment["WATCH_SECRET_ARN"], SecretString=WATCH_KEY)
    # When a client starts an upload
    before = datetime.now(UTC).replace(microsecond=0)
    status, created = api({"filename": "a.jpg", "contentType": "image/jpeg"})
    # Then it is told where to watch it: the stage, with a token for this image, for 15 minutes
    assert status == 201
    url, expires = created["watch"]["url"], datetime.fromisoformat(created["watch"]["expiresAt"])
    assert url.startswith(f"{STAGE}?token=")
    token = url.split("token=")[1]
    assert check_watch_token(token, [WATCH_KEY.encode()], datetime.now(UTC)) == created["imageId"]
    assert before + TOKEN_TTL <= expires <= datetime.now(UTC) + TOKEN_TTL
    with pytest.raises(ValueError, match="expired"):
        check_watch_token(token, [WATCH_KEY.encode()], expires)
    # and another image's URL carries another image's token
    _, other = api({"filename": "b.jpg", "contentType": "image/jpeg"})
    assert (
        check_watch_token(other["watch"]["url"].split("token=")[1], [WATCH_KEY.encode()], before) == (other["imageId"])
    )


def test_an_edit_is_watched_on_its_images_url(
    aws: SimpleNamespace, load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    # Given a processed image, and a push stack beside the app
    log = DynamoImageLog(aws.ImagesTable)
    processed_image(log)
    event = load_event("api-get-image.json")
    event.update(httpMethod="POST", path=f"/images/{IMAGE}/edits", resource="/images/{imageId}/edits")
    event.update(pathParameters={"imageId": IMAGE}, body=json.dumps({"operations": [{"filter": "sepia"}]}))
    # When an edit of it is asked for
    adapters = (S3ObjectStore(), log, RecordingEditStarter(), RecordingPublisher())
    answer = load_handler("ApiFunction").lambda_handler(event, lambda_context, adapters=adapters, push=api_push(STAGE))
    # Then the answer says where to watch it: the image's watch URL (edits are heard there too)
    assert answer["statusCode"] == 202
    token = json.loads(answer["body"])["watch"]["url"].split("token=")[1]
    assert check_watch_token(token, [WATCH_KEY_OF_FAKES.encode()], datetime.now(UTC)) == IMAGE
