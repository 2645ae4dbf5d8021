"""ApiFunction: the REST API (start an upload, list images, image status and trace, edits).

Every answer is JSON; every error has one shape, ``{"message", "code", "errors"}``, the same
shape API Gateway's own errors (missing key, throttling) get from the template's gateway responses.
"""

from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.aws.stepfunctions import StepFunctionsEditStarter
from image_pipeline.edits import InvalidEditRequest, is_edit_id
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.image_api import (
    CreateImageRequest,
    Downloads,
    ImageNotFound,
    ListQuery,
    NoProcessedSource,
    UploadLimits,
    create_image,
    describe_edit,
    describe_image,
    image_trace,
    list_images,
    request_edit,
)
from image_pipeline.keys import is_image_id
from image_pipeline.ports import EditStarter, ImageLog, ObjectStore
from image_pipeline.settings import ApiSettings

FUNCTION = "ApiFunction"
settings = ApiSettings.from_env()
logger = function_logger()
cors = CORSConfig(allow_origin=settings.allowed_origin, allow_headers=["Content-Type", "X-Api-Key"], max_age=600)
app = APIGatewayRestResolver(enable_validation=True, cors=cors)


Adapters = tuple[ObjectStore, ImageLog, EditStarter]


@cache
def aws_adapters() -> Adapters:
    return (
        S3ObjectStore(),
        DynamoImageLog(settings.images_table, retention_days=settings.retention_days),
        StepFunctionsEditStarter(settings.edit_workflow_arn),
    )


def _adapters() -> Adapters:
    adapters: Adapters = app.context.get("adapters") or aws_adapters()
    return adapters


def error(status: HTTPStatus, message: str, code: str, errors: list[dict[str, str]] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"message": message, "code": code, "errors": errors or []},
    )


class UnknownImage(ServiceError):
    def __init__(self, image_id: str) -> None:
        super().__init__(HTTPStatus.NOT_FOUND, f"no image {image_id}")


class Conflict(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(HTTPStatus.CONFLICT, message)


class InvalidRequest(ServiceError):
    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(HTTPStatus.BAD_REQUEST, message)
        self.errors = errors


def _checked(image_id: str) -> str:
    if not is_image_id(image_id):
        raise InvalidRequest(
            "imageId must be 32 lowercase hex characters",
            [{"field": "imageId", "reason": "must be 32 lowercase hex characters"}],
        )
    logger.set_correlation_id(image_id)
    return image_id


@app.post("/images")
def post_image(request: CreateImageRequest) -> Response[dict[str, Any]]:
    store, images, _ = _adapters()
    limits = UploadLimits(settings.images_bucket, settings.max_upload_bytes, settings.upload_url_ttl_seconds)
    created = create_image(
        request, store=store, images=images, limits=limits, stall_timeout=settings.stall_timeout, now=datetime.now(UTC)
    )
    logger.set_correlation_id(created.image_id)
    logger.info("upload started", extra={"content_type": request.content_type})
    status_url = f"images/{created.image_id}"  # relative to the URL just POSTed to (RFC 3986)
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type=content_types.APPLICATION_JSON,
        headers={"Location": status_url},
        body={
            "imageId": created.image_id,
            "upload": {"url": created.upload.url, "fields": created.upload.fields},
            "uploadExpiresAt": created.expires_at.isoformat(),
            "maxBytes": settings.max_upload_bytes,
            "statusUrl": status_url,
        },
    )


@app.get("/images")
def get_images() -> dict[str, Any]:
    _, images, _ = _adapters()
    try:
        query = ListQuery.model_validate(app.current_event.query_string_parameters or {})
        return list_images(query, images=images, stall_timeout=settings.stall_timeout)
    except ValidationError as exc:
        raise InvalidRequest("invalid query", [{"field": _where(e), "reason": e["msg"]} for e in exc.errors()]) from exc
    except ValueError as exc:
        field = "cursor" if "cursor" in str(exc) else "key"
        raise InvalidRequest("invalid query", [{"field": field, "reason": str(exc)}]) from exc


@app.get("/images/<image_id>")
def get_image(image_id: str) -> dict[str, Any]:
    store, images, _ = _adapters()
    downloads = Downloads(store, settings.images_bucket, settings.download_url_ttl_seconds)
    image = describe_image(_checked(image_id), images=images, downloads=downloads, stall_timeout=settings.stall_timeout)
    if image is None:
        raise UnknownImage(image_id)
    return image


@app.get("/images/<image_id>/trace")
def get_trace(image_id: str) -> dict[str, Any]:
    _, images, _ = _adapters()
    timeline = image_trace(_checked(image_id), images=images, stall_timeout=settings.stall_timeout)
    if timeline is None:
        raise UnknownImage(image_id)
    return timeline


@app.post("/images/<image_id>/edits")
def post_edit(image_id: str) -> Response[dict[str, Any]]:
    _, images, starter = _adapters()
    try:
        body = app.current_event.json_body
    except ValueError as exc:
        raise InvalidRequest("invalid request", [{"field": "body", "reason": "not valid JSON"}]) from exc
    try:
        edit = request_edit(
            _checked(image_id),
            body,
            images=images,
            starter=starter,
            stall_timeout=settings.stall_timeout,
            now=datetime.now(UTC),
        )
    except ImageNotFound as exc:
        raise UnknownImage(image_id) from exc
    except InvalidEditRequest as exc:
        raise InvalidRequest("invalid edit", [p.to_dict() for p in exc.problems]) from exc
    except NoProcessedSource as exc:
        raise Conflict(str(exc)) from exc
    logger.info("edit requested", extra={"edit_id": edit})
    status_url = f"{image_id}/edits/{edit}"  # relative to the URL just POSTed to (RFC 3986)
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        headers={"Location": status_url},
        body={"imageId": image_id, "editId": edit, "statusUrl": status_url},
    )


@app.get("/images/<image_id>/edits/<edit_id>")
def get_edit(image_id: str, edit_id: str) -> dict[str, Any]:
    store, images, _ = _adapters()
    if not is_edit_id(edit_id):
        raise InvalidRequest("invalid editId", [{"field": "editId", "reason": "must be 32 lowercase hex characters"}])
    downloads = Downloads(store, settings.images_bucket, settings.download_url_ttl_seconds)
    edit = describe_edit(
        _checked(image_id), edit_id, images=images, downloads=downloads, stall_timeout=settings.stall_timeout
    )
    if edit is None:
        raise ServiceError(HTTPStatus.NOT_FOUND, f"image {image_id} has no edit {edit_id}")
    return edit


def _where(error_: Any) -> str:
    """Where a validation error points, as a client names it (``contentType``, or ``body``)."""
    if error_["type"] == "json_invalid":
        return "body"
    location = [str(part) for part in error_["loc"] if part not in {"body", "query"}]
    return ".".join(location) or "body"


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def bad_request(exc: RequestValidationError) -> Response[Any]:
    return error(
        HTTPStatus.BAD_REQUEST,
        "invalid request",
        "INVALID_REQUEST",
        [{"field": _where(e), "reason": e["msg"]} for e in exc.errors()],
    )


@app.exception_handler(ServiceError)  # type: ignore[untyped-decorator]
def service_error(exc: ServiceError) -> Response[Any]:
    status = HTTPStatus(exc.status_code)
    code = "INVALID_REQUEST" if status is HTTPStatus.BAD_REQUEST else status.name
    return error(status, str(exc.msg), code, getattr(exc, "errors", None))


@app.not_found
def no_route(_: Exception) -> Response[Any]:
    event = app.current_event
    return error(HTTPStatus.NOT_FOUND, f"no route {event.http_method} {event.path}", "NOT_FOUND")


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def internal_error(exc: Exception) -> Response[Any]:
    logger.error("unhandled error", exc_info=exc)
    return error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: see the function's logs", "INTERNAL_ERROR")


def _as_json(event: dict[str, Any]) -> dict[str, Any]:
    """Read any request body as JSON, whatever Content-Type the client sent (``curl -d`` says
    ``application/x-www-form-urlencoded``): this API takes nothing else."""
    if not event.get("body"):
        return event
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    return {
        **event,
        "headers": {**headers, "Content-Type": content_types.APPLICATION_JSON},
        "multiValueHeaders": {**multi, "Content-Type": [content_types.APPLICATION_JSON]},
    }


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    if not isinstance(event, dict) or "httpMethod" not in event:
        unsupported = UnsupportedEvent(FUNCTION, "API Gateway REST requests (ImagesApi)", event)
        logger.error(str(unsupported))
        return unsupported.result()
    app.append_context(adapters=adapters)  # type: ignore[no-untyped-call]
    return app.resolve(_as_json(event), context)
