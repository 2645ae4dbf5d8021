"""ApiFunction: the REST API (start an upload, image status, image trace)."""

from datetime import UTC, datetime, timedelta
from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.image_api import (
    CreateImageRequest,
    Downloads,
    UploadLimits,
    create_image,
    describe_image,
    image_trace,
)
from image_pipeline.keys import is_image_id
from image_pipeline.ports import ImageLog, ObjectStore
from image_pipeline.settings import ApiSettings

settings = ApiSettings.from_env()
logger = function_logger()
app = APIGatewayRestResolver(enable_validation=True)
STALL_TIMEOUT = timedelta(seconds=settings.stall_timeout_seconds)


@cache
def aws_adapters() -> tuple[ObjectStore, ImageLog]:
    return S3ObjectStore(), DynamoImageLog(settings.images_table)


def _adapters() -> tuple[ObjectStore, ImageLog]:
    return app.context.get("adapters") or aws_adapters()


def _checked(image_id: str) -> str:
    if not is_image_id(image_id):
        raise BadRequestError("imageId must be 32 lowercase hex characters")
    logger.set_correlation_id(image_id)
    return image_id


@app.post("/images")
def post_image(request: CreateImageRequest) -> Response[dict[str, Any]]:
    store, images = _adapters()
    limits = UploadLimits(settings.images_bucket, settings.max_upload_bytes, settings.upload_url_ttl_seconds)
    created = create_image(request, store=store, images=images, limits=limits, now=datetime.now(UTC))
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


@app.get("/images/<image_id>")
def get_image(image_id: str) -> dict[str, Any]:
    store, images = _adapters()
    downloads = Downloads(store, settings.images_bucket, settings.download_url_ttl_seconds)
    image = describe_image(_checked(image_id), images=images, downloads=downloads, stall_timeout=STALL_TIMEOUT)
    if image is None:
        raise NotFoundError(f"no image {image_id}")
    return image


@app.get("/images/<image_id>/trace")
def get_trace(image_id: str) -> dict[str, Any]:
    _, images = _adapters()
    timeline = image_trace(_checked(image_id), images=images, stall_timeout=STALL_TIMEOUT)
    if timeline is None:
        raise NotFoundError(f"no image {image_id}")
    return timeline


def _field(error: dict[str, Any]) -> str:
    """Where a validation error points, as a client names it (``contentType``, or ``body``)."""
    if error["type"] == "json_invalid":
        return "body"
    return ".".join(str(part) for part in error["loc"][1:]) or "body"


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def bad_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    reasons = [{"field": _field(e), "reason": e["msg"]} for e in error.errors()]
    return Response(
        status_code=HTTPStatus.BAD_REQUEST,
        content_type=content_types.APPLICATION_JSON,
        body={"message": "invalid request", "errors": reasons},
    )


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, adapters: tuple[ObjectStore, ImageLog] | None = None
) -> dict[str, Any]:
    app.append_context(adapters=adapters)  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
