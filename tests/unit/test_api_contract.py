"""The REST API's contract: its routes (template, OpenAPI document and README agree), the links
it hands out (they resolve, as RFC 3986 says, to the route that describes what they name), the
one error shape for every refusal, with reasons written for people, and CORS preflights that
API Gateway answers without any function."""

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import urljoin

import pydantic
import pytest

from image_pipeline import api_models, edits
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.rest import images_api, openapi
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.events import EventType, PipelineEvent
from tests import gateway, samples, template
from tests.fakes import RecordingEditStarter, RecordingPublisher
from tests.template import ROOT
from tests.unit.test_sam_cli import expanded_template
from tools import openapi as openapi_tool

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
STAGE = "v1"
INVOKE_URL = f"https://abcdef1234.execute-api.us-east-1.amazonaws.com/{STAGE}"
EDIT = {"operations": [{"crop": {"aspect": "1:1"}}, {"resize": {"width": 100}}], "format": "png"}
Answer = tuple[int, dict[str, list[str]], Any]


@pytest.fixture
def log(aws: SimpleNamespace) -> DynamoImageLog:
    return DynamoImageLog(aws.ImagesTable)


@pytest.fixture
def starter() -> RecordingEditStarter:
    return RecordingEditStarter()


@pytest.fixture
def call(
    log: DynamoImageLog, starter: RecordingEditStarter, load_handler: Callable[..., ModuleType], lambda_context: Any
) -> Callable[..., Answer]:
    """``call(method, url, body)``: the request travels the template's routes to the handler."""
    module = load_handler("ApiFunction")

    def request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        event = gateway.proxy_event(method, url, STAGE, body, headers)
        response = module.lambda_handler(
            event, lambda_context, adapters=(S3ObjectStore(), log, starter, RecordingPublisher())
        )
        answered = {k: list(v) for k, v in response.get("multiValueHeaders", {}).items()}
        answered |= {k: [v] for k, v in response.get("headers", {}).items()}
        return int(response["statusCode"]), answered, json.loads(response["body"])

    return request


def _complete(log: DynamoImageLog, image_id: str = IMAGE, size: tuple[int, int] = (640, 480)) -> None:
    """An upload of ``image_id`` that the pipeline has answered in full (its analysis gives ``size``)."""
    at = datetime.now(UTC) - timedelta(seconds=10)
    upload = f"{image_id}@0A1B"
    data = {"bucket": "test-imagesbucket", "key": f"uploads/{image_id}.jpg", "etag": "abc123", "sequencer": "0A1B"}
    log.append(
        PipelineEvent.new(
            EventType.IMAGE_UPLOADED, image_id=image_id, producer="test", event_id=upload, occurred_at=at, data=data
        )
    )
    analysis = {"format": "JPEG", "mediaType": "image/jpeg", "width": size[0], "height": size[1], "bytes": 9}
    answers = {
        EventType.THUMBNAIL_CREATED: {},
        EventType.RENDITIONS_CREATED: {},
        EventType.IMAGE_ANALYZED: {"analysis": analysis},
        EventType.IMAGE_RECOGNIZED: samples.DATA[EventType.IMAGE_RECOGNIZED],
    }
    for kind, answer in answers.items():
        log.append(
            PipelineEvent.new(
                kind, image_id=image_id, producer="test", causation_id=upload, occurred_at=at, data=answer
            )
        )


# ---------------------------------------------------------------- one list of routes
def _document() -> dict[str, Any]:
    return openapi.document(images_api("https://app.example.com"))


def test_the_openapi_document_describes_exactly_the_templates_routes() -> None:
    documented = {(method.upper(), path) for path, ops in _document()["paths"].items() for method in ops}
    assert documented == gateway.api_routes()


def test_every_documented_operation_needs_the_api_key_and_declares_the_error_shape() -> None:
    document = _document()
    assert document["security"] == [{"apiKey": []}]
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # Powertools' own shape; this API answers 400
            error = responses["400"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]) == {"message", "code", "errors"}


def test_make_openapi_writes_the_generated_document(tmp_path: Path) -> None:
    written = openapi_tool.write(tmp_path / "out" / "openapi.json")
    assert json.loads(written.read_text()) == _document()


def _readme_section(title: str) -> str:
    return (ROOT / "README.md").read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_route_table_lists_every_route() -> None:
    rows = re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/\S*)`", _readme_section("Using the API"), re.MULTILINE)
    assert set(rows) == gateway.api_routes()
    assert len(rows) == len(set(rows)), "a route listed twice"


def test_the_readme_links_the_generated_document() -> None:
    section = _readme_section("Using the API")
    assert "make openapi" in section
    assert "out/openapi.json" in section


# ---------------------------------------------------------------- links that resolve
def _follow(call: Callable[..., Answer], base: str, link: str) -> Answer:
    """GET what ``link`` names, resolved against ``base`` as a client must (RFC 3986)."""
    return call("GET", urljoin(base, link))


def test_a_new_images_status_url_and_location_resolve_to_the_image(call: Callable[..., Answer]) -> None:
    posted_to = f"{INVOKE_URL}/images"
    origin = template.load()["Parameters"]["AllowedOrigin"]["Default"]
    status, headers, created = call(
        "POST", posted_to, {"filename": "a.png", "contentType": "image/png"}, {"origin": origin}
    )
    assert status == 201
    assert "Location" in headers["Access-Control-Expose-Headers"][0].split(",")  # a page may read it
    for link in (created["statusUrl"], headers["Location"][0]):
        followed_status, _, image = _follow(call, posted_to, link)
        assert (followed_status, image["imageId"], image["status"]) == (200, created["imageId"], "PENDING")


@pytest.mark.parametrize("listed_at", ["/images", "/images?limit=5", "/images?key=uploads%2Fa%20b.png"])
def test_every_listed_images_status_url_resolves_to_it(
    call: Callable[..., Answer], log: DynamoImageLog, listed_at: str
) -> None:
    _complete(log)
    call("POST", f"{INVOKE_URL}/images", {"filename": "a b.png", "contentType": "image/png"})
    status, _, page = call("GET", f"{INVOKE_URL}{listed_at}")
    assert status == 200
    assert page["images"] or "key=" in listed_at
    for image in page["images"]:
        followed_status, _, followed = _follow(call, f"{INVOKE_URL}{listed_at}", image["statusUrl"])
        assert (followed_status, followed["imageId"]) == (200, image["imageId"])


def test_an_edits_status_url_and_location_resolve_to_the_edit(call: Callable[..., Answer], log: DynamoImageLog) -> None:
    # The failure: "<id>/edits/<editId>" against .../images/<id>/edits gave
    # .../images/<id>/<id>/edits/<editId>, a route API Gateway does not have.
    _complete(log)
    posted_to = f"{INVOKE_URL}/images/{IMAGE}/edits"
    status, headers, accepted = call("POST", posted_to, EDIT)
    assert status == 202
    for link in (accepted["statusUrl"], headers["Location"][0]):
        followed_status, _, edit = _follow(call, posted_to, link)
        assert (followed_status, edit["imageId"], edit["editId"]) == (200, IMAGE, accepted["editId"])


# ---------------------------------------------------------------- one body: one JSON object
VALID = {"filename": "a.png", "contentType": "image/png"}
NOT_ONE_OBJECT = [
    pytest.param(json.dumps([VALID, {**VALID, "filename": "b.png"}]), id="array-of-two-valid-bodies"),
    pytest.param(json.dumps([VALID]), id="array-of-one"),
    pytest.param("[]", id="empty-array"),
    pytest.param("[1,2]", id="array-of-numbers"),
    pytest.param('"x"', id="string"),
    pytest.param("42", id="number"),
    pytest.param("null", id="null"),
    pytest.param("true", id="boolean"),
]


@pytest.mark.parametrize("body", NOT_ONE_OBJECT)
def test_a_body_that_is_not_one_json_object_is_refused_and_nothing_is_recorded(
    call: Callable[..., Answer], log: DynamoImageLog, body: str
) -> None:
    status, _, refused = call("POST", f"{INVOKE_URL}/images", body)
    assert status == 400
    assert set(refused) == {"message", "code", "errors"}
    assert refused["code"] == "INVALID_REQUEST"
    ((problem),) = refused["errors"]
    assert problem["field"] == "body"
    assert problem["reason"].startswith("must be one JSON object, not ")
    assert log.list_images(limit=10).images == []


@pytest.mark.parametrize("body", NOT_ONE_OBJECT)
def test_an_edit_body_that_is_not_one_json_object_is_refused_and_nothing_starts(
    call: Callable[..., Answer], log: DynamoImageLog, starter: RecordingEditStarter, body: str
) -> None:
    _complete(log)
    status, _, refused = call("POST", f"{INVOKE_URL}/images/{IMAGE}/edits", body.replace("filename", "operations"))
    assert (status, [e["field"] for e in refused["errors"]]) == (400, ["body"])
    assert starter.executions() == []


def test_one_object_is_still_read_as_json_and_accepted(call: Callable[..., Answer]) -> None:
    assert call("POST", f"{INVOKE_URL}/images", json.dumps(VALID))[0] == 201


# ---------------------------------------------------------------- reasons written for people
def _model_names() -> set[str]:
    modules = (api_models, edits)
    return {
        name
        for module in modules
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, pydantic.BaseModel) and value.__module__ == module.__name__
    }


LIBRARY_TALK = re.compile(
    r"Value error|Assertion failed|instance of|pydantic|errors\.pydantic\.dev|Input should be a valid dict"
)
# (method, path after the stage, body) -> the fields a 400 names
EVERY_VALIDATION_PATH = [
    ("POST", "/images", {"filename": "a.jpg", "contentType": "text/html"}, {"contentType"}),
    ("POST", "/images", {"filename": "\x00\x1b", "contentType": "image/png"}, {"filename"}),
    ("POST", "/images", {"filename": "", "contentType": "image/png"}, {"filename"}),
    ("POST", "/images", {"filename": "a" * 256, "contentType": "image/png"}, {"filename"}),
    ("POST", "/images", {"filename": 7, "contentType": ["image/png"]}, {"filename", "contentType"}),
    ("POST", "/images", {"filename": "a.jpg"}, {"contentType"}),
    ("POST", "/images", {**VALID, "size": -1}, {"size"}),
    ("POST", "/images", {**VALID, "size": True}, {"size"}),
    ("POST", "/images", "{not json", {"body"}),
    ("POST", "/images", "[1]", {"body"}),
    ("POST", "/images", None, {"body"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"crop": "1:1"}]}, {"operations.0.crop"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"crop": {"aspect": "x"}}]}, {"operations.0.crop.aspect"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"crop": {}}]}, {"operations.0.crop"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"rotate": 1}]}, {"operations.0"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": ["sepia"]}, {"operations.0"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"resize": {}}]}, {"operations.0.resize"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"resize": {"width": "8"}}]}, {"operations.0.resize.width"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"filter": "sepia"}] * 9}, {"operations"}),
    ("POST", f"/images/{IMAGE}/edits", {"operations": "sepia"}, {"operations"}),
    (
        "POST",
        f"/images/{IMAGE}/edits",
        {"operations": [{"filter": "x"}], "format": "gif"},
        {"operations.0.filter", "format"},
    ),
    ("POST", f"/images/{IMAGE}/edits", {"operations": [{"filter": "sepia"}], "x": 1}, {"x"}),
    ("POST", f"/images/{IMAGE}/edits", {}, {"operations"}),
    ("POST", f"/images/{IMAGE}/edits", [EDIT], {"body"}),
    ("POST", "/images/not-an-id/edits", EDIT, {"imageId"}),
    ("GET", "/images?limit=0", None, {"limit"}),
    ("GET", "/images?limit=101", None, {"limit"}),
    ("GET", "/images?limit=many", None, {"limit"}),
    ("GET", "/images?cursor=bm90IG91cnM%3D", None, {"cursor"}),
    ("GET", "/images?key=outputs%2Fx.jpg", None, {"key"}),
    ("GET", "/images?colour=red", None, {"colour"}),
    ("GET", f"/images/{IMAGE}?wait=0", None, {"wait"}),
    ("GET", f"/images/{IMAGE}?wait=26", None, {"wait"}),
    ("GET", f"/images/{IMAGE}?wait=soon", None, {"wait"}),
    ("GET", f"/images/{IMAGE}?wat=5", None, {"wat"}),
    ("GET", "/images/F3F9A2C1E5B7D4E8F9A0B1C2D3E4F5A6", None, {"imageId"}),
    ("GET", "/images/nope/trace", None, {"imageId"}),
    ("GET", f"/images/{IMAGE}/edits/not-an-edit", None, {"editId"}),
]


@pytest.mark.parametrize(("method", "path", "body", "fields"), EVERY_VALIDATION_PATH)
def test_every_refusal_names_its_fields_with_reasons_for_people(
    call: Callable[..., Answer], log: DynamoImageLog, method: str, path: str, body: Any, fields: set[str]
) -> None:
    _complete(log)
    status, _, refused = call(method, f"{INVOKE_URL}{path}", body)
    assert (status, refused["code"]) == (400, "INVALID_REQUEST"), refused
    assert {e["field"] for e in refused["errors"]} == fields
    classes = _model_names()
    for problem in refused["errors"]:
        assert problem["reason"], problem
        assert not LIBRARY_TALK.search(problem["reason"]), problem
        assert not set(re.findall(r"\w+", problem["reason"])) & classes, problem
    assert refused["message"] == "; ".join(f"{e['field']}: {e['reason']}" for e in refused["errors"])


def test_a_wait_out_of_range_names_the_limit(call: Callable[..., Answer]) -> None:
    for junk in ("0", "26", "-1", "1.5", "soon", ""):
        status, _, refused = call("GET", f"{INVOKE_URL}/images/{IMAGE}?wait={junk}")
        assert (status, refused["errors"]) == (400, [{"field": "wait", "reason": "wait is whole seconds from 1 to 25"}])


# ---------------------------------------------------------------- preflights without a function
@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    body: dict[str, Any] = expanded_template()["Resources"]["ImagesApi"]["Properties"]["Body"]
    return body


def test_no_function_answers_a_preflight() -> None:
    assert all(method != "OPTIONS" for method, _ in gateway.api_routes())


def test_api_gateway_answers_every_paths_preflight_itself_without_the_key(definition: dict[str, Any]) -> None:
    paths = {path for _, path in gateway.api_routes()}
    assert set(definition["paths"]) == paths
    for path, operations in definition["paths"].items():
        preflight = operations["options"]
        integration = preflight["x-amazon-apigateway-integration"]
        assert integration["type"] == "mock", path
        assert not preflight.get("security"), f"the preflight of {path} needs a key"
        (response,) = integration["responses"].values()
        assert response["statusCode"] == "200"
        headers = response["responseParameters"]
        methods = {m for m, p in gateway.api_routes() if p == path} | {"OPTIONS"}
        assert set(headers["method.response.header.Access-Control-Allow-Methods"].strip("'").split(",")) == methods
        assert headers["method.response.header.Access-Control-Allow-Origin"] == {"Fn::Sub": "'${AllowedOrigin}'"}
        for method, operation in operations.items():
            if method != "options":
                assert operation["security"] == [{"api_key": []}], (method, path)


def test_the_preflight_allows_the_origin_and_headers_the_api_is_called_with(definition: dict[str, Any]) -> None:
    # The browser reads the preflight, then the function's own answers: both name the one origin.
    assert template.function_properties("ApiFunction")["Environment"]["Variables"]["ALLOWED_ORIGIN"] == {
        "Ref": "AllowedOrigin"
    }
    for operations in definition["paths"].values():
        (response,) = operations["options"]["x-amazon-apigateway-integration"]["responses"].values()
        headers = response["responseParameters"]
        allowed = headers["method.response.header.Access-Control-Allow-Headers"].strip("'").lower().split(",")
        assert {"content-type", "x-api-key"} <= set(allowed)  # what a page sends (tests/integration/browser)
        assert int(headers["method.response.header.Access-Control-Max-Age"].strip("'")) > 0


def test_the_local_tool_rebuilds_every_preflight_the_engine_drops(definition: dict[str, Any]) -> None:
    from tools.local_api import mock_integrations  # noqa: PLC0415  # boto3-free to import, but a tool

    origin = template.load()["Parameters"]["AllowedOrigin"]["Default"]
    rebuilt = list(mock_integrations(definition, {"AllowedOrigin": origin}))
    assert {(m["httpMethod"], m["path"]) for m in rebuilt} == {("OPTIONS", p) for _, p in gateway.api_routes()}
    for mock in rebuilt:
        assert mock["responseParameters"]["method.response.header.Access-Control-Allow-Origin"] == f"'{origin}'"
        assert '"statusCode" : 200' in mock["requestTemplates"]["application/json"]
