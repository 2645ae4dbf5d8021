"""The edit routes: ask for an edit of an image, and follow it."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from image_pipeline.api_models import EditAccepted, EditId, EditView, ImageId
from image_pipeline.aws.rest.deps import Deps
from image_pipeline.aws.rest.errors import Conflict, NotFound
from image_pipeline.aws.rest.openapi import answers
from image_pipeline.edits import EditRequest
from image_pipeline.image_api import ImageNotFound, NoProcessedSource, describe_edit, request_edit

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves it untyped
ImagePath = Annotated[ImageId, Path(alias="imageId")]


@router.post(
    "/images/<imageId>/edits",
    summary="Edit the image's current upload (crop, filters, resize, format)",
    responses=answers(
        (HTTPStatus.ACCEPTED, EditAccepted, "The edit is running (asking again is the same edit)"),
        (HTTPStatus.NOT_FOUND, None, "No such image"),
        (HTTPStatus.CONFLICT, None, "The image has no processed upload to edit"),
    ),
)
def post_edit(image_id: ImagePath, request: EditRequest, deps: Deps) -> Response[EditAccepted]:
    try:
        accepted = request_edit(
            image_id,
            request,
            images=deps.images,
            starter=deps.starter,
            publisher=deps.publisher,
            stall_timeout=deps.settings.stall_timeout,
            now=deps.now(),
        )
    except ImageNotFound as exc:
        raise NotFound(f"no image {image_id}") from exc
    except NoProcessedSource as exc:
        raise Conflict(str(exc)) from exc
    accepted = accepted.model_copy(update={"watch": deps.watch(image_id)})
    deps.log.info("edit requested", extra={"edit_id": accepted.edit_id})
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        headers={"Location": accepted.status_url},
        body=accepted,
    )


@router.get(
    "/images/<imageId>/edits/<editId>",
    summary="One edit: its status, and its output or why not",
    responses=answers((HTTPStatus.OK, EditView, "The edit"), (HTTPStatus.NOT_FOUND, None, "No such edit")),
)
def get_edit(image_id: ImagePath, edit_id: Annotated[EditId, Path(alias="editId")], deps: Deps) -> EditView:
    edit = describe_edit(
        image_id, edit_id, images=deps.images, downloads=deps.downloads, stall_timeout=deps.settings.stall_timeout
    )
    if edit is None:
        raise NotFound(f"image {image_id} has no edit {edit_id}")
    return edit
