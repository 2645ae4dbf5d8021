"""What the REST API does, free of HTTP: start an upload, list, describe, trace and edit images.

Every answer is a response model of ``image_pipeline.api_models``. Links (``statusUrl`` and the
``Location`` header) are relative references (RFC 3986) to the URL the client called, so they
resolve under any stage, custom domain or base path: ``images/<id>`` against ``.../images``,
``edits/<editId>`` against ``.../images/<id>/edits``.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from image_pipeline.api_models import (
    CreatedImage,
    CreateImageRequest,
    EditAccepted,
    EditView,
    ImagePage,
    ImageSummary,
    ImageView,
    JobSpecs,
    OutputLink,
    PresignedPost,
    TraceView,
    UploadFacts,
)
from image_pipeline.catalogue import PAIRINGS, SETTLED, EventType, ImageStatus, job_answering
from image_pipeline.edits import (
    EditRequest,
    EditSource,
    EditWorkflowInput,
    InvalidEditRequest,
    edit_requested,
    edit_state,
)
from image_pipeline.events import PipelineEvent
from image_pipeline.imaging.specs import SPEC_VERSIONS
from image_pipeline.keys import image_id_for_key, is_upload_key, new_image_id, upload_key
from image_pipeline.moderation import WITHHELD_FLAGGED, moderated
from image_pipeline.notify.callbacks import CallbackChecker
from image_pipeline.pairing import ImageState, derive_state, next_deadline, trace
from image_pipeline.ports import EditStarter, EventPublisher, ImageLog, ImageRecord, ObjectStore
from image_pipeline.problems import FieldProblem, InvalidInput
from image_pipeline.reprocessing import latest_answers

API_PRODUCER = "ApiFunction"

# A wait ends at a settled status (catalogue.SETTLED); PENDING and PROCESSING are still moving.
FIRST_POLL_SECONDS: Final = 0.2
MAX_POLL_SECONDS: Final = 1.0


def image_link(image_id: str) -> str:
    """The image's GET route, relative to ``.../images`` (what POST /images and GET /images are)."""
    return f"images/{image_id}"


def edit_link(edit: str) -> str:
    """The edit's GET route, relative to ``.../images/<id>/edits`` (what the edit was POSTed to)."""
    return f"edits/{edit}"


@dataclass(frozen=True)
class UploadLimits:
    bucket: str
    max_bytes: int
    expires_in: int


def _allowed_size(declared: int | None, limits: UploadLimits) -> int:
    """The most the upload may hold: the declared size, when the stack's limit allows it.

    Raises InvalidInput for a size the presigned POST would refuse (S3 answers those only after
    the whole file is sent, and the image would wait PENDING for an upload that never comes)."""
    if declared is None:
        return limits.max_bytes
    if declared == 0:
        raise InvalidInput([FieldProblem("size", "the file is empty: there is no image to upload")])
    if declared > limits.max_bytes:
        over = f"{declared:,} bytes is more than this stack's MaxUploadBytes ({limits.max_bytes:,} bytes)"
        raise InvalidInput([FieldProblem("size", over)])
    return declared


def create_image(
    request: CreateImageRequest,
    *,
    store: ObjectStore,
    images: ImageLog,
    publisher: EventPublisher,
    limits: UploadLimits,
    callbacks: CallbackChecker,
    stall_timeout: timedelta,
    now: datetime,
) -> CreatedImage:
    """Register a new image and hand back a presigned POST that accepts only this upload.

    The image is open from now on: if nothing is uploaded before the POST expires (plus the stall
    timeout's grace), the sweeper ends it EXPIRED. The request is recorded (a GET right after
    finds it) and put on the bus (the tracker announces the image PENDING; the hub sees it). A
    ``callbackUrl`` the stack may not call back refuses the request (InvalidInput) before anything
    is recorded.
    """
    max_bytes = _allowed_size(request.size, limits)
    callback_url = callbacks.check(request.callback_url) if request.callback_url is not None else None
    image_id = new_image_id()
    key = upload_key(image_id, request.content_type)
    expires_at = now + timedelta(seconds=limits.expires_in)
    upload = store.presigned_upload(
        bucket=limits.bucket,
        key=key,
        content_type=request.content_type,
        max_bytes=max_bytes,
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
        callback_url=callback_url,
    )
    requested = PipelineEvent.new(
        EventType.UPLOAD_REQUESTED,
        image_id=image_id,
        producer=API_PRODUCER,
        occurred_at=now,
        data={
            "key": key,
            "contentType": request.content_type,
            "maxBytes": max_bytes,
            "expiresAt": expires_at.isoformat(),
        },
    )
    images.create_image(record, requested)
    images.set_deadline(image_id, next_deadline([requested], stall_timeout), seen=1)
    publisher.publish([requested])
    return CreatedImage(
        image_id=image_id,
        upload=PresignedPost(url=upload.url, fields=dict(upload.fields)),
        upload_expires_at=expires_at.isoformat(),
        max_bytes=max_bytes,
        status_url=image_link(image_id),
    )


@dataclass(frozen=True)
class Downloads:
    store: ObjectStore
    bucket: str
    expires_in: int

    def url(self, key: str) -> str:
        return self.store.download_url(self.bucket, key, expires_in=self.expires_in)


def _outputs(
    events: Mapping[EventType, PipelineEvent], downloads: Downloads, withheld: str | None
) -> dict[str, OutputLink]:
    """Each output, with a download link unless moderation withholds it (then ``withheld`` says why)."""
    outputs: dict[str, OutputLink] = {}
    for event in events.values():
        for output in event.data.get("outputs", []):
            url = downloads.url(output["key"]) if withheld is None else None
            outputs[output["name"]] = OutputLink.model_validate({**output, "url": url, "withheld": withheld})
    return outputs


def _specs(answers: Mapping[EventType, PipelineEvent], spec_versions: Mapping[str, str]) -> dict[str, JobSpecs]:
    """For each job with specs and an answer: the version its outputs were made to, and whether
    that is the current one."""
    found = {}
    for response, answer in answers.items():
        job = job_answering(response)
        if job is None or job.name not in spec_versions or answer.type is not response:
            continue
        made = answer.data.get("specVersion")
        latest = spec_versions[job.name]
        found[job.name] = JobSpecs(made_to=made, latest=latest, current=made == latest)
    return found


def _upload(state: ImageState) -> UploadFacts | None:
    """The upload the image's status, outputs and analysis all come from."""
    uploaded = state.current.request if state.current else None
    if uploaded is None:
        return None
    data = uploaded.data
    return UploadFacts(
        key=data.get("key"),
        version=data.get("version"),
        size=data.get("size"),
        etag=data.get("etag"),
        content_type=data.get("contentType"),
        uploaded_at=uploaded.occurred_at.isoformat(),
    )


def describe_image(
    image_id: str,
    *,
    images: ImageLog,
    downloads: Downloads,
    stall_timeout: timedelta,
    spec_versions: Mapping[str, str] = SPEC_VERSIONS,
) -> ImageView | None:
    """The image's derived status, outputs (with download links) and analysis; None if unknown.

    Everything shown comes from one upload, the latest: its outputs, their links and its
    analysis, never a mix of two uploads to the same key. Each job's outputs are the newest
    complete set made for that upload (a reprocess at newer specs replaces them all at once), and
    ``specs`` says whether they are made to the job's current specs.
    """
    record = images.get_image(image_id)
    events = images.events(image_id)
    if record is None and not events:
        return None
    state = derive_state(events, stall_timeout)
    uploaded = state.current.request if state.current else None
    if uploaded is not None and uploaded.type is EventType.IMAGE_UPLOADED:
        responses = latest_answers(events, uploaded, spec_versions)
    else:
        responses = dict(state.responses())
    analysis = responses.get(EventType.IMAGE_ANALYZED)
    moderation = moderated(state, events)
    specs = _specs(responses, spec_versions)
    upload = _upload(state)
    return ImageView(
        image_id=image_id,
        status=state.status.value,
        reason=state.reason,
        reason_code=state.reason_code,
        filename=record.filename if record else None,
        content_type=(upload.content_type if upload else None) or (record.content_type if record else None),
        origin=record.origin if record else None,
        created_at=record.created_at.isoformat() if record else None,
        uploaded_at=upload.uploaded_at if upload else None,
        upload=upload,
        deadline=state.deadline.isoformat() if state.deadline else None,
        missing=[m.value for m in state.missing],
        outputs=_outputs(responses, downloads, moderation.withheld),
        analysis=analysis.data.get("analysis") if analysis else None,
        recognition=moderation.recognition(),
        specs=specs,
        outputs_current=all(s.current for s in specs.values()) if specs else None,
    )


def await_image(
    image_id: str,
    wait: float,
    *,
    describe: Callable[[str], ImageView | None],
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> ImageView | None:
    """The image as soon as it is settled (``SETTLED``), or as it is after ``wait`` seconds.

    It is read again after 0.2 s, then at twice the pause each time, at most 1 s apart."""
    deadline = clock() + wait
    delay = FIRST_POLL_SECONDS
    while True:
        image = describe(image_id)
        left = deadline - clock()
        if image is None or ImageStatus(image.status) in SETTLED or left <= 0:
            return image
        pause(min(delay, left))
        delay = min(delay * 2, MAX_POLL_SECONDS)


def image_trace(image_id: str, *, images: ImageLog, stall_timeout: timedelta) -> TraceView | None:
    """Every event of the image in order, each tied to the request it answers; None if unknown."""
    events = images.events(image_id)
    if not events and images.get_image(image_id) is None:
        return None
    state = derive_state(events, stall_timeout)
    edits = [str(e.data["editId"]) for e in events if e.type is EventType.EDIT_REQUESTED]
    return TraceView(
        image_id=image_id,
        status=state.status.value,
        events=[entry.to_dict() for entry in trace(events)],
        expected={req.value: sorted(r.value for r in resp) for req, resp in PAIRINGS.items()},
        missing=[m.value for m in state.missing],
        # each edit's own status; its events are in "events", answering its EditRequested
        edits={
            edit: found.status.value for edit in edits if (found := edit_state(events, edit, stall_timeout)) is not None
        },
    )


def _summary(record: ImageRecord, images: ImageLog, stall_timeout: timedelta) -> ImageSummary:
    state = derive_state(images.events(record.image_id), stall_timeout)
    return ImageSummary(
        image_id=record.image_id,
        status=state.status.value,
        filename=record.filename,
        upload_key=record.upload_key,
        origin=record.origin,
        created_at=record.created_at.isoformat(),
        status_url=image_link(record.image_id),
    )


def list_images(
    *, limit: int, cursor: str | None, key: str | None, images: ImageLog, stall_timeout: timedelta
) -> ImagePage:
    """Images newest first, a page at a time; or, with ``key``, the image of that object key.

    Raises InvalidInput for a key outside ``uploads/`` or a cursor this API did not issue.
    """
    if key is not None:
        if not is_upload_key(key):
            raise InvalidInput([FieldProblem("key", f"key must name an object under uploads/, got {key[:80]!r}")])
        record = images.get_image(image_id_for_key(key))
        found = [record] if record is not None else []
        return ImagePage(images=[_summary(r, images, stall_timeout) for r in found], next_cursor=None)
    try:
        page = images.list_images(limit=limit, cursor=cursor)
    except ValueError as exc:  # the port's word for a cursor it did not issue
        raise InvalidInput([FieldProblem("cursor", str(exc))]) from exc
    return ImagePage(images=[_summary(r, images, stall_timeout) for r in page.images], next_cursor=page.cursor)


class ImageNotFound(LookupError):
    """No image has this id."""


class NoProcessedSource(ValueError):
    """The image has no processed upload to edit (yet, or any more)."""


class WithheldByModeration(NoProcessedSource):
    """Moderation flagged the image's upload: nothing is made of it."""


def _upright_size(state: ImageState) -> tuple[int, int] | None:
    """The current upload's upright size, as its analysis measured it (None before that)."""
    analyzed = state.responses().get(EventType.IMAGE_ANALYZED)
    analysis = analyzed.data.get("analysis") if analyzed else None
    if not isinstance(analysis, dict) or not all(isinstance(analysis.get(s), int) for s in ("width", "height")):
        return None
    return (analysis["width"], analysis["height"])


def request_edit(
    image_id: str,
    request: EditRequest,
    *,
    images: ImageLog,
    starter: EditStarter,
    publisher: EventPublisher,
    stall_timeout: timedelta,
    now: datetime,
) -> EditAccepted:
    """Record an edit of the image's current upload and start its workflow.

    The same body for the same upload is the same edit: asking again records nothing new and
    starts nothing new. Raises ImageNotFound, NoProcessedSource, and InvalidEditRequest for a
    crop the image cannot give (its size is known from its analysis).
    """
    events = images.events(image_id)
    if not events and images.get_image(image_id) is None:
        raise ImageNotFound(image_id)
    state = derive_state(events, stall_timeout)
    moderation = moderated(state, events)
    if moderation.withheld == WITHHELD_FLAGGED:
        raise WithheldByModeration(f"image {image_id} was withheld by moderation: it cannot be edited")
    uploaded = state.current.request if state.current else None
    if state.status is not ImageStatus.COMPLETE or uploaded is None or not uploaded.data.get("etag"):
        raise NoProcessedSource(f"image {image_id} has no processed upload to edit (it is {state.status.value})")
    size = _upright_size(state)
    if size is not None and (problem := request.unmet(size)) is not None:
        raise InvalidEditRequest([problem])
    source = EditSource(bucket=uploaded.data["bucket"], key=uploaded.data["key"], etag=uploaded.data["etag"])
    # a content-aware crop is placed around the faces recognition found, when its backend finds faces
    faces = moderation.faces() if any(op.crop and op.crop.mode == "content" for op in request.operations) else None
    requested = edit_requested(
        image_id, source, request, producer=API_PRODUCER, now=now, causation_id=uploaded.event_id, faces=faces
    )
    images.append(requested)  # False on a repeat: the first request stands
    publisher.publish([requested])  # again on a repeat: the bus's copy may be what failed last time
    recorded = images.events(image_id)  # with the request: the edit is awaited now
    images.set_deadline(image_id, next_deadline(recorded, stall_timeout), seen=len(recorded))
    starter.start(EditWorkflowInput.from_requested(requested))  # named by the edit id: at most once
    edit = str(requested.data["editId"])
    return EditAccepted(image_id=image_id, edit_id=edit, status_url=edit_link(edit))


def describe_edit(
    image_id: str, edit: str, *, images: ImageLog, downloads: Downloads, stall_timeout: timedelta
) -> EditView | None:
    """One edit: its status, what was asked, its output (with a download link) or why not; None if
    the image has no such edit."""
    state = edit_state(images.events(image_id), edit, stall_timeout)
    if state is None:
        return None
    asked = state.requested.data
    output = dict(state.answer.data["output"]) if state.answer and "output" in state.answer.data else None
    if output is not None:
        output["url"] = downloads.url(output["key"])
    return EditView(
        image_id=image_id,
        edit_id=edit,
        status=state.status.value,
        operations=asked.get("operations"),
        format=asked.get("format"),
        source=asked.get("source"),
        requested_at=state.requested.occurred_at.isoformat(),
        output=output,
        steps=state.answer.data.get("steps") if state.answer else None,
        reason=state.reason,
        reason_code=state.reason_code,
    )
