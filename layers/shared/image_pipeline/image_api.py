"""What the REST API does, free of HTTP: start an upload, describe an image, trace it."""

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.keys import EXTENSIONS, new_image_id, upload_key
from image_pipeline.ports import ImageLog, ImageRecord, ObjectStore, PresignedUpload
from image_pipeline.tracking import PAIRINGS, derive_state, trace

API_PRODUCER = "ApiFunction"


def _clean_filename(value: str) -> str:
    """Keep only the base name, printable: it is shown back to people, never used as a key."""
    name = PureWindowsPath(PurePosixPath(value).name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if not name:
        raise ValueError("filename must contain a visible file name")
    return name


def _supported_content_type(value: str) -> str:
    if value not in EXTENSIONS:
        raise ValueError(f"unsupported content type {value!r}; expected one of {', '.join(EXTENSIONS)}")
    return value


class CreateImageRequest(BaseModel):
    """Body of ``POST /images``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    filename: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_clean_filename)]
    content_type: Annotated[str, AfterValidator(_supported_content_type)]


@dataclass(frozen=True)
class UploadLimits:
    bucket: str
    max_bytes: int
    expires_in: int


@dataclass(frozen=True)
class CreatedImage:
    image_id: str
    upload: PresignedUpload
    expires_at: datetime


def create_image(
    request: CreateImageRequest,
    *,
    store: ObjectStore,
    images: ImageLog,
    limits: UploadLimits,
    now: datetime,
) -> CreatedImage:
    """Register a new image and hand back a presigned POST that accepts only this upload."""
    image_id = new_image_id()
    key = upload_key(image_id, request.content_type)
    upload = store.presigned_upload(
        bucket=limits.bucket,
        key=key,
        content_type=request.content_type,
        max_bytes=limits.max_bytes,
        metadata={"image-id": image_id},  # the correlation id rides on the object too
        expires_in=limits.expires_in,
    )
    record = ImageRecord(
        image_id=image_id,
        filename=request.filename,
        content_type=request.content_type,
        upload_key=key,
        created_at=now,
    )
    requested = PipelineEvent.new(
        EventType.UPLOAD_REQUESTED,
        image_id=image_id,
        producer=API_PRODUCER,
        occurred_at=now,
        data={"key": key, "contentType": request.content_type, "maxBytes": limits.max_bytes},
    )
    images.create_image(record, requested)
    return CreatedImage(image_id=image_id, upload=upload, expires_at=now + timedelta(seconds=limits.expires_in))


@dataclass(frozen=True)
class Downloads:
    store: ObjectStore
    bucket: str
    expires_in: int

    def url(self, key: str) -> str:
        return self.store.download_url(self.bucket, key, expires_in=self.expires_in)


def _outputs(events: dict[EventType, PipelineEvent], downloads: Downloads) -> dict[str, dict[str, Any]]:
    outputs: dict[str, dict[str, Any]] = {}
    for event in events.values():
        for output in event.data.get("outputs", []):
            outputs[output["name"]] = {**output, "url": downloads.url(output["key"])}
    return outputs


def describe_image(
    image_id: str, *, images: ImageLog, downloads: Downloads, stall_timeout: timedelta
) -> dict[str, Any] | None:
    """The image's derived status, outputs (with download links) and analysis; None if unknown."""
    record = images.get_image(image_id)
    events = images.events(image_id)
    if record is None and not events:
        return None
    state = derive_state(events, stall_timeout)
    responses = dict(state.responses())
    analysis = responses.get(EventType.IMAGE_ANALYZED)
    uploaded = state.current.request if state.current else None
    return {
        "imageId": image_id,
        "status": state.status.value,
        "reason": state.reason,
        "reasonCode": state.reason_code,
        "filename": record.filename if record else None,
        "contentType": record.content_type if record else None,
        "createdAt": record.created_at.isoformat() if record else None,
        "uploadedAt": uploaded.occurred_at.isoformat() if uploaded else None,
        "deadline": state.deadline.isoformat() if state.deadline else None,
        "missing": [m.value for m in state.missing],
        "outputs": _outputs(responses, downloads),
        "analysis": analysis.data.get("analysis") if analysis else None,
    }


def image_trace(image_id: str, *, images: ImageLog, stall_timeout: timedelta) -> dict[str, Any] | None:
    """Every event of the image in order, each tied to the request it answers; None if unknown."""
    events = images.events(image_id)
    if not events and images.get_image(image_id) is None:
        return None
    state = derive_state(events, stall_timeout)
    return {
        "imageId": image_id,
        "status": state.status.value,
        "events": [entry.to_dict() for entry in trace(events)],
        "expected": {req.value: sorted(r.value for r in resp) for req, resp in PAIRINGS.items()},
        "missing": [m.value for m in state.missing],
    }
