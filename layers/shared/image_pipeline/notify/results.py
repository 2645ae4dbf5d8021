"""What a requester gets when a status is final: exactly what ``GET /images/{id}`` (or
``GET /images/{id}/edits/{editId}``) answers at that moment, presigned links included."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from image_pipeline.image_api import Downloads, describe_edit, describe_image
from image_pipeline.notify.changes import StatusChange
from image_pipeline.ports import ImageLog


def as_json(answer: BaseModel) -> dict[str, Any]:
    """A response model as the API puts it in its body: camelCase, JSON types."""
    return answer.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class Results:
    images: ImageLog
    downloads: Downloads
    stall_timeout: timedelta

    def describe(self, change: StatusChange) -> dict[str, Any] | None:
        """The API's answer for the image (or the edit) the change is about; None if unknown."""
        answer: BaseModel | None
        if change.edit_id is not None:
            answer = describe_edit(
                change.image_id,
                change.edit_id,
                images=self.images,
                downloads=self.downloads,
                stall_timeout=self.stall_timeout,
            )
        else:
            answer = describe_image(
                change.image_id, images=self.images, downloads=self.downloads, stall_timeout=self.stall_timeout
            )
        return as_json(answer) if answer is not None else None


def still_current(change: StatusChange, result: dict[str, Any]) -> bool:
    """The answer still describes this change: same status, and (for an image) the same upload.
    When it does not, the image has moved on, and a later change speaks for it."""
    if result.get("status") != change.status:
        return False
    if change.edit_id is not None or change.upload_version is None:
        return True
    return (result.get("upload") or {}).get("version") == change.upload_version
