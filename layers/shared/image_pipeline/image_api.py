"""What the REST API does, free of HTTP: start an upload, list, describe and trace images."""

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from image_pipeline.catalogue import PAIRINGS, ImageStatus
from image_pipeline.edits import EditSource, EditWorkflowInput, edit_requested, edit_state, parse_edit_request
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.keys import EXTENSIONS, image_id_for_key, is_upload_key, new_image_id, upload_key
from image_pipeline.moderation import WITHHELD_FLAGGED, moderated
from image_pipeline.pairing import ImageState, derive_state, next_deadline, trace
from image_pipeline.ports import EditStarter, ImageLog, ImageRecord, ObjectStore, PresignedUpload

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
    stall_timeout: timedelta,
    now: datetime,
) -> CreatedImage:
    """Register a new image and hand back a presigned POST that accepts only this upload.

    The image is open from now on: if nothing is uploaded before the POST expires (plus the stall
    timeout's grace), the sweeper ends it EXPIRED.
    """
    image_id = new_image_id()
    key = upload_key(image_id, request.content_type)
    expires_at = now + timedelta(seconds=limits.expires_in)
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
        origin="api",
    )
    requested = PipelineEvent.new(
        EventType.UPLOAD_REQUESTED,
        image_id=image_id,
        producer=API_PRODUCER,
        occurred_at=now,
        data={
            "key": key,
            "contentType": request.content_type,
            "maxBytes": limits.max_bytes,
            "expiresAt": expires_at.isoformat(),
        },
    )
    images.create_image(record, requested)
    images.set_deadline(image_id, next_deadline([requested], stall_timeout))
    return CreatedImage(image_id=image_id, upload=upload, expires_at=expires_at)


@dataclass(frozen=True)
class Downloads:
    store: ObjectStore
    bucket: str
    expires_in: int

    def url(self, key: str) -> str:
        return self.store.download_url(self.bucket, key, expires_in=self.expires_in)


def _outputs(
    events: Mapping[EventType, PipelineEvent], downloads: Downloads, withheld: str | None
) -> dict[str, dict[str, Any]]:
    """Each output, with a download link unless moderation withholds it (then ``withheld`` says why)."""
    outputs: dict[str, dict[str, Any]] = {}
    for event in events.values():
        for output in event.data.get("outputs", []):
            served = {"url": downloads.url(output["key"])} if withheld is None else {"url": None, "withheld": withheld}
            outputs[output["name"]] = {**output, **served}
    return outputs


def _upload(state: ImageState) -> dict[str, Any] | None:
    """The upload the image's status, outputs and analysis all come from."""
    uploaded = state.current.request if state.current else None
    if uploaded is None:
        return None
    data = uploaded.data
    return {
        "key": data.get("key"),
        "version": data.get("version"),
        "size": data.get("size"),
        "etag": data.get("etag"),
        "contentType": data.get("contentType"),
        "uploadedAt": uploaded.occurred_at.isoformat(),
    }


def describe_image(
    image_id: str, *, images: ImageLog, downloads: Downloads, stall_timeout: timedelta
) -> dict[str, Any] | None:
    """The image's derived status, outputs (with download links) analysis and recognition; None
    if unknown.

    Everything shown comes from one upload, the latest: its outputs, their links, its analysis
    and recognition, never a mix of two uploads to the same key. An output gets a link only once
    moderation cleared the upload (``image_pipeline.moderation``).
    """
    record = images.get_image(image_id)
    events = images.events(image_id)
    if record is None and not events:
        return None
    state = derive_state(events, stall_timeout)
    responses = state.responses()
    analysis = responses.get(EventType.IMAGE_ANALYZED)
    moderation = moderated(state, events)
    upload = _upload(state)
    return {
        "imageId": image_id,
        "status": state.status.value,
        "reason": state.reason,
        "reasonCode": state.reason_code,
        "filename": record.filename if record else None,
        "contentType": (upload or {}).get("contentType") or (record.content_type if record else None),
        "origin": record.origin if record else None,
        "createdAt": record.created_at.isoformat() if record else None,
        "uploadedAt": upload["uploadedAt"] if upload else None,
        "upload": upload,
        "deadline": state.deadline.isoformat() if state.deadline else None,
        "missing": [m.value for m in state.missing],
        "outputs": _outputs(responses, downloads, moderation.withheld),
        "analysis": analysis.data.get("analysis") if analysis else None,
        "recognition": moderation.recognition(),
    }


def image_trace(image_id: str, *, images: ImageLog, stall_timeout: timedelta) -> dict[str, Any] | None:
    """Every event of the image in order, each tied to the request it answers; None if unknown."""
    events = images.events(image_id)
    if not events and images.get_image(image_id) is None:
        return None
    state = derive_state(events, stall_timeout)
    edits = [str(e.data["editId"]) for e in events if e.type is EventType.EDIT_REQUESTED]
    return {
        "imageId": image_id,
        "status": state.status.value,
        "events": [entry.to_dict() for entry in trace(events)],
        "expected": {req.value: sorted(r.value for r in resp) for req, resp in PAIRINGS.items()},
        "missing": [m.value for m in state.missing],
        # each edit's own status; its events are in "events", answering its EditRequested
        "edits": {
            edit: found.status.value for edit in edits if (found := edit_state(events, edit, stall_timeout)) is not None
        },
    }


class ListQuery(BaseModel):
    """Query string of ``GET /images``."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)
    key: str | None = Field(default=None, min_length=1, max_length=1024)


def _summary(record: ImageRecord, images: ImageLog, stall_timeout: timedelta) -> dict[str, Any]:
    state = derive_state(images.events(record.image_id), stall_timeout)
    return {
        "imageId": record.image_id,
        "status": state.status.value,
        "filename": record.filename,
        "uploadKey": record.upload_key,
        "origin": record.origin,
        "createdAt": record.created_at.isoformat(),
        "statusUrl": f"images/{record.image_id}",
    }


def list_images(query: ListQuery, *, images: ImageLog, stall_timeout: timedelta) -> dict[str, Any]:
    """Images newest first, a page at a time; or, with ``key``, the image of that object key.

    Raises ValueError for a key outside ``uploads/`` or a cursor this API did not issue.
    """
    if query.key is not None:
        if not is_upload_key(query.key):
            raise ValueError(f"key must name an object under uploads/, got {query.key!r}")
        record = images.get_image(image_id_for_key(query.key))
        found = [record] if record is not None else []
        return {"images": [_summary(r, images, stall_timeout) for r in found], "nextCursor": None}
    page = images.list_images(limit=query.limit, cursor=query.cursor)
    return {"images": [_summary(r, images, stall_timeout) for r in page.images], "nextCursor": page.cursor}


class ImageNotFound(LookupError):
    """No image has this id."""


class NoProcessedSource(ValueError):
    """The image has no processed upload to edit (yet, or any more)."""


class WithheldByModeration(NoProcessedSource):
    """Moderation flagged the image's upload: nothing is made of it."""


def request_edit(
    image_id: str,
    body: Any,
    *,
    images: ImageLog,
    starter: EditStarter,
    stall_timeout: timedelta,
    now: datetime,
) -> str:
    """Record an edit of the image's current upload and start its workflow; the edit id.

    The same body for the same upload is the same edit: asking again records nothing new and
    starts nothing new. Raises ImageNotFound, InvalidEditRequest (one reason per bad field) and
    NoProcessedSource.
    """
    events = images.events(image_id)
    if not events and images.get_image(image_id) is None:
        raise ImageNotFound(image_id)
    request = parse_edit_request(body)
    state = derive_state(events, stall_timeout)
    moderation = moderated(state, events)
    if moderation.withheld == WITHHELD_FLAGGED:
        raise WithheldByModeration(f"image {image_id} was withheld by moderation: it cannot be edited")
    uploaded = state.current.request if state.current else None
    if state.status is not ImageStatus.COMPLETE or uploaded is None or not uploaded.data.get("etag"):
        raise NoProcessedSource(f"image {image_id} has no processed upload to edit (it is {state.status.value})")
    source = EditSource(bucket=uploaded.data["bucket"], key=uploaded.data["key"], etag=uploaded.data["etag"])
    # a content-aware crop is placed around the faces recognition found, when its backend finds faces
    faces = moderation.faces() if any(op.crop and op.crop.mode == "content" for op in request.operations) else None
    requested = edit_requested(
        image_id, source, request, producer=API_PRODUCER, now=now, causation_id=uploaded.event_id, faces=faces
    )
    images.append(requested)  # False on a repeat: the first request stands
    images.set_deadline(image_id, next_deadline(images.events(image_id), stall_timeout))
    starter.start(EditWorkflowInput.from_requested(requested))  # named by the edit id: at most once
    return str(requested.data["editId"])


def describe_edit(
    image_id: str, edit: str, *, images: ImageLog, downloads: Downloads, stall_timeout: timedelta
) -> dict[str, Any] | None:
    """One edit: its status, what was asked, its output (with a download link) or why not; None if
    the image has no such edit."""
    state = edit_state(images.events(image_id), edit, stall_timeout)
    if state is None:
        return None
    asked = state.requested.data
    output = dict(state.answer.data["output"]) if state.answer and "output" in state.answer.data else None
    if output is not None:
        output["url"] = downloads.url(output["key"])
    return {
        "imageId": image_id,
        "editId": edit,
        "status": state.status.value,
        "operations": asked.get("operations"),
        "format": asked.get("format"),
        "source": asked.get("source"),
        "requestedAt": state.requested.occurred_at.isoformat(),
        "output": output,
        "steps": state.answer.data.get("steps") if state.answer else None,
        "reason": state.reason,
        "reasonCode": state.reason_code,
    }
