"""The image routes: start an upload, list images, an image's status (or wait for it) and trace."""

from functools import partial
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from image_pipeline.api_models import (
    MAX_PAGE,
    MAX_WAIT_SECONDS,
    CreatedImage,
    CreateImageRequest,
    ImageId,
    ImagePage,
    ImageView,
    TraceView,
    WaitSeconds,
)
from image_pipeline.aws.rest.deps import Deps
from image_pipeline.aws.rest.errors import NotFound
from image_pipeline.aws.rest.openapi import answers
from image_pipeline.image_api import await_image, create_image, describe_image, image_trace, list_images

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves it untyped
ImagePath = Annotated[ImageId, Path(alias="imageId")]
Wait = Annotated[
    WaitSeconds | None,
    Query(ge=1, le=MAX_WAIT_SECONDS, description="Answer once the image is settled, or after this many seconds"),
]


@router.post(
    "/images",
    summary="Start an upload",
    responses=answers((HTTPStatus.CREATED, CreatedImage, "A presigned POST that accepts only this upload")),
)
def post_image(request: CreateImageRequest, deps: Deps) -> Response[CreatedImage]:
    created = create_image(
        request,
        store=deps.store,
        images=deps.images,
        publisher=deps.publisher,
        limits=deps.limits,
        callbacks=deps.push.callbacks,
        stall_timeout=deps.settings.stall_timeout,
        now=deps.now(),
    )
    created = created.model_copy(update={"watch": deps.watch(created.image_id)})
    deps.log.set_correlation_id(created.image_id)
    # whether a callback was given, never its URL (it may carry the receiver's token)
    deps.log.info(
        "upload started", extra={"content_type": request.content_type, "callback": bool(request.callback_url)}
    )
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type=content_types.APPLICATION_JSON,
        headers={"Location": created.status_url},
        body=created,
    )


@router.get("/images", summary="List images, newest first", responses=answers((HTTPStatus.OK, ImagePage, "A page")))
def get_images(
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Images per page")] = 20,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048, description="From the last page")] = None,
    key: Annotated[str | None, Query(min_length=1, max_length=1024, description="The image of this object key")] = None,
) -> ImagePage:
    return list_images(
        limit=limit, cursor=cursor, key=key, images=deps.images, stall_timeout=deps.settings.stall_timeout
    )


@router.get(
    "/images/<imageId>",
    summary="An image's status, outputs and analysis",
    responses=answers((HTTPStatus.OK, ImageView, "The image"), (HTTPStatus.NOT_FOUND, None, "No such image")),
)
def get_image(image_id: ImagePath, deps: Deps, wait: Wait = None) -> ImageView:
    describe = partial(
        describe_image, images=deps.images, downloads=deps.downloads, stall_timeout=deps.settings.stall_timeout
    )
    if wait is None:
        image = describe(image_id)
    else:
        budget = deps.wait_budget(wait)
        image = await_image(image_id, budget, describe=describe, clock=deps.clock, pause=deps.pause)
    if image is None:
        raise NotFound(f"no image {image_id}")
    return image


@router.get(
    "/images/<imageId>/trace",
    summary="Every event of the image, in order",
    responses=answers((HTTPStatus.OK, TraceView, "The timeline"), (HTTPStatus.NOT_FOUND, None, "No such image")),
)
def get_trace(image_id: ImagePath, deps: Deps) -> TraceView:
    timeline = image_trace(image_id, images=deps.images, stall_timeout=deps.settings.stall_timeout)
    if timeline is None:
        raise NotFound(f"no image {image_id}")
    return timeline
